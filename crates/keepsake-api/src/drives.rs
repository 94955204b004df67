//! Wire types of USB-drive backups: the block devices the box sees, enrolled backup drives (by
//! filesystem UUID, never by `/dev` name) and how their backups start, formatting a drive to exFAT
//! (with a typed confirmation when it holds data), backup runs and their history, verification,
//! browsing a drive's backup and restoring from it (the whole instance, or chosen files), and the
//! settings every drive shares.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits::{
    DRIVE_LABEL_MAX_CHARS, DRIVE_NAME_MAX_CHARS, DRIVE_UUID_PATTERN, KEEP_DELETED_DAYS_MAX, NO_CONTROL_PATTERN,
    PASSPHRASE_MAX_CHARS, PASSPHRASE_MIN_CHARS, RESTORE_FOLDER_PATTERN, RESTORE_PATH_MAX, RESTORE_PATH_PATTERN,
    RESTORE_PATHS_MAX,
};

/// How backups to a drive start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriveTrigger {
    /// As soon as the drive is plugged in; it is unmounted afterwards and can be pulled out.
    PlugIn,
    /// Every day at `schedule_hour`, for a drive kept plugged in (absent at that time: skipped).
    Schedule,
    /// Only when someone presses "back up now".
    Manual,
}

/// A block device with a filesystem (or none), as udev describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttachedDevice {
    /// The kernel's current name (`/dev/sdb1`); changes between plug-ins, so never used to enroll.
    pub device: String,
    /// The filesystem's UUID, when it has a filesystem.
    pub fs_uuid: Option<String>,
    /// `exfat`, `vfat`, `ext4`, `ntfs`... (`null`: no filesystem udev recognises).
    pub fs_type: Option<String>,
    pub fs_label: Option<String>,
    /// Bytes.
    pub size: u64,
    /// `usb`, `ata`, `nvme`... when udev knows it.
    pub bus: Option<String>,
    /// The maker's model name, when udev knows it.
    pub model: Option<String>,
    /// Enrolled as a backup drive (by its filesystem UUID).
    pub enrolled: bool,
    /// Part of the system (mounted elsewhere than Keepsake's drive folder, in a ZFS pool, the boot
    /// disk): it cannot be formatted or enrolled.
    pub system: bool,
    /// It has a filesystem, so formatting it erases data and needs the typed confirmation.
    pub has_data: bool,
    /// What formatting this device needs typed as `confirm` (`erase <label or name>`), when it
    /// holds data.
    pub format_confirmation: Option<String>,
}

/// What an enrolled drive is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriveActivity {
    /// Not plugged in.
    Absent,
    /// Plugged in, nothing running: safe to remove.
    Idle,
    BackingUp,
    Verifying,
    Restoring,
}

/// How a backup run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackupOutcome {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// A scheduled run found the drive absent: not a failure.
    Skipped,
}

/// What a run in a drive's history did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriveRunKind {
    /// Copied the library onto the drive.
    Backup,
    /// Read back what the drive holds and compared it with the manifest.
    Verify,
}

impl DriveRunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriveRunKind::Backup => "backup",
            DriveRunKind::Verify => "verify",
        }
    }
}

/// One backup (or verification) run to a drive, for its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupRun {
    /// A backup, or the check of one (a backup is followed by a check of what it wrote, with the
    /// same job id).
    pub kind: DriveRunKind,
    /// The job that ran it (`null` for a skipped scheduled run, which starts no job).
    pub job_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: BackupOutcome,
    /// Files and bytes the backup holds after the run.
    pub files_total: u64,
    pub bytes_total: u64,
    /// Copied in this run.
    pub files_copied: u64,
    pub bytes_copied: u64,
    /// Deleted at the source, so set aside on the drive (purged after the setting's days).
    pub files_set_aside: u64,
    /// Read back and checked this run.
    pub files_verified: u64,
    /// Why it failed or was skipped, in words.
    pub error: Option<String>,
}

/// An enrolled backup drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Drive {
    pub uuid: String,
    /// The name people gave it ("Blue drive in the drawer").
    pub name: String,
    pub trigger: DriveTrigger,
    /// For `schedule`: the hour of the day (the box's local time).
    pub schedule_hour: Option<u8>,
    /// Also copy Immich's `thumbs/` (can be rebuilt, but takes hours).
    pub include_thumbs: bool,
    /// Also copy `encoded-video/` (transcodes, and the videos of motion photos that the database
    /// tracks).
    pub include_encoded_video: bool,
    pub enrolled_at: DateTime<Utc>,
    pub activity: DriveActivity,
    /// Its current device while plugged in.
    pub device: Option<String>,
    /// Capacity and free bytes, as last seen (at the last run, or now while plugged in).
    pub size: Option<u64>,
    pub free: Option<u64>,
    /// The job running on it now.
    pub job_id: Option<i64>,
    pub last_run: Option<BackupRun>,
    /// When its last successful backup finished (the "no recent backup" alert counts from here).
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last verification and whether it found every file intact.
    pub last_verified_at: Option<DateTime<Utc>>,
    pub last_verify_ok: Option<bool>,
}

/// `GET /api/v1/drives`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriveList {
    pub drives: Vec<Drive>,
    /// Every block device the box sees now (enrolled or not).
    pub attached: Vec<AttachedDevice>,
    /// Problems listing devices (udev not running...), in words.
    pub warnings: Vec<String>,
}

/// A drive's backup settings, when enrolling it (`POST /api/v1/drives`, with `uuid`) or changing
/// them (`PUT /api/v1/drives/{uuid}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriveConfig {
    #[schemars(length(min = 1, max = DRIVE_NAME_MAX_CHARS), regex(pattern = NO_CONTROL_PATTERN))]
    pub name: String,
    pub trigger: DriveTrigger,
    /// Required for `schedule`.
    #[serde(default)]
    #[schemars(range(max = 23))]
    pub schedule_hour: Option<u8>,
    #[serde(default)]
    pub include_thumbs: bool,
    #[serde(default)]
    pub include_encoded_video: bool,
}

/// `POST /api/v1/drives`: enroll a plugged-in drive by its filesystem UUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriveEnroll {
    #[schemars(regex(pattern = DRIVE_UUID_PATTERN))]
    pub uuid: String,
    pub config: DriveConfig,
}

/// `POST /api/v1/drives/format`: make a new exFAT filesystem on a device (a job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriveFormat {
    /// The device as listed (`/dev/sdb1`).
    #[schemars(length(max = 64), regex(pattern = "^/dev/[A-Za-z0-9._-]+$"))]
    pub device: String,
    /// The filesystem UUID the person saw listed for it, if it had one: the format is refused if
    /// the device now holds another (it was swapped meanwhile).
    #[serde(default)]
    #[schemars(regex(pattern = DRIVE_UUID_PATTERN))]
    pub expect_uuid: Option<String>,
    /// The new filesystem's label (exFAT allows 11 characters).
    #[schemars(length(min = 1, max = DRIVE_LABEL_MAX_CHARS), regex(pattern = "^[A-Za-z0-9 _-]+$"))]
    pub label: String,
    /// The device's `format_confirmation`, typed, when it holds data.
    #[serde(default)]
    #[schemars(length(max = 128))]
    pub confirm: Option<String>,
    /// Enroll the new filesystem at once with these settings.
    #[serde(default)]
    pub enroll: Option<DriveConfig>,
}

/// `POST /api/v1/drives/{uuid}/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriveVerifyRequest {
    /// Read every file back (`false`: the settings' sample).
    #[serde(default)]
    pub full: bool,
}

/// How much of a drive a periodic verification reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerifyDepth {
    /// A random sample of this many percent of the files.
    Sample,
    /// Every file.
    Full,
}

/// `GET`/`PUT /api/v1/drives/settings`: what every drive's backup holds and how it is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// Files deleted in Immich stay on the drive, set aside, this many days.
    #[schemars(range(min = 1, max = KEEP_DELETED_DAYS_MAX))]
    pub keep_deleted_days: u32,
    /// Read back and hash what each run wrote.
    pub verify_after_backup: bool,
    /// Verify each plugged-in drive every this many days (`null`: never).
    #[schemars(range(min = 1, max = 365))]
    pub verify_every_days: Option<u16>,
    pub verify_depth: VerifyDepth,
    /// For `sample`: percent of the files.
    #[schemars(range(min = 1, max = 100))]
    pub verify_sample_percent: u8,
    /// The configuration bundle on the drive is encrypted with age to this passphrase (write-only:
    /// `GET` never returns it; `null` in a `PUT` keeps the one set).
    #[serde(default, skip_serializing)]
    #[schemars(length(min = PASSPHRASE_MIN_CHARS, max = PASSPHRASE_MAX_CHARS))]
    pub bundle_passphrase: Option<String>,
    /// Or to this age public key (`age1…`); both may be set.
    #[serde(default)]
    #[schemars(length(max = 128), regex(pattern = "^age1[02-9ac-hj-np-z]{50,100}$"))]
    pub bundle_recipient: Option<String>,
    /// Whether a passphrase is set (read-only).
    #[serde(default)]
    pub bundle_passphrase_set: bool,
}

/// The result of a `drive.backup` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupReport {
    pub uuid: String,
    pub name: String,
    pub run: BackupRun,
    /// Files that could not be copied as they are (a symbolic link, a socket), with why; the first
    /// 100.
    pub skipped: Vec<String>,
    /// Bytes free on the drive afterwards.
    pub free: u64,
    /// The drive was unmounted at the end and can be pulled out.
    pub safe_to_remove: bool,
}

/// What a verification found wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriveProblem {
    /// The file's original path (`library/…`).
    pub path: String,
    /// `missing`, `size_differs`, `hash_differs` or `unreadable: …`.
    pub problem: String,
}

/// The result of a `drive.verify` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriveVerifyReport {
    pub uuid: String,
    pub full: bool,
    pub files_checked: u64,
    pub bytes_checked: u64,
    /// The first 100 problems.
    pub problems: Vec<DriveProblem>,
    pub problem_count: u64,
}

/// What a restore from a drive brings back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriveRestoreScope {
    /// The database from the drive's dump, and every library file on the drive: onto this or a new
    /// appliance.
    Instance,
    /// Chosen files or folders, put back where they were.
    Files,
}

/// `POST /api/v1/drives/{uuid}/restore`. The drive need not be enrolled: one written by another
/// appliance restores too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriveRestoreRequest {
    pub scope: DriveRestoreScope,
    /// For `files`: original paths as the drive lists them (`library/…`, or a folder).
    #[serde(default)]
    #[schemars(length(max = RESTORE_PATHS_MAX), inner(length(min = 1, max = RESTORE_PATH_MAX), regex(pattern = RESTORE_PATH_PATTERN)))]
    pub paths: Vec<String>,
    /// `restore` typed by the person.
    #[schemars(length(max = 64))]
    pub confirm: String,
}

/// The result of a `drive.restore` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriveRestoreReport {
    pub uuid: String,
    pub scope: DriveRestoreScope,
    /// The restore point made first, which undoes this.
    pub pre_point_id: Option<String>,
    pub files_restored: u64,
    pub bytes_restored: u64,
    /// Files already present with the same content.
    pub files_unchanged: u64,
    /// The database dump loaded (for `instance`).
    pub dump: Option<String>,
    /// For `files`: files the library already had with other content, kept as they were (the
    /// drive's copy was not written); the first 100, by original path.
    #[serde(default)]
    pub conflicts: Vec<String>,
}

/// The result of a `drive.format` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriveFormatReport {
    pub device: String,
    /// The new filesystem's UUID.
    pub uuid: String,
    pub label: String,
    pub enrolled: bool,
}

/// `GET /api/v1/drives/{uuid}/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupHistory {
    pub uuid: String,
    /// Newest first (the last 200).
    pub runs: Vec<BackupRun>,
}

/// `GET /api/v1/drives/{uuid}/files?path=`: a folder of the backup on a plugged-in drive, by the
/// original names.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriveFilesQuery {
    #[schemars(length(max = RESTORE_PATH_MAX), regex(pattern = RESTORE_FOLDER_PATTERN))]
    pub path: Option<String>,
}

/// One entry of a drive's backup folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriveFileEntry {
    pub name: String,
    pub dir: bool,
    /// Bytes (a folder: of everything under it).
    pub size: u64,
    /// Files under a folder (1 for a file).
    pub files: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriveFileList {
    pub uuid: String,
    pub path: String,
    /// Which appliance wrote the backup, and when it last ran.
    pub written_by: Option<String>,
    pub last_run: Option<DateTime<Utc>>,
    /// Folders first, then files, each by name.
    pub entries: Vec<DriveFileEntry>,
    pub truncated: bool,
}
