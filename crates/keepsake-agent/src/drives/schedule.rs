//! The daily backups of drives kept plugged in (trigger `schedule`), and the periodic verification.
//!
//! Once a tick: a drive's run is due when its hour has come (the box's local time) and no run was
//! recorded or attempted since; a drive enrolled during its hour runs in that hour, one enrolled
//! after it waits for the next day. A due drive that is not plugged in gets a `skipped` run (no
//! job, no alert: a drive that is away is not a failure; the "no recent backup" alert counts
//! the days). A plugged-in, idle drive whose last verification is older than the settings'
//! interval is verified.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use keepsake_api::{AttachedDevice, BackupOutcome, DriveTrigger};

use super::{Inner, settings, verify};
use crate::jobs::Resource;
use crate::restore_points::schedule::latest_slot;
use crate::store::{DriveRow, RunKind};

pub async fn run(inner: Arc<Inner>) {
    let mut attempts: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut verify_attempts: HashMap<String, DateTime<Utc>> = HashMap::new();
    loop {
        tokio::time::sleep(inner.config.schedule_tick).await;
        if let Err(e) = tick(&inner, &mut attempts, &mut verify_attempts).await {
            tracing::warn!(error = %e, "the drive schedule could not run this time");
        }
    }
}

/// True when `slot` still needs a run for this drive.
pub fn due(slot: DateTime<Utc>, now: DateTime<Utc>, enrolled_at: DateTime<Utc>, last: Option<DateTime<Utc>>) -> bool {
    let counts = slot >= enrolled_at || now - slot < Duration::hours(1);
    counts && last.is_none_or(|t| t < slot)
}

async fn tick(
    inner: &Arc<Inner>,
    attempts: &mut HashMap<String, DateTime<Utc>>,
    verify_attempts: &mut HashMap<String, DateTime<Utc>>,
) -> Result<(), super::DriveError> {
    let drives = inner.store.drives()?;
    if drives.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let mut attached: Option<Vec<AttachedDevice>> = None;
    for d in drives.iter().filter(|d| d.config.trigger == DriveTrigger::Schedule) {
        let Some(slot) = d.config.schedule_hour.and_then(|h| latest_slot(now, h)) else { continue };
        let recorded = inner.store.drive_runs(&d.uuid, Some(RunKind::Backup), 1)?.first().map(|r| r.run.started_at);
        let last = recorded.max(attempts.get(&d.uuid).copied());
        if !due(slot, now, d.enrolled_at, last) {
            continue;
        }
        attempts.insert(d.uuid.clone(), now);
        let devices = match &attached {
            Some(a) => a,
            None => attached.insert(inner.attached().await?),
        };
        if devices.iter().any(|a| a.fs_uuid.as_deref() == Some(d.uuid.as_str())) {
            if let Err(e) = inner.submit_backup(&d.uuid, "schedule") {
                tracing::warn!(drive = d.uuid, error = %e, "cannot start the scheduled backup");
            }
        } else {
            skip(inner, d, slot)?;
        }
    }
    verify_due(inner, &drives, now, &mut attached, verify_attempts).await
}

fn skip(inner: &Inner, d: &DriveRow, slot: DateTime<Utc>) -> Result<(), super::DriveError> {
    let at = slot.with_timezone(&chrono::Local).format("%H:%M");
    let why = format!("{} was not plugged in at {at}, so the scheduled backup was skipped", d.config.name);
    inner.store.insert_drive_run(&d.uuid, None, RunKind::Backup, BackupOutcome::Skipped, Some(&why))?;
    tracing::info!(drive = d.uuid, "scheduled backup skipped: the drive is not plugged in");
    Ok(())
}

async fn verify_due(
    inner: &Arc<Inner>,
    drives: &[DriveRow],
    now: DateTime<Utc>,
    attached: &mut Option<Vec<AttachedDevice>>,
    attempts: &mut HashMap<String, DateTime<Utc>>,
) -> Result<(), super::DriveError> {
    let Some(days) = settings::load(inner)?.verify_every_days else { return Ok(()) };
    let every = Duration::days(i64::from(days));
    for d in drives {
        if attempts.get(&d.uuid).is_some_and(|t| now - *t < Duration::hours(6)) {
            continue;
        }
        let has_backup = inner.store.last_drive_run(&d.uuid, RunKind::Backup, Some(BackupOutcome::Succeeded))?;
        let Some(backup) = has_backup else { continue };
        let last_verify = inner
            .store
            .drive_runs(&d.uuid, Some(RunKind::Verify), 20)?
            .into_iter()
            .find(|v| matches!(v.run.outcome, BackupOutcome::Succeeded | BackupOutcome::Failed))
            .and_then(|v| v.run.finished_at);
        let since = last_verify.or(backup.run.finished_at).unwrap_or(d.enrolled_at);
        if now - since < every || inner.jobs.busy_with(&Resource::Drive(d.uuid.clone())).is_some() {
            continue;
        }
        let devices = match attached {
            Some(a) => a,
            None => attached.insert(inner.attached().await?),
        };
        if devices.iter().any(|a| a.fs_uuid.as_deref() == Some(d.uuid.as_str())) {
            attempts.insert(d.uuid.clone(), now);
            if let Err(e) = verify::submit(inner, &d.uuid, false, "schedule") {
                tracing::warn!(drive = d.uuid, error = %e, "cannot start the periodic verification");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_due_once_and_not_before_enrollment_unless_within_its_hour() {
        let slot = Utc::now() - Duration::minutes(10);
        let now = Utc::now();
        // Enrolled during the hour: runs in it.
        assert!(due(slot, now, now - Duration::minutes(1), None));
        // Already ran (or was skipped) since the slot.
        assert!(!due(slot, now, now - Duration::days(3), Some(slot + Duration::minutes(1))));
        // A run from before the slot does not count.
        assert!(due(slot, now, now - Duration::days(3), Some(slot - Duration::hours(20))));
        // Enrolled after an hour that passed long ago: waits for the next day.
        let old = now - Duration::hours(5);
        assert!(!due(old, now, now - Duration::hours(1), None));
    }
}
