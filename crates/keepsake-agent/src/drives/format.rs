//! Formatting a device to exFAT, only when asked, with the refusals that keep other people's data
//! safe: never a system device (mounted elsewhere, a pool member, the root disk), never a device
//! holding a filesystem without its typed confirmation (`erase <label or name>`), never a device
//! whose filesystem changed since it was listed (swapped meanwhile), never a drive in use. The
//! checks run before the job is queued and again right before `mkfs.exfat`.

use std::sync::Arc;
use std::time::Duration;

use keepsake_api::{AttachedDevice, DriveFormat, DriveFormatReport, Job, JobResult};

use super::{DriveError, Inner, check_config, mount};
use crate::host::command::{Ran, run};
use crate::jobs::{JobContext, JobFailure, JobKind, Outcome, Resource};

const MKFS_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn submit(inner: &Arc<Inner>, r: &DriveFormat, by: &str) -> Result<Job, DriveError> {
    if let Some(c) = &r.enroll {
        check_config(c)?;
    }
    let dev = check(inner, r).await?;
    let (inner2, req) = (inner.clone(), r.clone());
    let seen_uuid = dev.fs_uuid.clone();
    Ok(inner.jobs.submit(
        JobKind::DriveFormat { device: r.device.clone() },
        by,
        Box::new(move |ctx| Box::pin(async move { work(&inner2, &ctx, &req, seen_uuid).await })),
    )?)
}

/// Every refusal, against what is plugged in now; the device as listed when it passes.
async fn check(inner: &Inner, r: &DriveFormat) -> Result<AttachedDevice, DriveError> {
    let attached = inner.attached().await?;
    let dev = attached.into_iter().find(|d| d.device == r.device).ok_or_else(|| {
        DriveError::Absent(format!("no device {} is plugged in; look at the list of drives again", r.device))
    })?;
    if dev.system {
        return Err(DriveError::System(format!(
            "{} is part of the system (it holds a mounted filesystem, belongs to a pool, or is the system's disk); \
             Keepsake never formats it",
            dev.device
        )));
    }
    if let Some(expect) = &r.expect_uuid
        && dev.fs_uuid.as_deref() != Some(expect.as_str())
    {
        return Err(DriveError::Refused(format!(
            "{} now holds {} instead of the filesystem {expect} that was listed: the drive was probably swapped. \
             Look at the list again",
            dev.device,
            dev.fs_uuid.as_deref().map(|u| format!("the filesystem {u}")).unwrap_or_else(|| "no filesystem".into())
        )));
    }
    if let Some(expected) = &dev.format_confirmation
        && r.confirm.as_deref().map(str::trim) != Some(expected.as_str())
    {
        return Err(DriveError::Confirm { expected: expected.clone() });
    }
    if let Some(uuid) = &dev.fs_uuid {
        if let Some(job) = inner.jobs.busy_with(&Resource::Drive(uuid.clone())) {
            return Err(DriveError::Busy(format!("job #{job} is using this drive; wait for it to finish first")));
        }
        if mount::is_mountpoint(&inner.config.drives_dir.join(uuid)) {
            return Err(DriveError::Busy(format!("{} is mounted; eject it first", dev.device)));
        }
    }
    Ok(dev)
}

fn failed(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::Failed(e.to_string())
}

async fn work(inner: &Inner, ctx: &JobContext, r: &DriveFormat, seen_uuid: Option<String>) -> Outcome {
    ctx.progress(0, Some(3), "steps", "Checking the device again");
    // The person confirmed what was listed a moment ago; make sure it is still that.
    let again = DriveFormat { expect_uuid: seen_uuid.clone(), ..r.clone() };
    check(inner, &again).await.map_err(failed)?;
    ctx.point_of_no_return("formatting the device")?;
    ctx.progress(1, Some(3), "steps", &format!("Formatting {} as exFAT", r.device));
    tracing::warn!(device = r.device, label = r.label, previous = ?seen_uuid, "formatting a device to exFAT");
    match run("mkfs.exfat", &["-L", &r.label, &r.device], MKFS_TIMEOUT).await {
        Ran::Ok(_) => {}
        Ran::NotFound => {
            return Err(failed("mkfs.exfat is not installed: install exfatprogs (the NixOS module does)"));
        }
        other => return Err(failed(format!("mkfs.exfat failed on {}: {other:?}", r.device))),
    }
    ctx.progress(2, Some(3), "steps", "Reading the new filesystem's UUID");
    let uuid = match run("blkid", &["-p", "-o", "value", "-s", "UUID", &r.device], PROBE_TIMEOUT).await {
        Ran::Ok(out) if !out.trim().is_empty() => out.trim().to_owned(),
        other => return Err(failed(format!("the device was formatted but its new UUID cannot be read: {other:?}"))),
    };
    // udev notices the new filesystem by itself (it watches writes); settle so the list shows it.
    let _ = run("udevadm", &["trigger", "--action=change", &r.device], PROBE_TIMEOUT).await;
    let _ = run("udevadm", &["settle", "--timeout=10"], PROBE_TIMEOUT).await;
    let enrolled = match &r.enroll {
        Some(c) => match inner.store.insert_drive(&uuid, c) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "formatted, but cannot enroll the new filesystem");
                false
            }
        },
        None => false,
    };
    ctx.progress(3, Some(3), "steps", "Done");
    Ok(Some(JobResult::DriveFormatted(DriveFormatReport {
        device: r.device.clone(),
        uuid,
        label: r.label.clone(),
        enrolled,
    })))
}
