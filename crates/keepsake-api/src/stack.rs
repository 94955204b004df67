//! Wire types of the Immich stack on Docker: its services and their state, starting, stopping and
//! restarting them, and installing or reconciling the stack (jobs).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits::IMMICH_VERSION_PATTERN;

/// One service of the stack (one container).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackService {
    /// Immich's PostgreSQL (`immich_postgres`).
    Database,
    /// Valkey, Immich's job queue (`immich_redis`).
    Redis,
    /// Immich's machine learning (`immich_machine_learning`), optional.
    MachineLearning,
    /// Immich's server and web app (`immich_server`).
    Server,
}

impl StackService {
    pub const ALL: [StackService; 4] =
        [StackService::Database, StackService::Redis, StackService::MachineLearning, StackService::Server];

    pub fn as_str(self) -> &'static str {
        match self {
            StackService::Database => "database",
            StackService::Redis => "redis",
            StackService::MachineLearning => "machine_learning",
            StackService::Server => "server",
        }
    }

    pub fn parse(s: &str) -> Option<StackService> {
        StackService::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// For people: "the database", "machine learning".
    pub fn label(self) -> &'static str {
        match self {
            StackService::Database => "database",
            StackService::Redis => "job queue (Valkey)",
            StackService::MachineLearning => "machine learning",
            StackService::Server => "Immich server",
        }
    }
}

/// What the engine says a container is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    /// No such container: not installed, or removed by hand (a reconcile makes it again).
    Missing,
    Created,
    Running,
    Restarting,
    Paused,
    Exited,
    Dead,
    Removing,
}

/// The container's health check, when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainerHealth {
    Starting,
    Healthy,
    Unhealthy,
}

/// One service as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceStatus {
    pub service: StackService,
    /// The container's name.
    pub container: String,
    pub state: ContainerState,
    /// `null`: the container has no health check (or is not running).
    pub health: Option<ContainerHealth>,
    /// When the container last started (while running).
    pub started_at: Option<DateTime<Utc>>,
    /// Seconds since it started (while running).
    pub uptime_secs: Option<u64>,
    /// How often the engine restarted it after it stopped by itself.
    pub restart_count: u64,
    /// The last exit code (when not running).
    pub exit_code: Option<i64>,
    /// The kernel killed it for lack of memory (last exit).
    pub oom_killed: bool,
    /// The image Keepsake wants here (`repo:tag@digest`).
    pub image: String,
    /// The image the container runs (`repo:tag` as created), when it exists.
    pub running_image: Option<String>,
    /// The Immich version of the container (server and machine learning), from its label.
    pub version: Option<String>,
    /// Why the container differs from what Keepsake wants (changed or removed by hand, another
    /// image), `null` when it matches. A reconcile converges it.
    pub drift: Option<String>,
    /// Share of one CPU in use, in percent (while running, when the engine says).
    pub cpu_percent: Option<f64>,
    /// Bytes of memory in use (while running, when the engine says).
    pub memory_bytes: Option<u64>,
}

/// `GET /api/v1/stack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StackStatus {
    /// Keepsake has installed the stack (it may still be stopped or drifted).
    pub installed: bool,
    /// The Immich version Keepsake runs (`v3.2.2`), once installed.
    pub version: Option<String>,
    /// Every service is running, and healthy where it has a health check.
    pub healthy: bool,
    /// Machine learning is part of the stack.
    pub machine_learning: bool,
    /// Why the engine could not be asked (then `services` says `missing` for all), with what to do.
    pub engine_error: Option<String>,
    pub services: Vec<ServiceStatus>,
}

/// What to do to a service, or to the whole stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackAction {
    Start,
    Stop,
    Restart,
}

impl StackAction {
    pub fn as_str(self) -> &'static str {
        match self {
            StackAction::Start => "start",
            StackAction::Stop => "stop",
            StackAction::Restart => "restart",
        }
    }

    pub fn parse(s: &str) -> Option<StackAction> {
        [StackAction::Start, StackAction::Stop, StackAction::Restart].into_iter().find(|a| a.as_str() == s)
    }
}

/// `POST /api/v1/stack/services/{service}/action` and `POST /api/v1/stack/action` (the whole stack).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackActionRequest {
    pub action: StackAction,
}

/// `POST /api/v1/stack/install`: install the stack (pull, create, start, wait until healthy), or
/// converge an installed one to what Keepsake wants. A job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackInstallRequest {
    /// The Immich version to install (`v3.2.2`); only for a first install (an installed stack
    /// changes version by an update). Default: the version this Keepsake release pins.
    #[serde(default)]
    #[schemars(regex(pattern = IMMICH_VERSION_PATTERN))]
    pub version: Option<String>,
    /// Run machine learning (smart search, faces). Default: as now (on for a first install).
    #[serde(default)]
    pub machine_learning: Option<bool>,
}

/// The result of an install or reconcile job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackReport {
    pub version: String,
    /// Images pulled (not already present).
    pub pulled: Vec<String>,
    /// Containers created (missing) or made again (drifted), by service.
    pub created: Vec<StackService>,
    pub recreated: Vec<StackService>,
    /// Containers started (they were stopped).
    pub started: Vec<StackService>,
    /// Seconds until every service was healthy.
    pub healthy_after_secs: u64,
}

/// Which of a container's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// Which output streams to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogStreams {
    #[default]
    Both,
    Stdout,
    Stderr,
}

/// One line a container wrote, with the engine's timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerLogLine {
    pub time: DateTime<Utc>,
    pub stream: LogStream,
    pub text: String,
}

/// The query of `GET /api/v1/stack/services/{service}/logs` (and, without `until` and `tail`, of
/// its live follow).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerLogQuery {
    /// Only lines written at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only lines written before this time: the `oldest` of a page asks for the page before it.
    pub until: Option<DateTime<Utc>>,
    /// At most this many of the newest lines in the window (1 to 5000, default 200), before the
    /// filter.
    #[schemars(range(min = 1, max = 5000))]
    pub tail: Option<u32>,
    pub stream: Option<LogStreams>,
    /// Only lines containing this text (ignoring case).
    #[schemars(length(max = 200))]
    pub filter: Option<String>,
}

/// `GET /api/v1/stack/services/{service}/logs`: a page of lines, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerLogs {
    pub service: StackService,
    pub lines: Vec<ContainerLogLine>,
    /// The time of the oldest line read (filtered or not): `until` for the page before.
    pub oldest: Option<DateTime<Utc>>,
}

/// `POST /api/v1/stack/update`: update Immich (server and machine learning together) to a version,
/// as one transaction: a pre-update restore point, pull, recreate, health gate; on failure back to
/// the version before with the database as it was. A job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackUpdateRequest {
    #[schemars(regex(pattern = IMMICH_VERSION_PATTERN))]
    pub version: String,
}

/// The result of an update that went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackUpdateReport {
    pub from: String,
    pub to: String,
    /// The pre-update restore point: restoring it brings back `from` with its database.
    pub restore_point: String,
    pub pulled: Vec<String>,
    /// Seconds from starting the new version until it answered as healthy.
    pub healthy_after_secs: u64,
}

/// One Immich version this box ran, and whether it can go back to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackVersion {
    pub version: String,
    /// When the box moved away from it (`null` for the version running now).
    pub until: Option<DateTime<Utc>>,
    /// Its server and machine-learning images are still on the box (Keepsake keeps the last few).
    pub images_local: bool,
    /// The newest restore point made while it ran: a rollback loads its database from it.
    pub restore_point: Option<String>,
    /// Why a rollback to it is not possible, `null` when it is.
    pub not_possible: Option<String>,
}

/// `GET /api/v1/stack/versions`: the version running now first, then earlier ones, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackVersions {
    pub current: Option<String>,
    pub versions: Vec<StackVersion>,
}

/// `POST /api/v1/stack/rollback`: go back to an earlier version with the database of its restore
/// point (what was added since is undone; a restore point of now is made first). A job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackRollbackRequest {
    #[schemars(regex(pattern = IMMICH_VERSION_PATTERN))]
    pub version: String,
    /// Must be `roll back`: the database goes back to the restore point's.
    #[schemars(length(max = 32))]
    pub confirm: String,
}

/// The result of a manual rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackRollbackReport {
    pub from: String,
    pub to: String,
    /// The point whose database was loaded.
    pub restored_from: String,
    /// The point made just before: restoring it undoes the rollback.
    pub pre_rollback_point: String,
}

/// `GET /api/v1/stack/updates`: whether a newer Immich is available, read from the registry (the
/// image's manifest, not the image: nothing is pulled), cached for a few hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackUpdateCheck {
    pub current: Option<String>,
    /// The version this Keepsake release runs, when newer than the current one.
    pub available: Option<String>,
    /// Its server image's digest in the registry (what an update would pin).
    pub digest: Option<String>,
    /// The address (https) of Immich's release notes for it.
    pub release_notes: Option<String>,
    /// Why the update may not be taken directly (a bridge version first, a database image), with
    /// the path to take.
    pub blocked: Option<String>,
    pub checked_at: DateTime<Utc>,
    /// Why the registry could not be read (the answer is then from the cache, or has no digest).
    pub error: Option<String>,
}

/// The query of `GET /api/v1/stack/updates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackUpdateCheckQuery {
    /// Ask the registry now instead of answering from the cache.
    pub refresh: Option<bool>,
}

/// The result of a whole-stack start, stop or restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackActionReport {
    pub action: StackAction,
    /// The services it acted on, in the order it did.
    pub services: Vec<StackService>,
}
