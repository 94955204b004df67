//! USB-drive backups: the block devices the box sees, enrolled drives (by filesystem UUID, never by
//! `/dev` name), formatting to exFAT, the backup job that mirrors the library onto a drive, and
//! the things that start it (a plug-in, the daily hour, a person).
//!
//! The parts:
//! - `devices.rs` lists block devices through udev and says which belong to the system (mounted
//!   elsewhere, ZFS or RAID members, the root disk): those are never formatted or enrolled.
//! - `mount.rs` mounts a drive under `<drives dir>/<UUID>` (kernel exfat, else exfat-fuse) and
//!   unmounts it afterwards, waiting for the FUSE process to end.
//! - `settings.rs` the settings every drive shares (the bundle passphrase lives in the vault).
//! - `listing.rs` the drives list (what each drive is doing, its last runs, free space).
//! - `format.rs` the format job (`mkfs.exfat`), with its refusals.
//! - `backup.rs` the backup job: mount, stage, mirror (`keepsake-mirror`), verify, record,
//!   unmount, tell everyone it is safe to remove; `staging.rs` the `keepsake/` folder it copies
//!   (the latest dump, the audit log and its head, the encrypted configuration bundle).
//! - `verify.rs` the verification job; `restore.rs` restores from a drive.
//! - `hotplug.rs` follows udev and starts a plug-in drive's backup; `schedule.rs` the daily runs
//!   (absent drive: a `skipped` run, not a failure) and the periodic verification.

mod backup;
mod browse;
mod devices;
mod format;
mod hotplug;
mod listing;
pub mod mount;
mod progress;
pub(crate) mod restore;
mod schedule;
mod settings;
mod staging;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keepsake_api::{
    AttachedDevice, BackupHistory, BackupSettings, DriveConfig, DriveEnroll, DriveFormat, DriveList, DriveTrigger, Job,
};

use crate::events::Events;
use crate::jobs::{JobKind, JobManager, Resource};
use crate::store::{Store, StoreError};
use crate::vault::{SecretsError, Vault};

pub use self::devices::format_confirmation;

/// Where drives are mounted and what a backup copies.
#[derive(Debug, Clone)]
pub struct DrivesConfig {
    /// Drives are mounted at `<dir>/<UUID>` (`/run/keepsake/drives`).
    pub drives_dir: PathBuf,
    /// Immich's `UPLOAD_LOCATION` (`library/`, `upload/`, `profile/`, `backups/`, `thumbs/`,
    /// `encoded-video/` under it).
    pub upload_location: PathBuf,
    /// Where the `keepsake/` folder copied to each drive is prepared.
    pub staging_dir: PathBuf,
    /// Where restore points are written (the latest one's dump is copied to the drive).
    pub points_dir: PathBuf,
    /// The host's configuration files, put into the encrypted configuration bundle.
    pub config_files: Vec<PathBuf>,
    /// Whether udev is followed for plugged-in drives.
    pub hotplug: bool,
    /// How often the schedule looks whether a run is due.
    pub schedule_tick: Duration,
    /// This appliance's name, recorded in each drive's manifest.
    pub written_by: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("no enrolled drive {0}")]
    NotEnrolled(String),
    #[error("{0}")]
    Refused(String),
    #[error("the device holds data: type `{expected}` exactly to erase it")]
    Confirm { expected: String },
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Absent(String),
    #[error("{0}")]
    System(String),
    #[error("cannot list block devices: {0}. Check that udev is installed and running")]
    Udev(String),
    #[error("{0}")]
    Mount(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Jobs(#[from] crate::jobs::JobsError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl DriveError {
    /// The stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            DriveError::NotEnrolled(_) => "drive.not_found",
            DriveError::Refused(_) => "drive.refused",
            DriveError::Confirm { .. } => "drive.confirmation",
            DriveError::Busy(_) => "drive.busy",
            DriveError::Absent(_) => "drive.absent",
            DriveError::System(_) => "drive.system_device",
            DriveError::Udev(_) => "drive.udev",
            DriveError::Mount(_) => "drive.mount_failed",
            _ => "drive.failed",
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DriveError {
        let what = what.into();
        move |source| DriveError::Io { what, source }
    }
}

/// What the rest of the agent holds: backup drives as a subsystem.
pub struct Drives {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: DrivesConfig,
    store: Arc<Store>,
    jobs: Arc<JobManager>,
    vault: Vault,
    events: Events,
}

impl Drives {
    pub fn new(config: DrivesConfig, store: Arc<Store>, jobs: Arc<JobManager>, vault: Vault, events: Events) -> Drives {
        Drives { inner: Arc::new(Inner { config, store, jobs, vault, events }) }
    }

    /// Removes mounts a dead agent left, then follows udev and runs the schedule. Call once.
    pub fn start(&self) {
        // Before the API serves: no run of a dead agent is ever shown as running.
        match self.inner.store.fail_running_drive_runs("interrupted: the agent stopped during this run") {
            Ok(n) if n > 0 => tracing::warn!(runs = n, "marked drive runs a previous agent left as failed"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot close drive runs a previous agent left"),
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            mount::clean_stale(&inner.config.drives_dir).await;
            if inner.config.hotplug {
                hotplug::start(inner.clone());
            }
            schedule::run(inner).await;
        });
    }

    pub async fn list(&self) -> Result<DriveList, DriveError> {
        listing::list(&self.inner).await
    }

    /// Every block device now (enrolled or not), for the format and enroll dialogs.
    pub async fn attached(&self) -> Result<Vec<AttachedDevice>, DriveError> {
        self.inner.attached().await
    }

    pub async fn enroll(&self, r: &DriveEnroll) -> Result<keepsake_api::Drive, DriveError> {
        check_config(&r.config)?;
        let attached = self.inner.attached().await?;
        let dev = attached.iter().find(|d| d.fs_uuid.as_deref() == Some(r.uuid.as_str())).ok_or_else(|| {
            DriveError::Absent(format!(
                "no plugged-in device has the filesystem {}; plug the drive in (or format it first) and try again",
                r.uuid
            ))
        })?;
        if dev.system {
            return Err(DriveError::System(format!(
                "{} ({}) is part of the system (mounted, or a member of a pool); it cannot be a backup drive",
                dev.device, r.uuid
            )));
        }
        if dev.fs_type.as_deref() != Some("exfat") {
            return Err(DriveError::Refused(format!(
                "{} holds a {} filesystem; backup drives are exFAT (readable on any computer). Format it first \
                 (this erases it)",
                dev.device,
                dev.fs_type.as_deref().unwrap_or("unknown")
            )));
        }
        self.inner.store.insert_drive(&r.uuid, &r.config)?;
        tracing::info!(drive = r.uuid, name = r.config.name, "drive enrolled");
        listing::find(&self.inner, &r.uuid).await
    }

    pub async fn update(&self, uuid: &str, c: &DriveConfig) -> Result<keepsake_api::Drive, DriveError> {
        check_config(c)?;
        if !self.inner.store.update_drive(uuid, c)? {
            return Err(DriveError::NotEnrolled(uuid.to_owned()));
        }
        listing::find(&self.inner, uuid).await
    }

    /// Forgets a drive (its files stay on it). Refused while a job uses it.
    pub async fn forget(&self, uuid: &str) -> Result<(), DriveError> {
        if let Some(job) = self.inner.jobs.busy_with(&Resource::Drive(uuid.to_owned())) {
            return Err(DriveError::Busy(format!(
                "job #{job} is using the drive; wait for it to finish (or cancel it) first"
            )));
        }
        if !self.inner.store.delete_drive(uuid)? {
            return Err(DriveError::NotEnrolled(uuid.to_owned()));
        }
        tracing::info!(drive = uuid, "drive forgotten");
        Ok(())
    }

    pub fn history(&self, uuid: &str) -> Result<BackupHistory, DriveError> {
        self.inner.store.drive(uuid)?.ok_or_else(|| DriveError::NotEnrolled(uuid.to_owned()))?;
        let runs = self.inner.store.drive_runs(uuid, None, 200)?.into_iter().map(|r| r.run).collect();
        Ok(BackupHistory { uuid: uuid.to_owned(), runs })
    }

    pub fn settings(&self) -> Result<BackupSettings, DriveError> {
        settings::load(&self.inner)
    }

    pub fn set_settings(&self, s: &BackupSettings) -> Result<BackupSettings, DriveError> {
        settings::save(&self.inner, s)
    }

    /// Starts a backup now (a job); refused when the drive is not enrolled.
    pub fn submit_backup(&self, uuid: &str, by: &str) -> Result<Job, DriveError> {
        self.inner.submit_backup(uuid, by)
    }

    /// Starts a verification now (a job).
    pub fn submit_verify(&self, uuid: &str, full: bool, by: &str) -> Result<Job, DriveError> {
        verify::submit(&self.inner, uuid, full, by)
    }

    /// Checks the request against what is plugged in now, then starts the format job.
    pub async fn submit_format(&self, r: &DriveFormat, by: &str) -> Result<Job, DriveError> {
        format::submit(&self.inner, r, by).await
    }

    /// Unmounts a drive (when no job uses it) so it can be pulled out.
    pub async fn eject(&self, uuid: &str) -> Result<String, DriveError> {
        let row = self.inner.store.drive(uuid)?.ok_or_else(|| DriveError::NotEnrolled(uuid.to_owned()))?;
        if let Some(job) = self.inner.jobs.busy_with(&Resource::Drive(uuid.to_owned())) {
            return Err(DriveError::Busy(format!(
                "job #{job} is using the drive; wait for it to finish (or cancel it), then eject"
            )));
        }
        mount::unmount_dir(&self.inner.config.drives_dir.join(uuid)).await?;
        self.inner.publish(&crate::events::Event::DriveSafeToRemove {
            drive: uuid.to_owned(),
            label: row.config.name.clone(),
        });
        Ok(format!("{} is not in use: it is safe to remove", row.config.name))
    }
}

/// Rules the schema cannot say.
fn check_config(c: &DriveConfig) -> Result<(), DriveError> {
    if c.trigger == DriveTrigger::Schedule && c.schedule_hour.is_none() {
        return Err(DriveError::Refused("a scheduled drive needs `schedule_hour` (0 to 23)".into()));
    }
    if c.name.trim().is_empty() {
        return Err(DriveError::Refused("give the drive a name".into()));
    }
    Ok(())
}

impl Inner {
    async fn attached(&self) -> Result<Vec<AttachedDevice>, DriveError> {
        let enrolled = self.store.drives()?.into_iter().map(|d| d.uuid).collect();
        devices::scan(&self.config.drives_dir, enrolled).await
    }

    /// Starts a backup job unless one is already queued or running for this drive (then that
    /// one is returned).
    fn submit_backup(self: &Arc<Self>, uuid: &str, by: &str) -> Result<Job, DriveError> {
        self.store.drive(uuid)?.ok_or_else(|| DriveError::NotEnrolled(uuid.to_owned()))?;
        if let Some(id) = self.jobs.busy_with(&Resource::Drive(uuid.to_owned()))
            && let Some(job) = self.jobs.job(id)?
            && job.kind == "drive.backup"
        {
            return Ok(job);
        }
        let (inner, drive) = (self.clone(), uuid.to_owned());
        Ok(self.jobs.submit(
            JobKind::DriveBackup { drive: uuid.to_owned() },
            by,
            Box::new(move |ctx| Box::pin(async move { backup::run(&inner, &ctx, &drive).await })),
        )?)
    }

    /// Publishes on the bus; a failure is logged (the event is a notification, not the record).
    fn publish(&self, event: &crate::events::Event) {
        if let Err(e) = self.events.publish(event) {
            tracing::error!(error = %e, topic = event.topic(), "cannot publish a drive event");
        }
    }
}
