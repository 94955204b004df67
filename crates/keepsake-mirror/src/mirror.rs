//! A mirror run from start to end: checks, recovery of an interrupted run, scan (plan), free-space
//! check, execution, purge of old set-aside files.

use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use chrono::NaiveDate;

use crate::exec::Exec;
use crate::fsutil::{drive_err_root, free_bytes, statvfs, write_atomic};
use crate::manifest::{self, DAMAGED, DELETED, Header, JOURNAL, KS_DIR, MANIFEST, Reader, TMP, Writer};
use crate::names::{drive_name, fold};
use crate::plan::PlanWriter;
use crate::progress::Throttle;
use crate::scan::Scanner;
use crate::{MirrorError, MirrorOptions, MirrorReport, Phase, Progress, ProgressSink, Source};

pub const README: &str = include_str!("drive-readme.txt");

/// Bytes one manifest line takes, roughly, for the free-space check.
const LINE_BYTES: u64 = 200;

fn check_sources(sources: &[Source]) -> Result<(), MirrorError> {
    let mut seen = std::collections::HashSet::new();
    for s in sources {
        let bad = |reason: &str| MirrorError::InvalidSource { name: s.name.clone(), reason: reason.to_string() };
        if s.name.is_empty() || s.name.starts_with('.') || drive_name(s.name.as_bytes(), 1) != s.name {
            return Err(bad(
                "a source name must be one plain folder name (no /, no leading dot, nothing exFAT forbids)",
            ));
        }
        if !seen.insert(fold(&s.name)) {
            return Err(bad("two sources have the same name (the drive ignores case)"));
        }
        match std::fs::metadata(&s.root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(bad(&format!("{} is not a folder", s.root.display()))),
            // A missing source root must not read as "everything was deleted".
            Err(e) => return Err(bad(&format!("{} cannot be read: {e}", s.root.display()))),
        }
    }
    Ok(())
}

/// Creates `.keepsake/` and its README, empties `.keepsake/tmp` (work files; copies in progress
/// are beside their destinations and swept by crate::partial).
fn prepare(drive: &Path) -> Result<(), MirrorError> {
    match std::fs::metadata(drive) {
        Ok(m) if m.is_dir() => {}
        _ => return Err(MirrorError::DriveGone { path: drive.to_path_buf() }),
    }
    let err = |p: &Path| {
        let p = p.to_path_buf();
        move |e: io::Error| crate::fsutil::drive_err(&p, e)
    };
    let ks = drive.join(KS_DIR);
    std::fs::create_dir_all(&ks).map_err(err(&ks))?;
    let tmp = drive.join(TMP);
    if tmp.exists() {
        // Leftovers of a killed run: never renamed into place, so never part of the backup.
        std::fs::remove_dir_all(&tmp).map_err(err(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(err(&tmp))?;
    let readme = ks.join("README.txt");
    if std::fs::read(&readme).ok().as_deref() != Some(README.as_bytes()) {
        write_atomic(&readme, README.as_bytes()).map_err(err(&readme))?;
    }
    Ok(())
}

pub fn mirror(
    drive: &Path,
    sources: &[Source],
    opts: &MirrorOptions,
    sink: &dyn ProgressSink,
    cancel: &AtomicBool,
) -> Result<MirrorReport, MirrorError> {
    check_sources(sources)?;
    prepare(drive)?;
    let progress = Throttle::new(sink);
    let interrupted = manifest::recover(drive).map_err(|e| match e {
        // Folding the journal in needs room for one more manifest.
        MirrorError::NoSpace { available, .. } => {
            let size = |p: &str| std::fs::metadata(drive.join(p)).map(|m| m.len()).unwrap_or(0);
            MirrorError::NoSpace { needed: size(MANIFEST) + size(JOURNAL), available }
        }
        e => e,
    })?;
    // A killed run's temporary copies beside the files (crate::partial), before anything is planned.
    crate::partial::sweep(drive, interrupted)?;
    let old = Reader::open(&drive.join(MANIFEST), false)?;
    let old_size = std::fs::metadata(drive.join(MANIFEST)).map(|m| m.len()).unwrap_or(0);
    // Without a manifest, copies may still be on the drive (a lost manifest, or a backup made by
    // hand): check each before copying.
    let adopt = interrupted || (old.is_none() && sources.iter().any(|s| drive.join(&s.name).exists()));
    let plan = PlanWriter::new().map_err(|e| MirrorError::Source { path: std::env::temp_dir(), source: e })?;
    let (_, cluster) = statvfs(drive).map_err(|e| drive_err_root(drive, drive, e))?;
    let cluster = cluster.clamp(512, 32 << 20);
    let mut scan = Scanner {
        old,
        plan,
        stats: Default::default(),
        skipped: Vec::new(),
        adopt,
        cluster,
        cancel,
        progress: &progress,
        damaged: read_damaged(drive),
        deleted: read_deleted(drive),
        drive_id: std::fs::metadata(drive).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        }),
    };
    scan.run(sources)?;
    let Scanner { plan, stats, skipped, .. } = scan;

    // Free space, before anything on the drive changes.
    let available = free_bytes(drive).map_err(|e| drive_err_root(drive, drive, e))?;
    let manifest_bytes = old_size.max((stats.files_total + 1) * LINE_BYTES);
    let needed = stats.copy_alloc + manifest_bytes + opts.reserve_bytes;
    if needed > available {
        return Err(MirrorError::NoSpace { needed, available });
    }

    let header = Header { written_by: Some(opts.written_by.clone()), last_run: Some(opts.now) };
    let jpath = drive.join(JOURNAL);
    let journal = Writer::create(&jpath, &header).map_err(|e| drive_err_root(drive, &jpath, e))?;
    let report = MirrorReport { names_mapped: stats.names_mapped, skipped, ..Default::default() };
    let mut exec = Exec::new(drive, opts, journal, report, stats.clone(), &progress, cancel);
    let mut reader = plan.into_reader().map_err(|e| MirrorError::Source { path: std::env::temp_dir(), source: e })?;
    let result = exec.run(&mut reader);
    let mut report = match result {
        Ok(()) => exec.commit()?,
        Err(e) => {
            exec.abandon();
            let e = match e {
                MirrorError::NoSpace { available, .. } => MirrorError::NoSpace { needed, available },
                e => e,
            };
            if !matches!(e, MirrorError::DriveGone { .. }) {
                // Leave the drive as consistent as we can: drop temporary copies, fold the journal
                // into the manifest. If that fails too, the next run does it.
                let _ = std::fs::remove_dir_all(drive.join(TMP));
                let _ = std::fs::create_dir_all(drive.join(TMP));
                let _ = crate::partial::sweep(drive, false);
                let _ = manifest::recover(drive);
            }
            return Err(e);
        }
    };
    // Whatever a verify found damaged has just been copied again (or set aside).
    let _ = std::fs::remove_file(drive.join(DAMAGED));
    report.files_total = stats.files_total;
    report.bytes_total = stats.bytes_total;
    report.files_purged = purge(drive, opts, &progress, &report)?;
    progress.force(&Progress {
        phase: Phase::Done,
        files_total: report.files_total,
        bytes_total: report.bytes_total,
        files_done: report.files_total,
        bytes_done: report.bytes_total,
        files_copied: report.files_copied,
        bytes_copied: report.bytes_copied,
        current: None,
    });
    Ok(report)
}

/// The set-aside files listed in `.keepsake/deleted/*/index.txt` (newest day wins). Its size is
/// the number of files set aside within the kept days.
fn read_deleted(drive: &Path) -> std::collections::HashMap<Vec<u8>, (String, u64, i64, [u8; 32])> {
    let mut out = std::collections::HashMap::new();
    let Ok(rd) = std::fs::read_dir(drive.join(DELETED)) else { return out };
    let mut days: Vec<String> = rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    days.sort();
    for day in days {
        let Ok(text) = std::fs::read_to_string(drive.join(DELETED).join(&day).join("index.txt")) else { continue };
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if let [orig, rel, size, mtime, hash] = f.as_slice()
                && let (Ok(size), Ok(mtime), Ok(hash)) = (size.parse(), mtime.parse(), blake3::Hash::from_hex(hash))
            {
                out.insert(crate::names::unescape(orig), (format!("{day}/{rel}"), size, mtime, *hash.as_bytes()));
            }
        }
    }
    out
}

/// The drive paths listed in `.keepsake/damaged` by verify (small: only damaged entries).
fn read_damaged(drive: &Path) -> std::collections::HashSet<String> {
    std::fs::read_to_string(drive.join(DAMAGED)).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// Removes `.keepsake/deleted/<date>` folders older than `keep_deleted_days`; returns files removed.
fn purge(drive: &Path, opts: &MirrorOptions, progress: &Throttle, report: &MirrorReport) -> Result<u64, MirrorError> {
    let dir = drive.join(DELETED);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(drive_err_root(drive, &dir, e)),
    };
    let today = opts.now.date_naive();
    let mut purged = 0;
    for e in entries {
        let e = e.map_err(|e| drive_err_root(drive, &dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(date) = NaiveDate::parse_from_str(&name, "%Y-%m-%d") else { continue };
        if (today - date).num_days() < i64::from(opts.keep_deleted_days) {
            continue;
        }
        progress.force(&Progress {
            phase: Phase::Purging,
            files_total: report.files_total,
            bytes_total: report.bytes_total,
            files_done: report.files_total,
            bytes_done: report.bytes_total,
            files_copied: report.files_copied,
            bytes_copied: report.bytes_copied,
            current: Some(format!(".keepsake/deleted/{name}")),
        });
        let p = e.path();
        purged += count_files(&p);
        std::fs::remove_dir_all(&p).map_err(|e| drive_err_root(drive, &p, e))?;
    }
    Ok(purged)
}

fn count_files(dir: &Path) -> u64 {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) if e.file_name() != "index.txt" => n += 1,
                _ => {}
            }
        }
    }
    n
}
