//! keepsake-mirror: a one-way mirror of source folders onto a mounted exFAT (or any) drive, with an
//! on-drive manifest. It knows nothing of udev, mounts, jobs, SQLite, Immich or the agent: it takes
//! paths, options, a progress sink and a cancel flag.
//!
//! The on-drive layout (see README.md and the `.keepsake/README.txt` written on every drive):
//! `<drive>/<source name>/<mapped path>` (copies in progress beside them as `.keepsake-partial-…`),
//! `<drive>/.keepsake/manifest.v1`, `.keepsake/partials`, `.keepsake/tmp/`,
//! `.keepsake/journal`, `.keepsake/deleted/<YYYY-MM-DD>/<source>/<mapped path>`.

mod copy;
mod exec;
mod fsutil;
mod info;
mod manifest;
mod mirror;
pub mod names;
mod partial;
mod plan;
mod progress;
mod restore;
mod scan;
mod verify;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One tree mirrored into `<drive>/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// One safe path component, like "library" or "upload".
    pub name: String,
    pub root: PathBuf,
}

#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// Files gone from the source are moved to `.keepsake/deleted/<YYYY-MM-DD>/…` and purged after
    /// this many days.
    pub keep_deleted_days: u32,
    pub now: DateTime<Utc>,
    /// Parallel copies (>= 1). 1 is fastest onto exfat-fuse and onto a single USB disk; more can
    /// help with many big files on a fast kernel-driven drive (hashing runs on the copy threads).
    pub threads: usize,
    /// Read back and blake3 every file written in this run. Costs an fsync per file (a device
    /// flush on exfat-fuse); a sampled [`verify`] after the run is the cheaper check.
    pub verify_written: bool,
    /// Keep this much free on the drive.
    pub reserve_bytes: u64,
    /// Appliance name recorded in the manifest header.
    pub written_by: String,
}

impl Default for MirrorOptions {
    fn default() -> Self {
        MirrorOptions {
            keep_deleted_days: 30,
            now: Utc::now(),
            // Measured: exfat-fuse serves one request at a time, and two copies at once were
            // twice as slow as one (12,000 files: 25 s vs 12.5 s; rsync -rltD 15 s).
            threads: 1,
            verify_written: false,
            reserve_bytes: 0,
            written_by: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Scanning,
    Copying,
    SettingAside,
    Verifying,
    Purging,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub files_total: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub bytes_done: u64,
    pub files_copied: u64,
    pub bytes_copied: u64,
    pub current: Option<String>,
}

/// Receives progress, at most about ten times a second (plus once at each phase change and at the end).
pub trait ProgressSink: Send + Sync {
    fn progress(&self, p: &Progress);
}

impl<F: Fn(&Progress) + Send + Sync> ProgressSink for F {
    fn progress(&self, p: &Progress) {
        self(p)
    }
}

/// A sink that drops progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn progress(&self, _p: &Progress) {}
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MirrorReport {
    pub files_total: u64,
    pub bytes_total: u64,
    pub files_copied: u64,
    pub bytes_copied: u64,
    pub files_unchanged: u64,
    pub files_set_aside: u64,
    pub files_purged: u64,
    pub files_verified: u64,
    pub names_mapped: u64,
    pub skipped: Vec<Skipped>,
}

/// A source entry that was not copied (symlink, socket, unreadable file): listed, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyScope {
    Full,
    Sample { percent: u8, seed: u64 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub files_checked: u64,
    pub bytes_checked: u64,
    /// The first 1000 problems.
    pub problems: Vec<Problem>,
    pub problem_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Original path, like "library/admin/a.jpg".
    pub path: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    Missing,
    SizeDiffers { expected: u64, found: u64 },
    HashDiffers,
    Unreadable(String),
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProblemKind::Missing => write!(f, "missing on the drive"),
            ProblemKind::SizeDiffers { expected, found } => {
                write!(f, "size differs: expected {expected} bytes, found {found}")
            }
            ProblemKind::HashDiffers => write!(f, "content differs from the recorded BLAKE3 hash"),
            ProblemKind::Unreadable(e) => write!(f, "unreadable: {e}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Original name.
    pub name: String,
    pub dir: bool,
    /// Bytes (of the file, or of all files under the folder).
    pub size: u64,
    /// 1 for a file, the number of files under a folder.
    pub files: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriveSummary {
    pub written_by: Option<String>,
    pub last_run: Option<DateTime<Utc>>,
    pub files: u64,
    pub bytes: u64,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// Original paths like "library/admin/2024/a.jpg" or folders like "library/admin".
    Paths(Vec<String>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// false: a target file that differs is kept and reported as a conflict.
    pub overwrite: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    pub files_restored: u64,
    pub bytes_restored: u64,
    pub files_unchanged: u64,
    pub conflicts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("reading or writing {path} on this machine failed: {source}")]
    Source { path: PathBuf, source: io::Error },
    #[error("writing or reading the drive at {path} failed: {source}")]
    Drive { path: PathBuf, source: io::Error },
    #[error("the drive went away during the run ({path} is no longer reachable); plug it in again and rerun")]
    DriveGone { path: PathBuf },
    #[error(
        "not enough space on the drive: {needed} bytes needed (with the reserve), {available} bytes free; use a larger drive or free space on it"
    )]
    NoSpace { needed: u64, available: u64 },
    #[error("the run was cancelled")]
    Cancelled,
    #[error(
        "the manifest {path} is damaged at line {line}: {reason}; move it aside and run the backup again (copies already on the drive are kept after a content check)"
    )]
    Manifest { path: PathBuf, line: u64, reason: String },
    #[error("{path} holds no Keepsake backup (no .keepsake/manifest.v1)")]
    NotABackup { path: PathBuf },
    #[error("invalid source {name:?}: {reason}")]
    InvalidSource { name: String, reason: String },
}

/// Mirrors `sources` onto `drive`.
pub fn mirror(
    drive: &Path,
    sources: &[Source],
    opts: &MirrorOptions,
    progress: &dyn ProgressSink,
    cancel: &AtomicBool,
) -> Result<MirrorReport, MirrorError> {
    mirror::mirror(drive, sources, opts, progress, cancel)
}

/// Checks the files on the drive against the manifest.
pub fn verify(
    drive: &Path,
    scope: VerifyScope,
    progress: &dyn ProgressSink,
    cancel: &AtomicBool,
) -> Result<VerifyReport, MirrorError> {
    verify::verify(drive, scope, progress, cancel)
}

/// Lists a folder of the backup (original path, "" = the sources), from the manifest only.
pub fn list(drive: &Path, dir: &str) -> Result<Vec<Entry>, MirrorError> {
    info::list(drive, dir)
}

/// Every file the backup holds under `dir` (original paths, "" = all), from the manifest only, in
/// one pass.
pub fn files(drive: &Path, dir: &str) -> Result<Vec<String>, MirrorError> {
    info::files(drive, dir)
}

/// What the backup on `drive` holds; None when there is no Keepsake backup on it.
pub fn summary(drive: &Path) -> Result<Option<DriveSummary>, MirrorError> {
    info::summary(drive)
}

/// Writes `<dest>/<original path>` for each selected file, atomically, restoring mtimes and checking
/// BLAKE3 against the manifest while reading.
pub fn restore(
    drive: &Path,
    selection: &Selection,
    dest: &Path,
    opts: &RestoreOptions,
    progress: &dyn ProgressSink,
    cancel: &AtomicBool,
) -> Result<RestoreReport, MirrorError> {
    restore::restore(drive, selection, dest, opts, progress, cancel)
}
