//! The verification job: mount the drive, read its backup back against the manifest (a sample or
//! every file), record the run, unmount. Problems fail the job (and say which files).

use std::sync::Arc;

use chrono::Utc;
use keepsake_api::{BackupOutcome, BackupRun, DriveProblem, DriveVerifyReport, Job, JobResult, VerifyDepth};
use keepsake_mirror::{MirrorError, VerifyScope};

use super::progress::run_mirror;
use super::{DriveError, Inner, mount, settings};
use crate::events::Event;
use crate::jobs::{JobContext, JobFailure, JobKind, Outcome, Resource};
use crate::store::RunKind;

/// Starts a verification (`full`: every file, else the settings' depth) unless one is running.
pub fn submit(inner: &Arc<Inner>, uuid: &str, full: bool, by: &str) -> Result<Job, DriveError> {
    inner.store.drive(uuid)?.ok_or_else(|| DriveError::NotEnrolled(uuid.to_owned()))?;
    if let Some(id) = inner.jobs.busy_with(&Resource::Drive(uuid.to_owned()))
        && let Some(job) = inner.jobs.job(id)?
        && job.kind == "drive.verify"
    {
        return Ok(job);
    }
    let (inner2, drive) = (inner.clone(), uuid.to_owned());
    Ok(inner.jobs.submit(
        JobKind::DriveVerify { drive: uuid.to_owned() },
        by,
        Box::new(move |ctx| Box::pin(async move { run(&inner2, &ctx, &drive, full).await })),
    )?)
}

fn failed(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::Failed(e.to_string())
}

async fn run(inner: &Arc<Inner>, ctx: &JobContext, uuid: &str, full: bool) -> Outcome {
    let row = inner
        .store
        .drive(uuid)
        .map_err(failed)?
        .ok_or_else(|| failed(format!("the drive {uuid} is no longer enrolled")))?;
    let s = settings::load(inner).map_err(failed)?;
    let full = full || s.verify_depth == VerifyDepth::Full;
    let scope = if full {
        VerifyScope::Full
    } else {
        VerifyScope::Sample { percent: s.verify_sample_percent.clamp(1, 100), seed: Utc::now().timestamp() as u64 }
    };
    let run_id = inner
        .store
        .insert_drive_run(uuid, Some(ctx.id()), RunKind::Verify, BackupOutcome::Running, None)
        .map_err(failed)?;
    let started_at = Utc::now();
    let label = row.config.name.clone();
    let device = inner
        .attached()
        .await
        .map_err(failed)?
        .into_iter()
        .find(|d| d.fs_uuid.as_deref() == Some(uuid))
        .map(|d| d.device);
    let result = match device {
        None => Err(format!("{label} is not plugged in; plug it in and verify again")),
        Some(device) => {
            inner.publish(&Event::DriveInUse { drive: uuid.to_owned(), label: label.clone() });
            match mount::mount(&inner.config.drives_dir, uuid, std::path::Path::new(&device)).await {
                Err(e) => Err(e.to_string()),
                Ok(m) => {
                    let path = m.path().to_owned();
                    let r =
                        run_mirror(ctx, move |sink, cancel| keepsake_mirror::verify(&path, scope, sink, cancel)).await;
                    match m.unmount().await {
                        Ok(()) => {
                            inner.publish(&Event::DriveSafeToRemove { drive: uuid.to_owned(), label: label.clone() })
                        }
                        Err(e) => tracing::error!(error = %e, "cannot unmount the drive after verifying"),
                    }
                    r.map_err(|e| match e {
                        MirrorError::Cancelled => "cancelled".to_owned(),
                        e => format!("the verification of {label} failed: {e}"),
                    })
                }
            }
        }
    };
    let (outcome, error, report) = match result {
        Ok(v) => {
            let problems: Vec<DriveProblem> = v
                .problems
                .iter()
                .take(100)
                .map(|p| DriveProblem { path: p.path.clone(), problem: p.kind.to_string() })
                .collect();
            let report = DriveVerifyReport {
                uuid: uuid.to_owned(),
                full,
                files_checked: v.files_checked,
                bytes_checked: v.bytes_checked,
                problems,
                problem_count: v.problem_count,
            };
            if v.problem_count == 0 {
                (BackupOutcome::Succeeded, None, Some(report))
            } else {
                let e = format!("{} files on {label} are damaged or missing; see the job's result", v.problem_count);
                (BackupOutcome::Failed, Some(e), Some(report))
            }
        }
        Err(e) if e == "cancelled" => (BackupOutcome::Cancelled, Some(e), None),
        Err(e) => (BackupOutcome::Failed, Some(e), None),
    };
    let run = BackupRun {
        kind: RunKind::Verify,
        job_id: Some(ctx.id()),
        started_at,
        finished_at: Some(Utc::now()),
        outcome,
        files_total: 0,
        bytes_total: 0,
        files_copied: 0,
        bytes_copied: 0,
        files_set_aside: 0,
        files_verified: report.as_ref().map(|r| r.files_checked).unwrap_or(0),
        error: error.clone(),
    };
    if let Err(e) = inner.store.finish_drive_run(run_id, &run) {
        tracing::error!(error = %e, "cannot record the verification run");
    }
    if let Some(r) = &report {
        for p in &r.problems {
            ctx.error(format!("{}: {}", p.path, p.problem));
        }
        if r.problem_count > r.problems.len() as u64 {
            ctx.error(format!("… and {} more", r.problem_count - r.problems.len() as u64));
        }
    }
    // What the check found fires (or resolves) `backup.verify_failed`; a cancelled check says
    // nothing about the drive.
    if outcome != BackupOutcome::Cancelled {
        inner.publish(&Event::DriveVerified {
            drive: uuid.to_owned(),
            label: label.clone(),
            job_id: Some(ctx.id()),
            full,
            files_checked: report.as_ref().map_or(0, |r| r.files_checked),
            problems: report.as_ref().map_or(0, |r| r.problem_count),
            error: if report.is_some() { None } else { error.clone() },
        });
    }
    match (outcome, report) {
        (BackupOutcome::Succeeded, Some(r)) => Ok(Some(JobResult::DriveVerified(r))),
        (BackupOutcome::Cancelled, _) => Err(JobFailure::Cancelled),
        _ => Err(failed(error.unwrap_or_else(|| "the verification failed".into()))),
    }
}
