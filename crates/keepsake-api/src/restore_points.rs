//! Wire types of restore points: the timeline (Keepsake's own points, Sanoid's routine snapshots
//! and Immich's own database dumps side by side), creating, pinning and deleting a point, the
//! restore wizard (a plan with its impact first, then the restore itself with a typed
//! confirmation), resetting the instance and undoing that, retention settings, and restore drills.
//!
//! A point's `id` is opaque to callers: `kp-…` for Keepsake's own, `sanoid:…` and `immich:…` for
//! the read-only ones listed beside them.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits::{
    NO_CONTROL_PATTERN, RESTORE_FOLDER_PATTERN, RESTORE_NOTE_MAX_CHARS, RESTORE_PATH_MAX, RESTORE_PATH_PATTERN,
    RESTORE_PATHS_MAX, RETENTION_COUNT_MAX, RETENTION_WITHIN_DAYS_MAX,
};

/// Why a point was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestorePointKind {
    /// By the daily schedule; thinned out by the retention policy.
    Scheduled,
    /// By someone pressing "create now"; kept until deleted.
    Manual,
    /// Before an Immich update; kept for the safety period.
    PreUpdate,
    /// Before a restore, so the restore itself can be undone; kept for the safety period.
    PreRestore,
    /// Before the instance was reset, so the reset can be undone; kept for the safety period.
    PreReset,
}

impl RestorePointKind {
    pub const ALL: [RestorePointKind; 5] = [
        RestorePointKind::Scheduled,
        RestorePointKind::Manual,
        RestorePointKind::PreUpdate,
        RestorePointKind::PreRestore,
        RestorePointKind::PreReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RestorePointKind::Scheduled => "scheduled",
            RestorePointKind::Manual => "manual",
            RestorePointKind::PreUpdate => "pre_update",
            RestorePointKind::PreRestore => "pre_restore",
            RestorePointKind::PreReset => "pre_reset",
        }
    }

    pub fn parse(s: &str) -> Option<RestorePointKind> {
        RestorePointKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who made a point, and so what can be done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestorePointSource {
    /// Keepsake's own: a database dump, snapshots of the library and database folders, and the
    /// configuration, made together.
    Keepsake,
    /// A routine snapshot Sanoid took of one dataset (read-only here: Sanoid's own retention
    /// removes it).
    Sanoid,
    /// A database dump Immich wrote into its `backups` folder (read-only here).
    Immich,
}

/// Where a point is in its life. Only `complete` points can be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestorePointState {
    /// Being made: not usable yet.
    Creating,
    /// Every part written and verified.
    Complete,
}

/// What a part of a point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestorePartKind {
    /// The compressed database dump.
    Database,
    /// A ZFS snapshot of a dataset (the library or the database's files).
    Snapshot,
    /// A configuration file (options.nix, the agent's settings, Immich's system configuration).
    Config,
}

/// One part of a point, as its manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestorePart {
    pub kind: RestorePartKind,
    /// A file name inside the point, or `dataset@snapshot`.
    pub name: String,
    /// Bytes: a file's size; for a snapshot, the data it refers to.
    pub size: u64,
    /// BLAKE3 of a file's bytes (hex); for a snapshot, ZFS's own GUID of it (ZFS checksums the data
    /// itself).
    pub checksum: String,
}

/// What a restore brings back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestoreScope {
    /// The database only, from the point's dump: albums, people, users, settings, but no files.
    Database,
    /// Every photo and video file, as it was: files added since are removed, changed or deleted
    /// ones come back.
    Library,
    /// Chosen files or folders of the library only; nothing else is touched.
    Files,
    /// Database and library together, from the same point: Immich exactly as it was.
    Instance,
}

/// A restore point as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestorePoint {
    pub id: String,
    pub source: RestorePointSource,
    /// Only for Keepsake's own points.
    pub kind: Option<RestorePointKind>,
    pub state: RestorePointState,
    pub created_at: DateTime<Utc>,
    /// The note given when it was made.
    pub note: Option<String>,
    pub pinned: bool,
    /// The Immich version the data belongs to (from the dump's name), when known.
    pub immich_version: Option<String>,
    /// The PostgreSQL version the dump came from, when known.
    pub postgres_version: Option<String>,
    /// Bytes of every part together.
    pub size: u64,
    pub parts: Vec<RestorePart>,
    /// What this point can restore.
    pub scopes: Vec<RestoreScope>,
    /// Why retention keeps it (`pinned`, `last`, `daily`, `weekly`, `manual`, `safety`...), in the
    /// policy's words; empty for read-only points, whose own tool decides.
    pub kept_because: Vec<String>,
    /// When a safety point (pre-update, pre-restore, pre-reset) is due to expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Sanoid's and Immich's points cannot be pinned or deleted here.
    pub read_only: bool,
}

/// The last restore drill: the latest dump loaded into a throwaway database and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DrillStatus {
    pub job_id: i64,
    pub point_id: String,
    pub finished_at: DateTime<Utc>,
    pub ok: bool,
    /// What was checked, or why it failed.
    pub detail: String,
    pub tables: Vec<TableRows>,
    /// When the next scheduled drill is due.
    pub next_due: Option<DateTime<Utc>>,
}

/// Rows found in one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TableRows {
    pub table: String,
    pub rows: u64,
}

/// A reset that can still be undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UndoReset {
    /// The pre-reset point that undoing restores.
    pub point_id: String,
    pub reset_at: DateTime<Utc>,
    /// Undo is possible until this point expires (unless it is pinned).
    pub until: Option<DateTime<Utc>>,
}

/// `GET /api/v1/restore-points`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestorePointList {
    /// Newest first, every source together.
    pub points: Vec<RestorePoint>,
    pub drill: Option<DrillStatus>,
    pub undo_reset: Option<UndoReset>,
    /// Problems listing a source (Sanoid's snapshots, Immich's folder), in words; the rest is shown.
    pub warnings: Vec<String>,
}

/// `POST /api/v1/restore-points`: make a point now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestorePointCreate {
    /// A note to find it again by ("before tidying the albums").
    #[schemars(length(max = RESTORE_NOTE_MAX_CHARS), regex(pattern = NO_CONTROL_PATTERN))]
    #[serde(default)]
    pub note: Option<String>,
}

/// `PUT /api/v1/restore-points/{id}/pin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestorePointPin {
    /// A pinned point is never removed by retention.
    pub pinned: bool,
}

/// `POST /api/v1/restore-points/{id}/plan` and, with `confirm`, `…/restore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    pub scope: RestoreScope,
    /// For `files`: paths inside the library (`upload/…/IMG_1.jpg`, or a folder), relative, no `..`.
    #[serde(default)]
    #[schemars(length(max = RESTORE_PATHS_MAX), inner(length(min = 1, max = RESTORE_PATH_MAX), regex(pattern = RESTORE_PATH_PATTERN)))]
    pub paths: Vec<String>,
    /// The plan's `confirmation` phrase, typed by the person; required to restore, ignored by the
    /// plan.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub confirm: Option<String>,
}

/// What a restore would do, for the wizard's impact summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestorePlan {
    pub point_id: String,
    pub scope: RestoreScope,
    /// Sentences, in order: what is replaced, what is kept, what stops for how long.
    pub impact: Vec<String>,
    /// Anything the person should know first (an older Immich version, a point from Sanoid).
    pub warnings: Vec<String>,
    /// A pre-restore point is always made first, so the restore can be undone.
    pub makes_pre_restore_point: bool,
    /// Immich is stopped while the restore runs.
    pub stops_immich: bool,
    /// Bytes the restore reads.
    pub size: u64,
    /// The phrase to type to confirm.
    pub confirmation: String,
}

/// `POST /api/v1/instance/reset` and `…/reset/undo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The phrase to type: `reset everything` to reset, `undo reset` to undo.
    #[schemars(length(max = 64))]
    pub confirm: String,
}

/// Retention of Keepsake's own points. Scheduled points are thinned restic-style (the newest point
/// of each hour, day, week, month and year, over the last N such periods that have a point; the
/// rules add up). Manual points stay until deleted; safety points (pre-update, pre-restore,
/// pre-reset) stay `safety_days`. Pinned points always stay. Pruning runs only after a point was
/// made successfully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    #[schemars(range(max = RETENTION_COUNT_MAX))]
    pub keep_last: u32,
    #[schemars(range(max = RETENTION_COUNT_MAX))]
    pub keep_hourly: u32,
    #[schemars(range(max = RETENTION_COUNT_MAX))]
    pub keep_daily: u32,
    #[schemars(range(max = RETENTION_COUNT_MAX))]
    pub keep_weekly: u32,
    #[schemars(range(max = RETENTION_COUNT_MAX))]
    pub keep_monthly: u32,
    #[schemars(range(max = RETENTION_COUNT_MAX))]
    pub keep_yearly: u32,
    /// Days safety points are kept.
    #[schemars(range(min = 1, max = RETENTION_WITHIN_DAYS_MAX))]
    pub safety_days: u32,
}

/// `GET`/`PUT /api/v1/restore-points/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestorePointSettings {
    /// Make a scheduled point every day at this hour (the box's local time); `null`: never.
    #[schemars(range(max = 23))]
    pub daily_at_hour: Option<u8>,
    pub retention: RetentionSettings,
    /// Run a restore drill every this many days; `null`: never.
    #[schemars(range(min = 1, max = 90))]
    pub drill_every_days: Option<u16>,
}

/// The result of a `restore_point.create` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestorePointReport {
    pub point_id: String,
    pub size: u64,
    /// Points retention removed afterwards.
    pub pruned: Vec<String>,
}

/// The result of a `restore_point.restore`, `instance.reset` or `instance.undo_reset` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestoreReport {
    pub point_id: String,
    pub scope: RestoreScope,
    /// The point made first, which undoes this.
    pub pre_point_id: String,
    /// Rows counted after a database restore.
    pub tables: Vec<TableRows>,
    /// Files written, removed and bytes copied by a library restore.
    pub files_written: u64,
    pub files_removed: u64,
    pub bytes_copied: u64,
}

/// The result of a `restore_point.drill` job (also when the drill found a problem: the job then
/// fails, and this is in its log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DrillReport {
    pub point_id: String,
    pub tables: Vec<TableRows>,
    pub millis: u64,
}

/// `GET /api/v1/restore-points/{id}/files?path=`: a folder of a point's library snapshot, to choose
/// files to restore.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreFilesQuery {
    /// A folder inside the library (relative; empty or absent: the top).
    #[schemars(length(max = RESTORE_PATH_MAX), regex(pattern = RESTORE_FOLDER_PATTERN))]
    pub path: Option<String>,
}

/// One entry of a snapshot's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestoreFileEntry {
    pub name: String,
    pub dir: bool,
    /// Bytes (0 for a folder).
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RestoreFileList {
    pub point_id: String,
    pub path: String,
    /// Folders first, then files, each by name.
    pub entries: Vec<RestoreFileEntry>,
    /// More entries exist than are listed (the first [`RESTORE_LIST_MAX`](crate::limits::RESTORE_LIST_MAX)).
    pub truncated: bool,
}
