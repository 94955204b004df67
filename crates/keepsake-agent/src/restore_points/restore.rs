//! Restoring: the plan (what a restore would do, for the wizard), the restore job, resetting
//! Immich to empty, and undoing a reset.
//!
//! Every restore and reset first makes a pre-restore (pre-reset) point, so it can itself be
//! undone. Then Immich's server is stopped (recorded as an intent, so a restarted agent starts it
//! again), the database is loaded into a scratch database and checked before the swap, the
//! library is made the same as the point's snapshot through a read-only clone, and the server is
//! started again, whatever happened.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use keepsake_api::{JobResult, RestorePlan, RestorePointKind, RestoreReport, RestoreRequest, RestoreScope, TableRows};

use super::create::{fail, make_point};
use super::listing::{self, Source};
use super::sync::{self, Hooks, SyncStats};
use super::{CONFIRM_RESTORE, Inner, RestoreError, database, zfs};
use crate::jobs::{JobContext, Outcome};
use crate::store::InstanceResetRow;

/// Checks a file path of a `files` restore: relative, no `.`/`..`, no empty segment.
fn check_path(p: &str) -> Result<PathBuf, RestoreError> {
    let bad = |why| Err(RestoreError::BadPath { path: p.to_owned(), why });
    if p.is_empty() || p.starts_with('/') {
        return bad("give a path inside the library, without a leading /");
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return bad("`.`, `..` and empty parts are not allowed");
    }
    let path = PathBuf::from(p);
    debug_assert!(path.components().all(|c| matches!(c, Component::Normal(_))));
    Ok(path)
}

pub async fn plan(inner: &Inner, id: &str, r: &RestoreRequest) -> Result<RestorePlan, RestoreError> {
    inner.layout()?;
    let (point, source) = listing::source(inner, id).await?;
    if !point.scopes.contains(&r.scope) {
        return Err(RestoreError::Refused(format!(
            "{id} cannot restore {:?}; it can restore: {}",
            r.scope,
            point.scopes.iter().map(|s| format!("{s:?}").to_lowercase()).collect::<Vec<_>>().join(", ")
        )));
    }
    match r.scope {
        RestoreScope::Files if r.paths.is_empty() => {
            return Err(RestoreError::Refused("choose at least one file or folder to restore".into()));
        }
        RestoreScope::Files => {
            for p in &r.paths {
                check_path(p)?;
            }
        }
        _ if !r.paths.is_empty() => {
            return Err(RestoreError::Refused("paths are only for a restore of chosen files".into()));
        }
        _ => {}
    }
    let when = point.created_at.format("%Y-%m-%d %H:%M UTC");
    let mut impact = Vec::new();
    let mut warnings = Vec::new();
    let db = matches!(r.scope, RestoreScope::Database | RestoreScope::Instance);
    let lib = matches!(r.scope, RestoreScope::Library | RestoreScope::Instance);
    if db {
        impact.push(format!(
            "Immich's database (accounts, albums, people, sharing, settings) is replaced by the one from {when}; changes made since are undone."
        ));
    }
    if lib {
        impact.push(format!(
            "Every photo and video file is put back as it was on {when}: files added since are removed, changed or deleted ones come back."
        ));
    }
    if r.scope == RestoreScope::Files {
        impact.push(format!(
            "{} chosen file(s) or folder(s) are put back as they were on {when}; nothing else is touched.",
            r.paths.len()
        ));
    }
    if r.scope == RestoreScope::Database {
        warnings.push(
            "Only the database is restored: photos uploaded since stay on disk but Immich forgets them, and photos deleted since are missing. Restore the whole instance to keep both in step.".into(),
        );
    }
    if r.scope == RestoreScope::Library {
        warnings.push("Only the files are restored: the database is left as it is now, so albums and photos may not match the files. Restore the whole instance to keep both in step.".into());
    }
    match &source {
        Source::Sanoid { .. } => warnings.push(
            "This is one of Sanoid's routine snapshots: its database files are restored as they were on disk (Immich's database is stopped meanwhile).".into(),
        ),
        Source::Immich { .. } => warnings.push("This dump was written by Immich itself; Keepsake has no checksum of it.".into()),
        Source::Keepsake(_) => {}
    }
    if let (Some(then), Some(now)) = (&point.immich_version, inner.stack.immich_version().await)
        && then != &now
    {
        warnings.push(format!(
            "This point is from Immich {then}; Immich {now} runs now. Immich upgrades an older database when it starts, but cannot go back to an older version: restore to the version this point came from if Immich fails to start."
        ));
    }
    impact.push("A pre-restore point is made first, so this restore can be undone.".into());
    impact.push("Immich is stopped while the restore runs and started again afterwards.".into());
    Ok(RestorePlan {
        point_id: id.to_owned(),
        scope: r.scope,
        impact,
        warnings,
        makes_pre_restore_point: true,
        stops_immich: true,
        size: point.size,
        confirmation: CONFIRM_RESTORE.into(),
    })
}

/// What a restore did, added up.
#[derive(Default)]
struct Done {
    tables: Vec<TableRows>,
    files: SyncStats,
}

pub async fn run(inner: &Arc<Inner>, ctx: &JobContext, id: &str, r: &RestoreRequest) -> Outcome {
    let report = restore(inner, ctx, id, r.scope, &r.paths).await.map_err(|e| fail(ctx, e))?;
    Ok(Some(JobResult::Restored(report)))
}

async fn restore(
    inner: &Arc<Inner>,
    ctx: &JobContext,
    id: &str,
    scope: RestoreScope,
    paths: &[String],
) -> Result<RestoreReport, RestoreError> {
    let paths: Vec<PathBuf> = paths.iter().map(|p| check_path(p)).collect::<Result<_, _>>()?;
    let (_, source) = listing::source(inner, id).await?;
    // A damaged dump must fail here, before anything is stopped or replaced.
    if let Source::Keepsake(row) = &source {
        ctx.progress(0, None, "steps", "checking the restore point");
        let dir = inner.config.points_dir.join(&row.id);
        super::create::verify_parts(inner.layout()?, &dir, &row.parts).await?;
        ctx.info(format!("every part of {id} passed its check"));
    }
    ctx.progress(0, None, "steps", "making a pre-restore point");
    let note = Some(format!("before restoring {id}"));
    let pre = make_point(inner, ctx, RestorePointKind::PreRestore, note).await?;
    ctx.info(format!("pre-restore point {} made: restore it to undo this", pre.id));
    ctx.checkpoint("pre-restore point made", &serde_json::json!({ "pre": pre.id }))
        .map_err(|_| RestoreError::Sync(sync::SyncError::Cancelled))?;

    let done = with_server_stopped(inner, ctx, "restore", || replace(inner, ctx, &source, scope, &paths)).await?;
    ctx.info("Immich is running again");
    Ok(RestoreReport {
        point_id: id.to_owned(),
        scope,
        pre_point_id: pre.id,
        tables: done.tables,
        files_written: done.files.files_written,
        files_removed: done.files.files_removed,
        bytes_copied: done.files.bytes_copied,
    })
}

/// Runs `work` with Immich's server stopped, recorded as an intent so a crash is repaired at the
/// next start; the server is started again whether `work` succeeded or not.
pub(crate) async fn with_server_stopped<F, Fut, T>(
    inner: &Inner,
    ctx: &JobContext,
    what: &str,
    work: F,
) -> Result<T, RestoreError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, RestoreError>>,
{
    inner.store.set_intent(ctx.id(), what, "server_stopped")?;
    ctx.progress(0, None, "steps", "stopping Immich");
    let out = match inner.stack.stop_server().await {
        Ok(()) => work().await,
        Err(e) => Err(e.into()),
    };
    ctx.progress(0, None, "steps", "starting Immich");
    let started = inner.stack.start_server().await;
    inner.store.clear_intent(ctx.id())?;
    let out = out?;
    started?;
    Ok(out)
}

async fn replace(
    inner: &Arc<Inner>,
    ctx: &JobContext,
    source: &Source,
    scope: RestoreScope,
    paths: &[PathBuf],
) -> Result<Done, RestoreError> {
    let layout = inner.layout()?.clone();
    let mut done = Done::default();
    let db = matches!(scope, RestoreScope::Database | RestoreScope::Instance);
    let lib = matches!(scope, RestoreScope::Library | RestoreScope::Instance | RestoreScope::Files);
    if db {
        match source {
            Source::Keepsake(row) => {
                let dump = row
                    .parts
                    .iter()
                    .find(|p| p.kind == keepsake_api::RestorePartKind::Database)
                    .ok_or_else(|| RestoreError::Refused(format!("{} has no database dump", row.id)))?;
                let path = inner.config.points_dir.join(&row.id).join(&dump.name);
                done.tables = load_and_swap(inner, ctx, &path, dump.size).await?;
            }
            Source::Immich { path } => {
                let size = tokio::fs::metadata(path).await.map(|m| m.len()).unwrap_or(0);
                done.tables = load_and_swap(inner, ctx, path, size).await?;
            }
            Source::Sanoid { name, postgres: true, .. } => {
                let pg = zfs::mountpoint(&layout.postgres).await?;
                ctx.progress(0, None, "steps", "stopping the database");
                inner.stack.stop_database().await?;
                let copied = from_clone(inner, ctx, &format!("{}@{name}", layout.postgres), &pg, None).await;
                ctx.progress(0, None, "steps", "starting the database");
                let started = inner.stack.start_database().await;
                done.files = copied?;
                started?;
            }
            Source::Sanoid { .. } => return Err(RestoreError::Refused("this snapshot has no database files".into())),
        }
    }
    if lib {
        let snap = match source {
            Source::Keepsake(row) => format!("{}@{}", layout.library, row.id),
            Source::Sanoid { name, library: true, .. } => format!("{}@{name}", layout.library),
            _ => return Err(RestoreError::Refused("this point has no library snapshot".into())),
        };
        let live = zfs::mountpoint(&layout.library).await?;
        let only = (scope == RestoreScope::Files).then_some(paths);
        let stats = from_clone(inner, ctx, &snap, &live, only).await?;
        done.files.files_written += stats.files_written;
        done.files.files_removed += stats.files_removed;
        done.files.bytes_copied += stats.bytes_copied;
        ctx.info(format!(
            "library: {} files written ({}), {} removed",
            stats.files_written,
            crate::host::storage::human(stats.bytes_copied),
            stats.files_removed
        ));
    }
    Ok(done)
}

/// Loads a dump into a scratch database, checks every table's rows, and swaps it in.
pub(crate) async fn load_and_swap(
    inner: &Inner,
    ctx: &JobContext,
    dump: &Path,
    size: u64,
) -> Result<Vec<TableRows>, RestoreError> {
    let docker = inner.stack.docker().await?;
    let db = inner.stack.database().clone();
    let scratch = format!("{}restore_{}", database::SCRATCH_PREFIX, ctx.id());
    let old = format!("{}before_{}", database::SCRATCH_PREFIX, ctx.id());
    database::drop_database(&docker, &db, &scratch).await?;
    database::create_database(&docker, &db, &scratch).await?;
    let p = ctx.clone();
    ctx.progress(0, Some(size), "bytes", "loading the database");
    let loaded = database::load(&docker, &db, &scratch, dump, move |n| {
        p.progress(n, Some(size), "bytes", "loading the database")
    })
    .await;
    let expected = match loaded {
        Ok(c) => c,
        Err(e) => {
            let _ = database::drop_database(&docker, &db, &scratch).await;
            return Err(e.into());
        }
    };
    let tables: Vec<String> = expected.keys().cloned().collect();
    let found = database::count_rows(&docker, &db, &scratch, &tables).await?;
    if let Err(e) = database::check_counts(&expected, &found) {
        let _ = database::drop_database(&docker, &db, &scratch).await;
        return Err(e.into());
    }
    ctx.info(format!(
        "the dump loaded: {} tables, {} rows, every count matches",
        found.len(),
        found.iter().map(|t| t.rows).sum::<u64>()
    ));
    ctx.point_of_no_return("replacing Immich's database")
        .map_err(|_| RestoreError::Sync(sync::SyncError::Cancelled))?;
    inner.store.set_intent(ctx.id(), "restore", "swapping")?;
    database::swap(&docker, &db, &scratch, &old).await?;
    inner.store.set_intent(ctx.id(), "restore", "server_stopped")?;
    database::drop_database(&docker, &db, &old).await?;
    ctx.info("the restored database is now Immich's");
    Ok(found)
}

/// Clones `snapshot` read-only, makes `live` (or only `paths` in it) the same as the clone, and
/// destroys the clone.
async fn from_clone(
    inner: &Inner,
    ctx: &JobContext,
    snapshot: &str,
    live: &Path,
    paths: Option<&[PathBuf]>,
) -> Result<SyncStats, RestoreError> {
    let layout = inner.layout()?;
    let clone = format!("{}/{}{}", layout.pool, recover_clone_prefix(), ctx.id());
    let mount = inner.config.points_dir.join(format!(".clone-{}", ctx.id()));
    zfs::destroy_dataset(&clone).await?;
    zfs::clone(snapshot, &clone, &mount).await?;
    // Files changed around the snapshot's time get a content check (see sync::Hooks).
    let taken = zfs::entries(&layout.root).await.ok().and_then(|e| e.get(snapshot).and_then(|s| s.created));
    let verify_from = taken.map(|t| std::time::SystemTime::from(t) - std::time::Duration::from_secs(2));
    let (src, dst, paths) = (mount.clone(), live.to_owned(), paths.map(<[PathBuf]>::to_vec));
    let (p, c) = (ctx.clone(), ctx.clone());
    ctx.point_of_no_return("replacing the library's files")
        .map_err(|_| RestoreError::Sync(sync::SyncError::Cancelled))?;
    let result = tokio::task::spawn_blocking(move || {
        let progress = move |n: u64| p.progress(n, None, "bytes", "restoring files");
        let cancelled = move || c.is_cancelled();
        let hooks = Hooks { progress: &progress, cancelled: &cancelled, verify_from };
        match paths {
            Some(paths) => sync::restore_paths(&src, &dst, &paths, &hooks),
            None => sync::mirror(&src, &dst, &hooks),
        }
    })
    .await
    .map_err(|e| RestoreError::Refused(format!("the file copy stopped: {e}")))?;
    if let Err(e) = zfs::destroy_dataset(&clone).await {
        ctx.warn(format!("could not remove the clone {clone}: {e}; it is removed at next start"));
    }
    let _ = tokio::fs::remove_dir(&mount).await;
    Ok(result?)
}

/// A folder of a point's library snapshot: cloned read-only under a name of its own, read, and
/// the clone destroyed (a crash leaves it to `recover.rs`, which removes every such clone).
pub async fn browse(inner: &Inner, id: &str, path: &str) -> Result<keepsake_api::RestoreFileList, RestoreError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let layout = inner.layout()?;
    let rel = if path.is_empty() { PathBuf::new() } else { check_path(path)? };
    let (_, source) = listing::source(inner, id).await?;
    let snap = match &source {
        Source::Keepsake(row) => format!("{}@{}", layout.library, row.id),
        Source::Sanoid { name, library: true, .. } => format!("{}@{name}", layout.library),
        _ => return Err(RestoreError::Refused(format!("{id} has no library snapshot to browse"))),
    };
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = format!("browse-{}-{n}", std::process::id());
    let clone = format!("{}/{}{tag}", layout.pool, recover_clone_prefix());
    let mount = inner.config.points_dir.join(format!(".clone-{tag}"));
    zfs::clone(&snap, &clone, &mount).await?;
    let dir = mount.join(&rel);
    let listed = tokio::task::spawn_blocking(move || list_dir(&dir)).await;
    if let Err(e) = zfs::destroy_dataset(&clone).await {
        tracing::warn!(clone, error = %e, "could not remove a browsing clone; it is removed at next start");
    }
    let _ = tokio::fs::remove_dir(&mount).await;
    let (entries, truncated) = listed
        .map_err(|e| RestoreError::Refused(format!("listing stopped: {e}")))?
        .map_err(|_| RestoreError::NotFound(format!("{path:?} in {id} (no such folder)")))?;
    Ok(keepsake_api::RestoreFileList { point_id: id.to_owned(), path: path.to_owned(), entries, truncated })
}

fn list_dir(dir: &Path) -> std::io::Result<(Vec<keepsake_api::RestoreFileEntry>, bool)> {
    let mut entries = Vec::new();
    let mut truncated = false;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if entries.len() >= keepsake_api::limits::RESTORE_LIST_MAX {
            truncated = true;
            break;
        }
        let meta = e.metadata()?;
        entries.push(keepsake_api::RestoreFileEntry {
            name: e.file_name().to_string_lossy().into_owned(),
            dir: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { meta.len() },
        });
    }
    entries.sort_by(|a, b| b.dir.cmp(&a.dir).then(a.name.cmp(&b.name)));
    Ok((entries, truncated))
}

pub(super) fn recover_clone_prefix() -> &'static str {
    "keepsake-clone-"
}

/// Empties Immich (database and library) after a pre-reset point.
pub async fn reset(inner: &Arc<Inner>, ctx: &JobContext) -> Outcome {
    let r = async {
        let layout = inner.layout()?.clone();
        ctx.progress(0, None, "steps", "making a pre-reset point");
        let pre = make_point(inner, ctx, RestorePointKind::PreReset, Some("before the reset".into())).await?;
        ctx.info(format!("pre-reset point {} made: undo the reset to bring everything back", pre.id));
        ctx.checkpoint("pre-reset point made", &serde_json::json!({ "pre": pre.id }))
            .map_err(|_| RestoreError::Sync(sync::SyncError::Cancelled))?;
        let removed = with_server_stopped(inner, ctx, "reset", || async {
            let docker = inner.stack.docker().await?;
            let db = inner.stack.database().clone();
            let (empty, old) = (format!("keepsake_restore_{}", ctx.id()), format!("keepsake_before_{}", ctx.id()));
            database::drop_database(&docker, &db, &empty).await?;
            database::create_database(&docker, &db, &empty).await?;
            ctx.point_of_no_return("emptying Immich").map_err(|_| RestoreError::Sync(sync::SyncError::Cancelled))?;
            inner.store.set_intent(ctx.id(), "reset", "swapping")?;
            database::swap(&docker, &db, &empty, &old).await?;
            inner.store.set_intent(ctx.id(), "reset", "server_stopped")?;
            database::drop_database(&docker, &db, &old).await?;
            let live = zfs::mountpoint(&layout.library).await?;
            let removed = tokio::task::spawn_blocking(move || sync::empty_dir(&live))
                .await
                .map_err(|e| RestoreError::Refused(format!("emptying the library stopped: {e}")))??;
            Ok(removed)
        })
        .await?;
        inner.store.record_reset(ctx.id(), &pre.id)?;
        ctx.info(format!(
            "Immich is empty: the database was replaced by an empty one and {removed} files were removed"
        ));
        Ok::<_, RestoreError>(RestoreReport {
            point_id: pre.id.clone(),
            scope: RestoreScope::Instance,
            pre_point_id: pre.id,
            tables: Vec::new(),
            files_written: 0,
            files_removed: removed,
            bytes_copied: 0,
        })
    }
    .await
    .map_err(|e| fail(ctx, e))?;
    Ok(Some(JobResult::Reset(r)))
}

/// Restores the whole instance from the pre-reset point.
pub async fn undo_reset(inner: &Arc<Inner>, ctx: &JobContext, open: InstanceResetRow) -> Outcome {
    let report = restore(inner, ctx, &open.point_id, RestoreScope::Instance, &[]).await.map_err(|e| fail(ctx, e))?;
    inner.store.mark_reset_undone(open.job_id).map_err(|e| fail(ctx, e.into()))?;
    Ok(Some(JobResult::ResetUndone(report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_must_stay_inside_the_library() {
        assert!(check_path("upload/a/IMG_1.jpg").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/."] {
            assert!(matches!(check_path(bad), Err(RestoreError::BadPath { .. })), "{bad}");
        }
    }
}
