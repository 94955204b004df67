//! Restoring from a backup drive: chosen files and folders, or the whole instance (Immich's
//! database from the drive's dump and every library folder), onto this appliance or a new one.
//! The drive need not be enrolled here: one written by another appliance restores the same way
//! (see `browse.rs` for how such a drive is found).
//!
//! Both scopes make a pre-restore point first (through `restore_points`), so a restore from a
//! drive is undone like any other: restore that point.
//! - `files`: the chosen paths are written into Immich's UPLOAD_LOCATION, each file atomically and
//!   hashed against the drive's manifest as it is read; a file already there with other content
//!   is **kept** and reported as a conflict, never overwritten. Immich keeps running.
//! - `instance`: the newest database dump in the drive's `keepsake/` folder is first copied off
//!   the drive and checked against the manifest (a damaged dump fails here, before anything is
//!   stopped). Then, with Immich's server stopped (an intent row, as for any restore), the dump is
//!   loaded into a scratch database, checked table by table and swapped in (`restore_points`'
//!   own code: killed midway, the live database and Immich are back after a restart), and each
//!   Immich folder the drive holds is made the same as on the drive: files the drive lacks are
//!   removed (they stay in the pre-restore point), every other file is written from the drive
//!   unless it already has the same content.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use keepsake_api::{
    DriveRestoreReport, DriveRestoreRequest, DriveRestoreScope, Job, JobResult, RestorePointKind,
    limits::CONFIRM_RESTORE,
};
use keepsake_mirror::{MirrorError, ProgressSink, RestoreOptions, Selection};

use super::browse::{IMMICH_SOURCES, KEEPSAKE_SOURCE, Opened};
use super::progress::run_mirror;
use super::{DriveError, Inner};
use crate::jobs::{JobContext, JobFailure, JobKind, Outcome};
use crate::restore_points::{RestoreError, RestorePoints};

/// What can go wrong reading or restoring from a drive, with stable API codes.
#[derive(Debug, thiserror::Error)]
pub enum DriveOpError {
    #[error("no drive {0} is enrolled or attached; plug it in and try again")]
    NoDrive(String),
    #[error("no {0}")]
    NotFound(String),
    #[error("the drive {0} holds no Keepsake backup (no .keepsake/manifest.v1 on it); is it the right drive?")]
    NotABackup(String),
    #[error("the confirmation does not match: type `{expected}` exactly to go on")]
    Confirm { expected: String },
    #[error("{path:?} cannot be restored: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
    #[error("the drive could not be read: {0}")]
    Mirror(#[from] MirrorError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error(transparent)]
    Jobs(#[from] crate::jobs::JobsError),
    #[error("cancelled")]
    Cancelled,
}

impl DriveOpError {
    /// The stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            DriveOpError::NoDrive(_) => "drive.not_found",
            DriveOpError::NotFound(_) => "drive.path_not_found",
            DriveOpError::NotABackup(_) => "drive.not_a_backup",
            DriveOpError::Confirm { .. } => "restore.confirmation",
            DriveOpError::BadPath { .. } => "restore.bad_path",
            DriveOpError::Refused(_) => "drive.refused",
            DriveOpError::Mirror(MirrorError::NotABackup { .. }) => "drive.not_a_backup",
            DriveOpError::Mirror(MirrorError::DriveGone { .. }) => "drive.gone",
            DriveOpError::Restore(e) => e.code(),
            DriveOpError::Drive(e) => e.code(),
            _ => "drive.failed",
        }
    }
}

/// Checks a path as the drive lists it: relative, no `.`/`..`/empty part; for a restore it must
/// be inside one of Immich's folders (Keepsake's own `keepsake/` folder is not Immich's).
pub(crate) fn check_path(p: &str, restoring: bool) -> Result<PathBuf, DriveOpError> {
    let bad = |why| Err(DriveOpError::BadPath { path: p.to_owned(), why });
    if p.is_empty() || p.starts_with('/') {
        return bad("give a path as the drive lists it, without a leading /");
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return bad("`.`, `..` and empty parts are not allowed");
    }
    let top = p.split('/').next().unwrap_or_default();
    if restoring && !IMMICH_SOURCES.contains(&top) {
        return bad("only Immich's folders (library, upload, profile, backups, thumbs, encoded-video) restore");
    }
    let path = PathBuf::from(p);
    debug_assert!(path.components().all(|c| matches!(c, Component::Normal(_))));
    Ok(path)
}

/// Checks the request, that the drive holds what it needs, and queues the `drive.restore` job.
pub(crate) async fn submit(
    d: &Arc<Inner>,
    rp: &Arc<RestorePoints>,
    uuid: &str,
    r: &DriveRestoreRequest,
    by: &str,
) -> Result<Job, DriveOpError> {
    if r.confirm != CONFIRM_RESTORE {
        return Err(DriveOpError::Confirm { expected: CONFIRM_RESTORE.into() });
    }
    match r.scope {
        DriveRestoreScope::Files if r.paths.is_empty() => {
            return Err(DriveOpError::Refused("choose at least one file or folder to restore".into()));
        }
        DriveRestoreScope::Files => {
            for p in &r.paths {
                check_path(p, true)?;
            }
        }
        DriveRestoreScope::Instance if !r.paths.is_empty() => {
            return Err(DriveOpError::Refused("paths are only for a restore of chosen files".into()));
        }
        DriveRestoreScope::Instance => {}
    }
    // Refusals that need no job: no ZFS (no pre-restore point possible), no backup, no dump.
    rp.library_dir().await?;
    let drive = super::browse::open(d, uuid).await?;
    let root = drive.path.clone();
    let instance = r.scope == DriveRestoreScope::Instance;
    let uuid_owned = uuid.to_owned();
    tokio::task::spawn_blocking(move || {
        if keepsake_mirror::summary(&root)?.is_none() {
            return Err(DriveOpError::NotABackup(uuid_owned));
        }
        if instance {
            newest_dump(&root)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| DriveOpError::Failed(format!("reading the drive stopped: {e}")))??;
    drive.close().await;
    let (d2, rp2, uuid2, req) = (d.clone(), rp.clone(), uuid.to_owned(), r.clone());
    Ok(d.jobs.submit(
        JobKind::DriveRestore { drive: uuid.to_owned() },
        by,
        Box::new(move |ctx| Box::pin(async move { run(&d2, &rp2, &ctx, &uuid2, &req).await })),
    )?)
}

async fn run(d: &Arc<Inner>, rp: &RestorePoints, ctx: &JobContext, uuid: &str, r: &DriveRestoreRequest) -> Outcome {
    match restore(d, rp, ctx, uuid, r).await {
        Ok(report) => Ok(Some(JobResult::DriveRestored(report))),
        Err(e) => Err(fail(ctx, e)),
    }
}

/// A job failure from an error (a cancel stays a cancel), logged on the job.
pub(crate) fn fail(ctx: &JobContext, e: DriveOpError) -> JobFailure {
    match e {
        DriveOpError::Cancelled | DriveOpError::Mirror(MirrorError::Cancelled) => JobFailure::Cancelled,
        DriveOpError::Restore(e) => RestorePoints::job_failure(ctx, e),
        e => {
            ctx.error(e.to_string());
            JobFailure::Failed(e.to_string())
        }
    }
}

async fn restore(
    d: &Arc<Inner>,
    rp: &RestorePoints,
    ctx: &JobContext,
    uuid: &str,
    r: &DriveRestoreRequest,
) -> Result<DriveRestoreReport, DriveOpError> {
    ctx.progress(0, None, "steps", "mounting the drive");
    let drive = super::browse::open(d, uuid).await?;
    let label = drive.label(uuid);
    let root = drive.path.clone();
    let summary = blocking_read(move || keepsake_mirror::summary(&root))
        .await?
        .ok_or_else(|| DriveOpError::NotABackup(uuid.to_owned()))?;
    ctx.info(format!(
        "{label} holds a backup written by {} (last run {})",
        summary.written_by.as_deref().unwrap_or("an unknown appliance"),
        summary.last_run.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "unknown".into())
    ));
    let library = rp.library_dir().await?;
    let report = match r.scope {
        DriveRestoreScope::Files => restore_files(rp, ctx, &drive, &label, &library, &r.paths).await,
        DriveRestoreScope::Instance => {
            let sources: Vec<String> =
                summary.sources.iter().filter(|s| IMMICH_SOURCES.contains(&s.as_str())).cloned().collect();
            if sources.is_empty() {
                Err(DriveOpError::Refused(format!("{label} holds none of Immich's folders")))
            } else {
                restore_instance(rp, ctx, &drive, &label, &library, &sources).await
            }
        }
    };
    drive.close().await;
    Ok(DriveRestoreReport { uuid: uuid.to_owned(), scope: r.scope, ..report? })
}

async fn pre_point(rp: &RestorePoints, ctx: &JobContext, label: &str) -> Result<String, DriveOpError> {
    ctx.progress(0, None, "steps", "making a pre-restore point");
    let note = Some(format!("before restoring from {label}"));
    let pre = rp.make_point_in_job(ctx, RestorePointKind::PreRestore, note).await?;
    ctx.info(format!("pre-restore point {pre} made: restore it to undo this"));
    ctx.checkpoint("pre-restore point made", &serde_json::json!({ "pre": pre }))
        .map_err(|_| DriveOpError::Cancelled)?;
    Ok(pre)
}

async fn restore_files(
    rp: &RestorePoints,
    ctx: &JobContext,
    drive: &Opened,
    label: &str,
    library: &Path,
    paths: &[String],
) -> Result<DriveRestoreReport, DriveOpError> {
    for p in paths {
        refuse_links(library, Path::new(p))?;
    }
    let pre = pre_point(rp, ctx, label).await?;
    let (root, dest, sel) = (drive.path.clone(), library.to_owned(), Selection::Paths(paths.to_vec()));
    let done = with_cancel(ctx, "restoring files", move |sink, cancel| {
        keepsake_mirror::restore(&root, &sel, &dest, &RestoreOptions { overwrite: false }, sink, cancel)
    })
    .await?;
    report_conflicts(ctx, &done.conflicts);
    ctx.info(format!(
        "{} files restored ({}), {} already there with the same content",
        done.files_restored,
        crate::host::storage::human(done.bytes_restored),
        done.files_unchanged
    ));
    Ok(report(Some(pre), done, None))
}

async fn restore_instance(
    rp: &RestorePoints,
    ctx: &JobContext,
    drive: &Opened,
    label: &str,
    library: &Path,
    sources: &[String],
) -> Result<DriveRestoreReport, DriveOpError> {
    // The dump comes off the drive first, checked against the manifest as it is read: a damaged
    // one fails here, before anything is stopped or replaced.
    let root = drive.path.clone();
    let dump = blocking_read(move || Ok(newest_dump(&root))).await??;
    ctx.info(format!("the database dump on the drive is {dump}"));
    let staging = rp.points_dir().join(format!(".drive-restore-{}", ctx.id()));
    let _cleanup = RemoveOnDrop(staging.clone());
    let (root, dest, sel) = (drive.path.clone(), staging.clone(), Selection::Paths(vec![dump.clone()]));
    with_cancel(ctx, "copying the database dump off the drive", move |sink, cancel| {
        keepsake_mirror::restore(&root, &sel, &dest, &RestoreOptions { overwrite: true }, sink, cancel)
    })
    .await?;
    let staged = staging.join(&dump);
    let size = tokio::fs::metadata(&staged)
        .await
        .map_err(|e| DriveOpError::Failed(format!("the dump copied off the drive is missing: {e}")))?
        .len();
    ctx.info(format!("the dump passed its check against the drive's manifest ({})", crate::host::storage::human(size)));

    let pre = pre_point(rp, ctx, label).await?;
    let done = rp
        .with_server_stopped(ctx, "drive restore", || async {
            let tables = rp.load_dump_and_swap(ctx, &staged, size).await?;
            let files = replace_folders(ctx, &drive.path, library, sources).await.map_err(|e| match e {
                DriveOpError::Restore(e) => e,
                e => RestoreError::Refused(e.to_string()),
            })?;
            Ok((tables, files))
        })
        .await?;
    let (tables, files) = done;
    ctx.info(format!(
        "the database is back ({} tables, {} rows) and the library: {} files written ({}), {} unchanged",
        tables.len(),
        tables.iter().map(|t| t.rows).sum::<u64>(),
        files.files_restored,
        crate::host::storage::human(files.bytes_restored),
        files.files_unchanged
    ));
    ctx.info("Immich is running again");
    let name = Path::new(&dump).file_name().map(|n| n.to_string_lossy().into_owned());
    Ok(report(Some(pre), files, name))
}

/// Makes each of Immich's folders the same as on the drive: what the drive lacks is removed
/// first (read from the manifest completely before anything goes), then every file is written
/// unless it already has the same content.
async fn replace_folders(
    ctx: &JobContext,
    drive: &Path,
    library: &Path,
    sources: &[String],
) -> Result<keepsake_mirror::RestoreReport, DriveOpError> {
    ctx.progress(0, None, "steps", "reading the drive's list of files");
    let (root, lib, srcs) = (drive.to_owned(), library.to_owned(), sources.to_vec());
    let removed = blocking_read(move || {
        let mut trees = Vec::new();
        for s in &srcs {
            trees.push((s.clone(), super::browse::tree(&root, s)?));
        }
        let mut removed = 0u64;
        for (s, tree) in &trees {
            removed += prune(&lib, s, tree).map_err(|e| MirrorError::Source { path: lib.join(s), source: e })?;
        }
        Ok(removed)
    })
    .await?;
    ctx.info(format!("{removed} files the drive does not hold were removed from the library"));
    let (root, dest) = (drive.to_owned(), library.to_owned());
    let sel = Selection::Paths(sources.to_vec());
    let done = with_cancel(ctx, "restoring files", move |sink, cancel| {
        keepsake_mirror::restore(&root, &sel, &dest, &RestoreOptions { overwrite: true }, sink, cancel)
    })
    .await?;
    Ok(done)
}

/// Removes from `library/<source>` every file (and symbolic link, and folder) the drive's tree
/// lacks. Never follows a link; returns how many files went.
fn prune(library: &Path, source: &str, tree: &super::browse::Tree) -> std::io::Result<u64> {
    fn walk(dir: &Path, rel: &str, tree: &super::browse::Tree, removed: &mut u64) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for e in entries {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let child = format!("{rel}/{name}");
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                if tree.dirs.contains(&child) {
                    walk(&path, &child, tree, removed)?;
                } else {
                    *removed += count_files(&path);
                    std::fs::remove_dir_all(&path)?;
                }
            } else if !tree.files.contains(&child) {
                std::fs::remove_file(&path)?;
                *removed += 1;
            }
        }
        Ok(())
    }
    let mut removed = 0;
    walk(&library.join(source), source, tree, &mut removed)?;
    Ok(removed)
}

fn count_files(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            _ => 1,
        })
        .sum()
}

/// The folders leading to `rel` inside the library, and everything under a chosen folder, must
/// be real folders: the library is written by Immich's containers, and a symbolic link planted
/// there must not lead a root process's writes out of the library.
fn refuse_links(library: &Path, rel: &Path) -> Result<(), DriveOpError> {
    let refuse = |at: &Path| {
        Err(DriveOpError::Refused(format!(
            "{} is a symbolic link in the library; refusing to write through it",
            at.display()
        )))
    };
    let mut at = library.to_owned();
    for c in rel.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return refuse(&at),
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    if at.is_dir() {
        let mut todo = vec![at];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                match e.file_type() {
                    Ok(t) if t.is_symlink() => return refuse(&e.path()),
                    Ok(t) if t.is_dir() => todo.push(e.path()),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

fn report_conflicts(ctx: &JobContext, conflicts: &[String]) {
    if conflicts.is_empty() {
        return;
    }
    ctx.warn(format!(
        "{} files were kept as they are, because the library already has a different file by that name (the drive's copy was not written):",
        conflicts.len()
    ));
    for c in conflicts.iter().take(50) {
        ctx.warn(format!("kept: {c}"));
    }
}

fn report(pre: Option<String>, done: keepsake_mirror::RestoreReport, dump: Option<String>) -> DriveRestoreReport {
    DriveRestoreReport {
        uuid: String::new(),
        scope: if dump.is_some() { DriveRestoreScope::Instance } else { DriveRestoreScope::Files },
        pre_point_id: pre,
        files_restored: done.files_restored,
        bytes_restored: done.bytes_restored,
        files_unchanged: done.files_unchanged,
        dump,
        conflicts: done.conflicts.into_iter().take(100).collect(),
    }
}

/// The newest database dump in the drive's `keepsake/` folder (as the drive lists it).
pub(crate) fn newest_dump(drive: &Path) -> Result<String, DriveOpError> {
    let tree = match super::browse::tree(drive, KEEPSAKE_SOURCE) {
        Ok(t) => t,
        Err(MirrorError::NotABackup { .. }) => return Err(DriveOpError::NotABackup(drive.display().to_string())),
        Err(e) => return Err(e.into()),
    };
    tree.files
        .iter()
        .filter_map(|p| {
            let name = p.rsplit('/').next()?;
            let parsed = keepsake_dump::DumpName::parse(name).ok()?;
            name.ends_with(".sql.zst").then(|| (parsed.created(), p.clone()))
        })
        .max()
        .map(|(_, p)| p)
        .ok_or_else(|| {
            DriveOpError::Refused(
                "this drive holds no database dump (keepsake/…sql.zst); restore chosen files instead, or back up to it first"
                    .into(),
            )
        })
}

/// Runs a read of the drive on a blocking thread (a drive can hang in the kernel).
pub(crate) async fn blocking_read<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MirrorError> + Send + 'static,
) -> Result<T, DriveOpError> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DriveOpError::Failed(format!("reading the drive stopped: {e}")))??)
}

/// Runs a long mirror call from a job (its progress the job's, the job's cancel its cancel flag),
/// after saying what it does.
async fn with_cancel<T: Send + 'static>(
    ctx: &JobContext,
    phase: &'static str,
    f: impl FnOnce(&dyn ProgressSink, &AtomicBool) -> Result<T, MirrorError> + Send + 'static,
) -> Result<T, DriveOpError> {
    ctx.progress(0, None, "steps", phase);
    Ok(run_mirror(ctx, f).await?)
}

/// Removes the staging folder whatever happened (one a crash leaves is removed at the next start
/// by `restore_points::recover`).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_paths_stay_in_immich_folders() {
        assert!(check_path("library/admin/2024/a.jpg", true).is_ok());
        assert!(check_path("upload", true).is_ok());
        assert!(check_path("keepsake/config.age", false).is_ok(), "browsable");
        for bad in ["", "/etc/passwd", "../x", "library/../../x", "library//b", "./a", "keepsake/dump.sql.zst", "other"]
        {
            assert!(matches!(check_path(bad, true), Err(DriveOpError::BadPath { .. })), "{bad}");
        }
    }

    #[test]
    fn prune_removes_only_what_the_drive_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path();
        for f in ["library/a/1.jpg", "library/a/2.jpg", "library/b/3.jpg", "upload/x.jpg"] {
            std::fs::create_dir_all(lib.join(f).parent().unwrap()).unwrap();
            std::fs::write(lib.join(f), f).unwrap();
        }
        std::os::unix::fs::symlink("/etc", lib.join("library/a/link")).unwrap();
        let mut tree = super::super::browse::Tree::default();
        tree.dirs.extend(["library".to_owned(), "library/a".to_owned()]);
        tree.files.insert("library/a/1.jpg".into());
        assert_eq!(prune(lib, "library", &tree).unwrap(), 3, "2.jpg, the link and b/3.jpg");
        assert!(lib.join("library/a/1.jpg").exists() && !lib.join("library/b").exists());
        assert!(std::fs::symlink_metadata(lib.join("library/a/link")).is_err());
        assert!(lib.join("upload/x.jpg").exists(), "other folders are not touched");
        assert!(std::path::Path::new("/etc/hostname").exists() || std::path::Path::new("/etc").exists());
    }

    #[test]
    fn links_in_the_library_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("library/a")).unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join("library/a/out")).unwrap();
        assert!(refuse_links(dir.path(), Path::new("library/a/out/x.jpg")).is_err());
        assert!(refuse_links(dir.path(), Path::new("library")).is_err(), "a link under a chosen folder");
        assert!(refuse_links(dir.path(), Path::new("upload/new.jpg")).is_ok());
    }
}
