//! The drives list: each enrolled drive with what it is doing now, where it is plugged in, its
//! space, its last run, last success and last verification; and every block device attached.

use std::collections::HashSet;

use keepsake_api::{AttachedDevice, BackupOutcome, Drive, DriveActivity, DriveList};

use super::{DriveError, Inner, devices};
use crate::jobs::Resource;
use crate::store::{DriveRow, RunKind};

pub async fn list(inner: &Inner) -> Result<DriveList, DriveError> {
    let rows = inner.store.drives()?;
    let enrolled: HashSet<String> = rows.iter().map(|d| d.uuid.clone()).collect();
    let mut warnings = Vec::new();
    let attached = match devices::scan(&inner.config.drives_dir, enrolled).await {
        Ok(a) => a,
        Err(e) => {
            warnings.push(e.to_string());
            Vec::new()
        }
    };
    let drives = rows.into_iter().map(|r| drive(inner, r, &attached)).collect::<Result<_, _>>()?;
    Ok(DriveList { drives, attached, warnings })
}

pub async fn find(inner: &Inner, uuid: &str) -> Result<Drive, DriveError> {
    list(inner).await?.drives.into_iter().find(|d| d.uuid == uuid).ok_or_else(|| DriveError::NotEnrolled(uuid.into()))
}

fn drive(inner: &Inner, r: DriveRow, attached: &[AttachedDevice]) -> Result<Drive, DriveError> {
    let dev = attached.iter().find(|d| d.fs_uuid.as_deref() == Some(r.uuid.as_str()));
    let job = inner.jobs.busy_with(&Resource::Drive(r.uuid.clone())).and_then(|id| inner.jobs.job(id).ok().flatten());
    let activity = match (&job, dev) {
        (Some(j), _) if j.kind == "drive.backup" => DriveActivity::BackingUp,
        (Some(j), _) if j.kind == "drive.verify" => DriveActivity::Verifying,
        (Some(j), _) if j.kind == "drive.restore" => DriveActivity::Restoring,
        (_, Some(_)) => DriveActivity::Idle,
        (_, None) => DriveActivity::Absent,
    };
    let last_run = inner.store.drive_runs(&r.uuid, Some(RunKind::Backup), 1)?.into_iter().next().map(|r| r.run);
    let last_success = inner.store.last_drive_run(&r.uuid, RunKind::Backup, Some(BackupOutcome::Succeeded))?;
    let last_verify = inner
        .store
        .drive_runs(&r.uuid, Some(RunKind::Verify), 20)?
        .into_iter()
        .find(|v| matches!(v.run.outcome, BackupOutcome::Succeeded | BackupOutcome::Failed));
    Ok(Drive {
        uuid: r.uuid,
        name: r.config.name,
        trigger: r.config.trigger,
        schedule_hour: r.config.schedule_hour,
        include_thumbs: r.config.include_thumbs,
        include_encoded_video: r.config.include_encoded_video,
        enrolled_at: r.enrolled_at,
        activity,
        device: dev.map(|d| d.device.clone()),
        size: dev.map(|d| d.size).or(r.size),
        free: r.free,
        job_id: job.map(|j| j.id),
        last_run,
        last_success_at: last_success.and_then(|s| s.run.finished_at),
        last_verified_at: last_verify.as_ref().and_then(|v| v.run.finished_at),
        last_verify_ok: last_verify.map(|v| v.run.outcome == BackupOutcome::Succeeded),
    })
}
