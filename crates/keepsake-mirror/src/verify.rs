//! Verification: reads files back from the drive and compares size and BLAKE3 with the manifest
//! (overlaid by the journal of an interrupted run), for all files or a reproducible sample.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::fsutil::{drop_cache, is_gone};
use crate::manifest::{Catalog, Kind, Line};
use crate::names::display;
use crate::progress::Throttle;
use crate::{MirrorError, Phase, Problem, ProblemKind, Progress, ProgressSink, VerifyReport, VerifyScope};

const MAX_PROBLEMS: usize = 1000;

pub fn open_catalog(drive: &Path) -> Result<Catalog, MirrorError> {
    if !drive.is_dir() {
        return Err(MirrorError::DriveGone { path: drive.to_path_buf() });
    }
    Catalog::open(drive)?.ok_or_else(|| MirrorError::NotABackup { path: drive.to_path_buf() })
}

fn selected(scope: VerifyScope, l: &Line) -> bool {
    match scope {
        VerifyScope::Full => true,
        VerifyScope::Sample { percent, seed } => {
            let mut h = blake3::Hasher::new();
            h.update(&seed.to_le_bytes());
            h.update(l.drive.as_bytes());
            let v = u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"));
            v % 10_000 < u64::from(percent.min(100)) * 100
        }
    }
}

/// The outcome of checking one file: Ok(None) when it is fine.
fn check(drive: &Path, l: &Line, cancel: &AtomicBool, buf: &mut [u8]) -> Result<Option<ProblemKind>, MirrorError> {
    let path = drive.join(&l.drive);
    let gone = |e: &io::Error| is_gone(e) || !drive.join(".keepsake").is_dir();
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if gone(&e) => return Err(MirrorError::DriveGone { path: drive.to_path_buf() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Some(ProblemKind::Missing)),
        Err(e) => return Ok(Some(ProblemKind::Unreadable(e.to_string()))),
    };
    let len = match f.metadata() {
        Ok(m) if m.is_dir() => return Ok(Some(ProblemKind::Missing)),
        Ok(m) => m.len(),
        Err(e) => return Ok(Some(ProblemKind::Unreadable(e.to_string()))),
    };
    if len != l.size {
        return Ok(Some(ProblemKind::SizeDiffers { expected: l.size, found: len }));
    }
    // Read the medium, not what the page cache remembers of it.
    drop_cache(&f);
    let mut h = blake3::Hasher::new();
    let mut since = 0usize;
    loop {
        let k = match f.read(buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if gone(&e) => return Err(MirrorError::DriveGone { path: drive.to_path_buf() }),
            Err(e) => return Ok(Some(ProblemKind::Unreadable(e.to_string()))),
        };
        h.update(&buf[..k]);
        since += k;
        if since >= 8 << 20 {
            since = 0;
            if cancel.load(Ordering::Relaxed) {
                return Err(MirrorError::Cancelled);
            }
        }
    }
    if *h.finalize().as_bytes() != l.hash {
        return Ok(Some(ProblemKind::HashDiffers));
    }
    Ok(None)
}

pub fn verify(
    drive: &Path,
    scope: VerifyScope,
    sink: &dyn ProgressSink,
    cancel: &AtomicBool,
) -> Result<VerifyReport, MirrorError> {
    let progress = Throttle::new(sink);
    // A first pass over the manifest gives totals for progress and ETA.
    let (mut files_total, mut bytes_total) = (0u64, 0u64);
    let mut cat = open_catalog(drive)?;
    while let Some(l) = cat.next_line()? {
        if l.kind == Kind::File && selected(scope, &l) {
            files_total += 1;
            bytes_total += l.size;
        }
    }
    let mut cat = open_catalog(drive)?;
    let mut report = VerifyReport::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut damaged: Vec<String> = Vec::new();
    while let Some(l) = cat.next_line()? {
        if l.kind != Kind::File || !selected(scope, &l) {
            continue;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(MirrorError::Cancelled);
        }
        progress.maybe(&Progress {
            phase: Phase::Verifying,
            files_total,
            bytes_total,
            files_done: report.files_checked,
            bytes_done: report.bytes_checked,
            files_copied: 0,
            bytes_copied: 0,
            current: Some(display(&l.orig)),
        });
        if let Some(kind) = check(drive, &l, cancel, &mut buf)? {
            damaged.push(l.drive.clone());
            report.problem_count += 1;
            if report.problems.len() < MAX_PROBLEMS {
                report.problems.push(Problem { path: display(&l.orig), kind });
            }
        }
        report.files_checked += 1;
        report.bytes_checked += l.size;
    }
    if !damaged.is_empty() {
        record_damaged(drive, damaged);
    }
    progress.force(&Progress {
        phase: Phase::Done,
        files_total,
        bytes_total,
        files_done: report.files_checked,
        bytes_done: report.bytes_checked,
        files_copied: 0,
        bytes_copied: 0,
        current: None,
    });
    Ok(report)
}

/// Lists damaged entries in `.keepsake/damaged` so the next mirror run copies them again. Best
/// effort: a drive that cannot be written still gets its verify report.
fn record_damaged(drive: &Path, mut damaged: Vec<String>) {
    let path = drive.join(crate::manifest::DAMAGED);
    if let Ok(old) = std::fs::read_to_string(&path) {
        damaged.extend(old.lines().map(str::to_string));
    }
    damaged.sort();
    damaged.dedup();
    let mut text = damaged.join("\n");
    text.push('\n');
    let _ = crate::fsutil::write_atomic(&path, text.as_bytes());
}
