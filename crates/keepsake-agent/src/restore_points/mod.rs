//! Restore points: one consistent set of a database dump, ZFS snapshots of the library and the
//! database's files taken together, and the box's configuration, with a manifest of every part
//! (size and BLAKE3); restores from them (database, library, chosen files, or the whole
//! instance), each made undoable by a pre-restore point first; resetting Immich to empty and
//! undoing that; retention; and restore drills.
//!
//! The parts:
//! - `create.rs` makes a point (also inside other jobs: pre-update, pre-restore, pre-reset). A
//!   point is a `creating` row until every part is written and verified; only then `complete`.
//! - `restore.rs` restores, resets and undoes a reset; `drill.rs` loads the latest dump into a
//!   throwaway database and checks it.
//! - `listing.rs` lists every source side by side (Keepsake's points, Sanoid's snapshots, Immich's
//!   own dumps), and applies retention (`keepsake-retention`) after a successful point.
//! - `recover.rs` puts things back at start after a crash: removes half-made points, leftover
//!   clones and scratch databases, undoes a half-done database swap, starts Immich again.
//! - `database.rs` (PostgreSQL through `docker exec`), `zfs.rs`, `sync.rs` (a tree made the same
//!   as a snapshot's), `copy_count.rs` (rows per table as a dump streams by), `stack.rs` (the
//!   interface to the Immich stack), `schedule.rs` (the daily point and the drill).
//!
//! Datasets: `<root>/library` (Immich's UPLOAD_LOCATION), `<root>/postgres` (DB_DATA_LOCATION),
//! `<root>/state`, with `<root>` given by `--zfs-root` (`tank/keepsake`). Our snapshots are named
//! `keepsake-…`, never Sanoid's `autosnap_…`.

mod copy_count;
mod create;
pub mod database;
mod drill;
mod listing;
mod recover;
mod restore;
pub(crate) mod schedule;
pub mod stack;
pub mod sync;
pub mod zfs;

use std::path::PathBuf;
use std::sync::Arc;

use keepsake_api::{
    Job, RestorePlan, RestorePoint, RestorePointKind, RestorePointList, RestorePointSettings, RestoreRequest,
    RestoreScope, RetentionSettings,
};

pub use self::stack::{ContainerStack, DatabaseTarget, Stack};
use crate::jobs::{JobKind, JobManager, Resource};
use crate::store::{Store, StoreError};

/// Where restore points live and what they are made of.
#[derive(Debug, Clone)]
pub struct RestorePointsConfig {
    /// The dataset holding `library`, `postgres` and `state` (`tank/keepsake`); `None`: restore
    /// points are not available (no ZFS).
    pub zfs_root: Option<String>,
    /// Where dumps, configuration bundles and manifests are written (one folder per point).
    pub points_dir: PathBuf,
    /// The host's configuration files (the generated `options.nix`, the settings `options.json`),
    /// copied into each point when they exist.
    pub config_files: Vec<PathBuf>,
}

/// The datasets of one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: String,
    pub pool: String,
    pub library: String,
    pub postgres: String,
}

impl Layout {
    pub fn new(root: &str) -> Layout {
        Layout {
            root: root.to_owned(),
            pool: root.split('/').next().unwrap_or(root).to_owned(),
            library: format!("{root}/library"),
            postgres: format!("{root}/postgres"),
        }
    }
}

pub use keepsake_api::limits::{CONFIRM_RESET, CONFIRM_RESTORE, CONFIRM_UNDO_RESET};

const SETTINGS_KEY: &str = "restore_points.settings";

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "restore points are not available: the agent was started without --zfs-root (restore points need ZFS datasets for the library and the database)"
    )]
    NoZfs,
    #[error("no restore point {0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Busy(String),
    #[error("the confirmation does not match: type `{expected}` exactly to go on")]
    Confirm { expected: String },
    #[error("{path:?} cannot be restored: {why}")]
    BadPath { path: String, why: &'static str },
    #[error(transparent)]
    Zfs(#[from] zfs::ZfsError),
    #[error(transparent)]
    Db(#[from] database::DbError),
    #[error(transparent)]
    Stack(#[from] stack::StackError),
    #[error(transparent)]
    Sync(#[from] sync::SyncError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Jobs(#[from] crate::jobs::JobsError),
    #[error("the dump failed its check: {0}")]
    Corrupt(String),
}

impl RestoreError {
    /// The stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            RestoreError::NoZfs => "restore.unavailable",
            RestoreError::NotFound(_) => "restore.not_found",
            RestoreError::Refused(_) => "restore.refused",
            RestoreError::Busy(_) => "restore.busy",
            RestoreError::Confirm { .. } => "restore.confirmation",
            RestoreError::BadPath { .. } => "restore.bad_path",
            RestoreError::Corrupt(_) => "restore.corrupt",
            _ => "restore.failed",
        }
    }

    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RestoreError {
        let what = what.into();
        move |source| RestoreError::Io { what, source }
    }
}

/// What the rest of the agent holds: restore points as a subsystem.
pub struct RestorePoints {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: RestorePointsConfig,
    layout: Option<Layout>,
    store: Arc<Store>,
    jobs: Arc<JobManager>,
    stack: Arc<dyn Stack>,
}

impl RestorePoints {
    pub fn new(
        config: RestorePointsConfig,
        store: Arc<Store>,
        jobs: Arc<JobManager>,
        stack: Arc<dyn Stack>,
    ) -> RestorePoints {
        let layout = config.zfs_root.as_deref().map(Layout::new);
        RestorePoints { inner: Arc::new(Inner { config, layout, store, jobs, stack }) }
    }

    /// Puts back what a crashed agent left, then runs the schedule. Call once at start.
    pub fn start(&self) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            if inner.layout.is_some() {
                recover::run(&inner).await;
            }
            schedule::run(inner).await;
        });
    }

    pub async fn list(&self) -> Result<RestorePointList, RestoreError> {
        listing::list(&self.inner).await
    }

    pub fn submit_create(&self, kind: RestorePointKind, note: Option<String>, by: &str) -> Result<Job, RestoreError> {
        self.inner.submit_create(kind, note, by)
    }

    pub async fn set_pinned(&self, id: &str, pinned: bool) -> Result<RestorePoint, RestoreError> {
        let row = self.inner.store.point(id)?.ok_or_else(|| not_ours(id))?;
        self.inner.store.set_point_pinned(&row.id, pinned)?;
        listing::find(&self.inner, id).await
    }

    pub async fn delete(&self, id: &str) -> Result<(), RestoreError> {
        let row = self.inner.store.point(id)?.ok_or_else(|| not_ours(id))?;
        if row.pinned {
            return Err(RestoreError::Refused(format!(
                "{id} is pinned; unpin it first if you really mean to delete it"
            )));
        }
        if let Some(job) = self.inner.jobs.busy_with(&Resource::RestorePoints) {
            return Err(RestoreError::Busy(format!(
                "job #{job} is working with restore points; try again when it has finished"
            )));
        }
        self.inner.remove_point(&row.id).await
    }

    /// Lists a folder of a point's library snapshot, read through a short-lived clone.
    pub async fn files(&self, id: &str, path: &str) -> Result<keepsake_api::RestoreFileList, RestoreError> {
        restore::browse(&self.inner, id, path).await
    }

    pub async fn plan(&self, id: &str, r: &RestoreRequest) -> Result<RestorePlan, RestoreError> {
        restore::plan(&self.inner, id, r).await
    }

    pub async fn submit_restore(&self, id: &str, r: &RestoreRequest, by: &str) -> Result<Job, RestoreError> {
        let plan = restore::plan(&self.inner, id, r).await?;
        if r.confirm.as_deref() != Some(plan.confirmation.as_str()) {
            return Err(RestoreError::Confirm { expected: plan.confirmation });
        }
        let (inner, id, req) = (self.inner.clone(), id.to_owned(), r.clone());
        let kind = JobKind::Restore { point: id.clone() };
        Ok(self.inner.jobs.submit(
            kind,
            by,
            Box::new(move |ctx| Box::pin(async move { restore::run(&inner, &ctx, &id, &req).await })),
        )?)
    }

    pub fn settings(&self) -> Result<RestorePointSettings, RestoreError> {
        self.inner.settings()
    }

    pub fn set_settings(&self, s: &RestorePointSettings) -> Result<RestorePointSettings, RestoreError> {
        let policy = listing::policy(&s.retention);
        if policy.is_empty() {
            return Err(RestoreError::Refused(
                "keep at least one scheduled point (set one of the keep counts above 0)".into(),
            ));
        }
        let json = serde_json::to_string(s).map_err(|e| RestoreError::Refused(e.to_string()))?;
        self.inner.store.set_setting(SETTINGS_KEY, &json)?;
        self.inner.settings()
    }

    pub fn submit_drill(&self, by: &str) -> Result<Job, RestoreError> {
        self.inner.submit_drill(by)
    }

    pub async fn submit_reset(&self, confirm: &str, by: &str) -> Result<Job, RestoreError> {
        self.inner.layout()?;
        if confirm != CONFIRM_RESET {
            return Err(RestoreError::Confirm { expected: CONFIRM_RESET.into() });
        }
        let inner = self.inner.clone();
        Ok(self.inner.jobs.submit(
            JobKind::Reset,
            by,
            Box::new(move |ctx| Box::pin(async move { restore::reset(&inner, &ctx).await })),
        )?)
    }

    pub async fn submit_undo_reset(&self, confirm: &str, by: &str) -> Result<Job, RestoreError> {
        self.inner.layout()?;
        if confirm != CONFIRM_UNDO_RESET {
            return Err(RestoreError::Confirm { expected: CONFIRM_UNDO_RESET.into() });
        }
        let open =
            self.inner.store.open_reset()?.ok_or_else(|| RestoreError::Refused("there is no reset to undo".into()))?;
        if self.inner.store.point(&open.point_id)?.is_none_or(|p| !p.complete) {
            return Err(RestoreError::Refused(format!(
                "the pre-reset point {} is gone (it expired or was deleted), so the reset can no longer be undone",
                open.point_id
            )));
        }
        let inner = self.inner.clone();
        Ok(self.inner.jobs.submit(
            JobKind::UndoReset,
            by,
            Box::new(move |ctx| Box::pin(async move { restore::undo_reset(&inner, &ctx, open).await })),
        )?)
    }

    /// Makes a point inside another job (the stack's update makes a pre-update point this way).
    pub async fn make_point_in_job(
        &self,
        ctx: &crate::jobs::JobContext,
        kind: RestorePointKind,
        note: Option<String>,
    ) -> Result<String, RestoreError> {
        create::make_point(&self.inner, ctx, kind, note).await.map(|p| p.id)
    }

    /// Loads the database dump of Keepsake point `id` and swaps it in for Immich's database (the
    /// stack's update rolls back its migrations this way). The caller has stopped Immich's server.
    pub(crate) async fn restore_database_in_job(
        &self,
        ctx: &crate::jobs::JobContext,
        id: &str,
    ) -> Result<Vec<keepsake_api::TableRows>, RestoreError> {
        let (_, source) = listing::source(&self.inner, id).await?;
        let listing::Source::Keepsake(row) = source else {
            return Err(RestoreError::Refused(format!("{id} is not one of Keepsake's restore points")));
        };
        let dump = row
            .parts
            .iter()
            .find(|p| p.kind == keepsake_api::RestorePartKind::Database)
            .ok_or_else(|| RestoreError::Refused(format!("{id} has no database dump")))?;
        let path = self.inner.config.points_dir.join(&row.id).join(&dump.name);
        restore::load_and_swap(&self.inner, ctx, &path, dump.size).await
    }

    // What a restore from elsewhere (a backup drive, `drives::restore`) shares with a restore
    // from a point, so both keep the same guarantees (intent rows, scratch database, swap).

    /// Immich's UPLOAD_LOCATION: the library dataset's mountpoint.
    pub(crate) async fn library_dir(&self) -> Result<PathBuf, RestoreError> {
        Ok(zfs::mountpoint(&self.inner.layout()?.library).await?)
    }

    /// Where restore points keep their files; a restore from a drive stages its dump beside them.
    pub(crate) fn points_dir(&self) -> &std::path::Path {
        &self.inner.config.points_dir
    }

    /// Runs `work` with Immich's server stopped (an intent row says so, so a restarted agent
    /// starts it again); the server is started again whatever `work` returned.
    pub(crate) async fn with_server_stopped<F, Fut, T>(
        &self,
        ctx: &crate::jobs::JobContext,
        what: &str,
        work: F,
    ) -> Result<T, RestoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, RestoreError>>,
    {
        restore::with_server_stopped(&self.inner, ctx, what, work).await
    }

    /// Loads `dump` into a scratch database, checks every table's rows against the dump, and
    /// swaps it in for Immich's database (past the job's point of no return).
    pub(crate) async fn load_dump_and_swap(
        &self,
        ctx: &crate::jobs::JobContext,
        dump: &std::path::Path,
        size: u64,
    ) -> Result<Vec<keepsake_api::TableRows>, RestoreError> {
        restore::load_and_swap(&self.inner, ctx, dump, size).await
    }

    /// A restore error as a job failure (a cancel stays a cancel), logged on the job.
    pub(crate) fn job_failure(ctx: &crate::jobs::JobContext, e: RestoreError) -> crate::jobs::JobFailure {
        create::fail(ctx, e)
    }
}

fn not_ours(id: &str) -> RestoreError {
    if id.starts_with("sanoid:") || id.starts_with("immich:") {
        RestoreError::Refused(format!(
            "{id} belongs to {}; it cannot be pinned or deleted here",
            if id.starts_with("sanoid:") { "Sanoid (its own retention removes it)" } else { "Immich" }
        ))
    } else {
        RestoreError::NotFound(id.to_owned())
    }
}

impl Inner {
    fn layout(&self) -> Result<&Layout, RestoreError> {
        self.layout.as_ref().ok_or(RestoreError::NoZfs)
    }

    fn settings(&self) -> Result<RestorePointSettings, RestoreError> {
        Ok(self
            .store
            .setting(SETTINGS_KEY)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_else(default_settings))
    }

    fn submit_create(
        self: &Arc<Self>,
        kind: RestorePointKind,
        note: Option<String>,
        by: &str,
    ) -> Result<Job, RestoreError> {
        self.layout()?;
        let inner = self.clone();
        Ok(self.jobs.submit(
            JobKind::RestorePointCreate { kind },
            by,
            Box::new(move |ctx| Box::pin(async move { create::run(&inner, &ctx, kind, note).await })),
        )?)
    }

    fn submit_drill(self: &Arc<Self>, by: &str) -> Result<Job, RestoreError> {
        self.layout()?;
        let inner = self.clone();
        Ok(self.jobs.submit(
            JobKind::RestoreDrill,
            by,
            Box::new(move |ctx| Box::pin(async move { drill::run(&inner, &ctx).await })),
        )?)
    }

    /// Removes a point's snapshots, files and row.
    async fn remove_point(&self, id: &str) -> Result<(), RestoreError> {
        let layout = self.layout()?;
        zfs::destroy_snapshot_recursive(&layout.root, id).await?;
        let dir = self.config.points_dir.join(id);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RestoreError::io(format!("cannot remove {}", dir.display()))(e)),
        }
        self.store.delete_point(id)?;
        tracing::info!(point = id, "restore point removed");
        Ok(())
    }
}

/// A daily point at 03:00; the last 7 days, 4 weeks, 6 months and 2 years; safety points a month;
/// a drill every week.
pub fn default_settings() -> RestorePointSettings {
    RestorePointSettings {
        daily_at_hour: Some(3),
        retention: RetentionSettings {
            keep_last: 3,
            keep_hourly: 0,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 6,
            keep_yearly: 2,
            safety_days: 30,
        },
        drill_every_days: Some(7),
    }
}

/// The scopes a point of Keepsake's own can restore.
pub(crate) const KEEPSAKE_SCOPES: [RestoreScope; 4] =
    [RestoreScope::Instance, RestoreScope::Database, RestoreScope::Library, RestoreScope::Files];
