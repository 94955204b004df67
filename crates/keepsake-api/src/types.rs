//! The JSON shapes of the agent API. Field names are the wire names (snake_case).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// Always `"ok"` when the agent answers at all.
    pub status: String,
}

/// `GET /api/v1/status`: what the agent is and which host facilities it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Status {
    /// The agent's version (the workspace version).
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub uptime_seconds: u64,
    /// One entry per facility, in a fixed order (see [`FacilityKind::ALL`]).
    pub facilities: Vec<Facility>,
    /// When the facilities were last probed (at start, then by every host self-check).
    pub facilities_checked_at: DateTime<Utc>,
}

/// A host facility the agent depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    Docker,
    Systemd,
    Zfs,
    Udev,
    Nix,
    Storage,
}

impl FacilityKind {
    pub const ALL: [FacilityKind; 6] = [
        FacilityKind::Docker,
        FacilityKind::Systemd,
        FacilityKind::Zfs,
        FacilityKind::Udev,
        FacilityKind::Nix,
        FacilityKind::Storage,
    ];

    /// The name a person reads.
    pub fn label(self) -> &'static str {
        match self {
            FacilityKind::Docker => "Docker engine",
            FacilityKind::Systemd => "systemd (D-Bus)",
            FacilityKind::Zfs => "ZFS",
            FacilityKind::Udev => "udev (drive detection)",
            FacilityKind::Nix => "Nix",
            FacilityKind::Storage => "Free space",
        }
    }
}

/// How a facility is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FacilityState {
    /// Found and working.
    Ok,
    /// Found, but something needs attention (a degraded pool, little free space).
    Degraded,
    /// Not found or not answering.
    Missing,
}

/// What the agent knows of one facility.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Facility {
    pub kind: FacilityKind,
    /// Human name, e.g. "Docker engine".
    pub label: String,
    pub state: FacilityState,
    /// The version found, e.g. "20.10.24 (API 1.41)". `None` when missing.
    pub version: Option<String>,
    /// One sentence on what was found, or what failed and why.
    pub detail: String,
    /// What to do about it; `None` when nothing needs doing.
    pub remedy: Option<String>,
}

/// What a job produced when it succeeded, tagged by the job's kind: `kind` holds the same value as
/// [`Job::kind`] and `report` the kind's own result, e.g.
/// `{"kind": "host.self_check", "report": {"checks": [...], "problems": 0}}`. A new job kind with a
/// result adds a variant here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "report")]
pub enum JobResult {
    /// The facilities a host self-check found.
    #[serde(rename = "host.self_check")]
    SelfCheck(SelfCheckReport),
    /// A restore point was made (and retention applied).
    #[serde(rename = "restore_point.create")]
    RestorePointCreated(crate::RestorePointReport),
    /// A restore finished.
    #[serde(rename = "restore_point.restore")]
    Restored(crate::RestoreReport),
    /// The instance was reset to empty.
    #[serde(rename = "instance.reset")]
    Reset(crate::RestoreReport),
    /// A reset was undone.
    #[serde(rename = "instance.undo_reset")]
    ResetUndone(crate::RestoreReport),
    /// A restore drill loaded the latest dump and found rows.
    #[serde(rename = "restore_point.drill")]
    Drilled(crate::DrillReport),
    /// A backup to a drive finished.
    #[serde(rename = "drive.backup")]
    BackedUp(crate::BackupReport),
    /// A drive's backup was read back and checked.
    #[serde(rename = "drive.verify")]
    DriveVerified(crate::DriveVerifyReport),
    /// Files or the whole instance came back from a drive.
    #[serde(rename = "drive.restore")]
    DriveRestored(crate::DriveRestoreReport),
    /// A device was formatted to exFAT.
    #[serde(rename = "drive.format")]
    DriveFormatted(crate::DriveFormatReport),
    /// The stack was installed or converged, and every service is healthy.
    #[serde(rename = "stack.install")]
    StackInstalled(crate::StackReport),
    /// Immich was updated and answers as the new version.
    #[serde(rename = "stack.update")]
    StackUpdated(crate::StackUpdateReport),
    /// Immich went back to an earlier version with that version's database.
    #[serde(rename = "stack.rollback")]
    StackRolledBack(crate::StackRollbackReport),
    /// The whole stack was started, stopped or restarted.
    #[serde(rename = "stack.action")]
    StackActed(crate::StackActionReport),
}

/// The result of a host self-check job (`JobResult::SelfCheck`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SelfCheckReport {
    pub checks: Vec<Facility>,
    /// How many checks are not `ok`.
    pub problems: u32,
}

/// The lifecycle of a job. `queued -> running -> succeeded | failed | cancelled`; a queued job may
/// go straight to `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed | JobState::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }
}

/// How far a job has come. `total` is `None` while unknown (the UI shows an indeterminate bar).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
    /// What `done` and `total` count: "checks", "bytes", "files", ...
    pub unit: String,
    /// What the job is doing now, in words ("Checking ZFS").
    pub phase: String,
}

/// A long operation run by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Job {
    pub id: i64,
    /// Kind of work, e.g. `host.self_check`.
    pub kind: String,
    /// What the job works on, when its kind has targets (a drive, a restore point); else `None`.
    pub target: Option<String>,
    pub state: JobState,
    pub progress: Progress,
    /// Who asked for it, e.g. "root@console" or a user name.
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Set once a cancel was asked for and the job has not yet stopped.
    pub cancel_requested: bool,
    /// What it produced; set only once it succeeded, and only for kinds that produce something.
    pub result: Option<JobResult>,
    /// Set once the job passed a point after which it can no longer be cancelled (the name of the
    /// point, e.g. "switching to the new configuration"); a cancel is then refused.
    pub point_of_no_return: Option<String>,
    /// Why it failed or was cancelled, in words.
    pub error: Option<String>,
}

/// `GET /api/v1/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    pub job_id: i64,
    /// 1-based, increasing within a job.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    pub message: String,
}

/// `GET /api/v1/jobs/{id}/log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobLog {
    pub lines: Vec<LogLine>,
}

/// Every error the API returns has this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiError {
    /// Stable machine code: `not_found`, `bad_request`, `forbidden`, `conflict`, `payload_too_large`,
    /// `method_not_allowed`, `internal`, ...
    pub code: String,
    /// What failed and why, for a person.
    pub message: String,
    /// What to do about it, when there is something to do.
    pub hint: Option<String>,
}

/// Names of the server-sent events the agent emits.
pub mod event {
    /// Data: a [`super::Job`] snapshot, sent first and after every change.
    pub const JOB: &str = "job";
    /// Data: a [`super::LogLine`].
    pub const LOG: &str = "log";
    /// Data: a [`crate::ContainerLogLine`] (a container's live log).
    pub const LINE: &str = "line";
}

/// The query of `GET /api/v1/jobs`: which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// At most this many jobs (1 to 500, default 50).
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// Only jobs of this kind, e.g. `host.self_check`.
    #[schemars(length(max = 64))]
    pub kind: Option<String>,
    /// Only jobs in this state.
    pub state: Option<JobState>,
}

/// What a request that changed something did, in words (for routes with nothing else to say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Done {
    pub message: String,
}

impl Done {
    pub fn new(message: impl Into<String>) -> Done {
        Done { message: message.into() }
    }
}

/// `GET /api/v1/openapi.json`: this API described in OpenAPI 3.0. The route table generates it;
/// its parts are free-form JSON as OpenAPI defines them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OpenApiDocument {
    /// The OpenAPI version, `3.0.3`.
    pub openapi: String,
    /// Title, version and description of the API.
    pub info: serde_json::Map<String, serde_json::Value>,
    /// Every route: path, then method, then the operation.
    pub paths: serde_json::Map<String, serde_json::Value>,
    /// Schemas referenced by the operations.
    pub components: serde_json::Map<String, serde_json::Value>,
}

/// The body of a request that takes no parameters: `{}` (or nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}
