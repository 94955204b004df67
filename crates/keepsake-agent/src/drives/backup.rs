//! The backup job: find the drive by its filesystem UUID, mount it, prepare the `keepsake/`
//! folder, mirror Immich's folders and it onto the drive (`keepsake-mirror`: temporary names,
//! fsync, rename; deletions set aside), read a sample back, record the run, unmount, and say it
//! is safe to remove.
//!
//! Whatever happens after the mount, the drive is unmounted before the job ends. A drive pulled
//! out mid-run fails the job with words saying so (and `backup.failed` fires through the
//! `BackupFinished` event); a cancel is not a failure and raises no alert.

use std::sync::Arc;

use chrono::Utc;
use keepsake_api::{BackupOutcome, BackupReport, BackupRun, BackupSettings, JobResult, VerifyDepth};
use keepsake_mirror::{MirrorError, MirrorOptions, Source, VerifyScope};

use super::progress::run_mirror;
use super::staging::{self, Inputs};
use super::{DriveError, Inner, mount, settings};
use crate::events::Event;
use crate::jobs::{JobContext, JobFailure, Outcome};
use crate::store::{DriveRow, RunKind};

/// Immich's folders always copied, then the optional ones.
const ALWAYS: [&str; 4] = ["library", "upload", "profile", "backups"];

/// Space kept free on the drive, so the filesystem never fills to the last block: 1 % of it,
/// between these bounds.
const RESERVE_MIN: u64 = 1024 * 1024;
const RESERVE_MAX: u64 = 64 * 1024 * 1024;

/// How a run ended, before it is recorded.
struct Ended {
    run: BackupRun,
    skipped: Vec<String>,
    free: u64,
    safe_to_remove: bool,
    cancelled: bool,
}

pub async fn run(inner: &Arc<Inner>, ctx: &JobContext, uuid: &str) -> Outcome {
    let row = inner
        .store
        .drive(uuid)
        .map_err(|e| JobFailure::Failed(e.to_string()))?
        .ok_or_else(|| JobFailure::Failed(format!("the drive {uuid} is no longer enrolled")))?;
    let settings = settings::load(inner).map_err(|e| JobFailure::Failed(e.to_string()))?;
    let run_id = inner
        .store
        .insert_drive_run(uuid, Some(ctx.id()), RunKind::Backup, BackupOutcome::Running, None)
        .map_err(|e| JobFailure::Failed(e.to_string()))?;
    let label = row.config.name.clone();
    inner.publish(&Event::DriveInUse { drive: uuid.to_owned(), label: label.clone() });
    let started_at = Utc::now();
    let ended = attempt(inner, ctx, &row, &settings, started_at).await;
    if let Err(e) = inner.store.finish_drive_run(run_id, &ended.run) {
        tracing::error!(error = %e, "cannot record the backup run");
    }
    let ok = ended.run.outcome == BackupOutcome::Succeeded;
    if !ended.cancelled {
        inner.publish(&Event::BackupFinished {
            drive: uuid.to_owned(),
            label: label.clone(),
            job_id: Some(ctx.id()),
            ok,
            error: ended.run.error.clone(),
        });
    }
    if ended.safe_to_remove {
        inner.publish(&Event::DriveSafeToRemove { drive: uuid.to_owned(), label: label.clone() });
    }
    match (ok, ended.cancelled) {
        (true, _) => Ok(Some(JobResult::BackedUp(BackupReport {
            uuid: uuid.to_owned(),
            name: label,
            run: ended.run,
            skipped: ended.skipped,
            free: ended.free,
            safe_to_remove: ended.safe_to_remove,
        }))),
        (false, true) => Err(JobFailure::Cancelled),
        (false, false) => Err(JobFailure::Failed(ended.run.error.unwrap_or_else(|| "the backup failed".into()))),
    }
}

/// Runs the backup; never returns early without unmounting what it mounted.
async fn attempt(
    inner: &Arc<Inner>,
    ctx: &JobContext,
    row: &DriveRow,
    settings: &BackupSettings,
    started_at: chrono::DateTime<Utc>,
) -> Ended {
    let mut ended = Ended {
        run: BackupRun {
            kind: RunKind::Backup,
            job_id: Some(ctx.id()),
            started_at,
            finished_at: None,
            outcome: BackupOutcome::Failed,
            files_total: 0,
            bytes_total: 0,
            files_copied: 0,
            bytes_copied: 0,
            files_set_aside: 0,
            files_verified: 0,
            error: None,
        },
        skipped: Vec::new(),
        free: 0,
        safe_to_remove: false,
        cancelled: false,
    };
    let name = &row.config.name;
    ctx.progress(0, None, "bytes", &format!("Looking for {name}"));
    let device = match find_device(inner, &row.uuid).await {
        Ok(d) => d,
        Err(e) => {
            ended.run.error = Some(e);
            ended.run.finished_at = Some(Utc::now());
            return ended;
        }
    };
    ctx.progress(0, None, "bytes", &format!("Mounting {name}"));
    let mounted = match mount::mount(&inner.config.drives_dir, &row.uuid, std::path::Path::new(&device)).await {
        Ok(m) => m,
        Err(e) => {
            ended.run.error = Some(e.to_string());
            ended.run.finished_at = Some(Utc::now());
            return ended;
        }
    };
    let reserve = mounted.space().map(|(size, _)| size / 100).unwrap_or(RESERVE_MAX).clamp(RESERVE_MIN, RESERVE_MAX);
    // exfat-fuse serves one request at a time, so parallel copies only queue up behind each other.
    let threads = if mounted.is_fuse() { 1 } else { 2 };
    let result = copy(inner, ctx, row, settings, (mounted.path(), reserve, threads), &mut ended).await;
    if let Some((size, free)) = mounted.space() {
        ended.free = free;
        let _ = inner.store.set_drive_space(&row.uuid, size, free);
    }
    ctx.progress(ended.run.bytes_total, Some(ended.run.bytes_total), "bytes", &format!("Unmounting {name}"));
    let unmounted = match mounted.unmount().await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "cannot unmount the drive after the backup");
            false
        }
    };
    // A drive pulled out mid-run is gone already: nothing to announce as removable.
    ended.safe_to_remove = unmounted && find_device(inner, &row.uuid).await.is_ok();
    match result {
        Ok(()) => ended.run.outcome = BackupOutcome::Succeeded,
        Err(Failure::Cancelled) => {
            ended.run.outcome = BackupOutcome::Cancelled;
            ended.run.error = Some("cancelled".into());
            ended.cancelled = true;
        }
        Err(Failure::Failed(e)) => ended.run.error = Some(e),
    }
    if ended.run.outcome == BackupOutcome::Succeeded && !unmounted {
        ended.run.outcome = BackupOutcome::Failed;
        ended.run.error = Some(format!(
            "everything was copied, but {name} could not be unmounted; do not pull it out until it is ejected"
        ));
    }
    ended.run.finished_at = Some(Utc::now());
    ended
}

enum Failure {
    Cancelled,
    Failed(String),
}

/// The device holding the filesystem `uuid`, or why there is none.
async fn find_device(inner: &Inner, uuid: &str) -> Result<String, String> {
    let attached = inner.attached().await.map_err(|e| e.to_string())?;
    attached.into_iter().find(|d| d.fs_uuid.as_deref() == Some(uuid)).map(|d| d.device).ok_or_else(|| {
        format!(
            "the drive is not plugged in (no device has the filesystem {uuid}); plug it in and run the backup again"
        )
    })
}

async fn copy(
    inner: &Arc<Inner>,
    ctx: &JobContext,
    row: &DriveRow,
    settings: &BackupSettings,
    (drive, reserve_bytes, threads): (&std::path::Path, u64, usize),
    ended: &mut Ended,
) -> Result<(), Failure> {
    ctx.progress(0, None, "bytes", "Preparing the database dump, audit log and configuration bundle");
    let staged = stage(inner, settings).await.map_err(|e| Failure::Failed(e.to_string()))?;
    ended.skipped.extend(staged.notes.iter().cloned());
    let mut sources = Vec::new();
    let optional = [("thumbs", row.config.include_thumbs), ("encoded-video", row.config.include_encoded_video)];
    let names = ALWAYS.iter().copied().chain(optional.iter().filter(|(_, on)| *on).map(|(n, _)| *n));
    for name in names {
        let root = inner.config.upload_location.join(name);
        if root.is_dir() {
            sources.push(Source { name: name.to_owned(), root });
        } else {
            ended.skipped.push(format!("{name}/: not found in {}", inner.config.upload_location.display()));
        }
    }
    sources.push(Source { name: "keepsake".into(), root: staged.dir.clone() });
    let opts = MirrorOptions {
        keep_deleted_days: settings.keep_deleted_days,
        now: Utc::now(),
        threads,
        verify_written: settings.verify_after_backup,
        reserve_bytes,
        written_by: inner.config.written_by.clone(),
    };
    let drive_path = drive.to_owned();
    let report =
        run_mirror(ctx, move |sink, cancel| keepsake_mirror::mirror(&drive_path, &sources, &opts, sink, cancel))
            .await
            .map_err(|e| failure(&row.config.name, e))?;
    ended.run.files_total = report.files_total;
    ended.run.bytes_total = report.bytes_total;
    ended.run.files_copied = report.files_copied;
    ended.run.bytes_copied = report.bytes_copied;
    ended.run.files_set_aside = report.files_set_aside;
    ended.run.files_verified = report.files_verified;
    ended.skipped.extend(report.skipped.iter().map(|s| format!("{}: {}", s.path, s.reason)));
    ended.skipped.truncate(100);
    if settings.verify_after_backup {
        verify_sample(inner, ctx, row, settings, drive, ended).await?;
    }
    Ok(())
}

/// Reads a sample of the whole drive back (besides what this run wrote), recorded as a
/// verification run; problems fail the backup.
async fn verify_sample(
    inner: &Inner,
    ctx: &JobContext,
    row: &DriveRow,
    settings: &BackupSettings,
    drive: &std::path::Path,
    ended: &mut Ended,
) -> Result<(), Failure> {
    let scope = match settings.verify_depth {
        VerifyDepth::Full => VerifyScope::Full,
        VerifyDepth::Sample => VerifyScope::Sample {
            percent: settings.verify_sample_percent.clamp(1, 100),
            seed: Utc::now().timestamp() as u64 ^ ctx.id() as u64,
        },
    };
    let run_id = inner.store.insert_drive_run(&row.uuid, Some(ctx.id()), RunKind::Verify, BackupOutcome::Running, None);
    let drive_path = drive.to_owned();
    let verified = run_mirror(ctx, move |sink, cancel| keepsake_mirror::verify(&drive_path, scope, sink, cancel)).await;
    let (outcome, error) = match &verified {
        Ok(v) if v.problem_count == 0 => (BackupOutcome::Succeeded, None),
        Ok(v) => (
            BackupOutcome::Failed,
            Some(format!(
                "reading the drive back found {} damaged or missing files (first: {} {})",
                v.problem_count,
                v.problems.first().map(|p| p.path.as_str()).unwrap_or("?"),
                v.problems.first().map(|p| p.kind.to_string()).unwrap_or_default()
            )),
        ),
        Err(MirrorError::Cancelled) => (BackupOutcome::Cancelled, Some("cancelled".into())),
        Err(e) => (BackupOutcome::Failed, Some(e.to_string())),
    };
    if let Ok(id) = run_id {
        let files = verified.as_ref().map(|v| v.files_checked).unwrap_or(0);
        let run = BackupRun {
            kind: RunKind::Verify,
            job_id: Some(ctx.id()),
            started_at: Utc::now(),
            finished_at: Some(Utc::now()),
            outcome,
            files_total: ended.run.files_total,
            bytes_total: ended.run.bytes_total,
            files_copied: 0,
            bytes_copied: 0,
            files_set_aside: 0,
            files_verified: files,
            error: error.clone(),
        };
        if let Err(e) = inner.store.finish_drive_run(id, &run) {
            tracing::error!(error = %e, "cannot record the verification run");
        }
    }
    match verified {
        Ok(v) => ended.run.files_verified += v.files_checked,
        Err(MirrorError::Cancelled) => return Err(Failure::Cancelled),
        Err(e) => return Err(failure(&row.config.name, e)),
    }
    match error {
        None => Ok(()),
        Some(e) => Err(Failure::Failed(e)),
    }
}

async fn stage(inner: &Inner, settings: &BackupSettings) -> Result<staging::Staged, DriveError> {
    let points = inner.store.points()?;
    let inputs = Inputs {
        staging_dir: inner.config.staging_dir.clone(),
        points_dir: inner.config.points_dir.clone(),
        config_files: inner.config.config_files.clone(),
        passphrase: settings::passphrase(inner)?,
        recipient: settings.bundle_recipient.clone(),
    };
    let store = inner.store.clone();
    tokio::task::spawn_blocking(move || staging::prepare(&store, &points, &inputs))
        .await
        .map_err(|e| DriveError::Refused(format!("preparing the keepsake folder crashed: {e}")))?
        .map_err(|e| DriveError::Refused(e.to_string()))
}

/// A mirror error in words for the person, naming the drive.
fn failure(name: &str, e: MirrorError) -> Failure {
    match e {
        MirrorError::Cancelled => Failure::Cancelled,
        MirrorError::DriveGone { .. } => Failure::Failed(format!(
            "the drive {name} was removed (or stopped answering) during the backup. Nothing already on it was \
             damaged: plug it in again and the backup continues where it stopped"
        )),
        MirrorError::NoSpace { needed, available } => Failure::Failed(format!(
            "{name} is too small: {} needed, {} free. Nothing on it was changed; use a larger drive, or free space on it",
            super::progress::bytes(needed),
            super::progress::bytes(available)
        )),
        e => Failure::Failed(format!("the backup to {name} failed: {e}")),
    }
}
