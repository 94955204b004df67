//! Restore: writes `<dest>/<original path>` for selected files of the backup, atomically, with
//! their mtimes, checking BLAKE3 against the manifest while reading from the drive. Works from the
//! drive alone (manifest + journal), on any machine.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::fsutil::{fsync_dir, is_gone, system_time};
use crate::manifest::{Kind, Line};
use crate::names::display;
use crate::progress::Throttle;
use crate::verify::open_catalog;
use crate::{MirrorError, Phase, Progress, ProgressSink, RestoreOptions, RestoreReport, Selection};

fn wanted(sel: &Selection, l: &Line) -> bool {
    match sel {
        Selection::All => true,
        Selection::Paths(ps) => {
            let p = display(&l.orig);
            ps.iter().any(|s| {
                let s = s.trim_end_matches('/');
                // A file itself, or everything inside a selected folder.
                s.is_empty() || p == s || (p.len() > s.len() && p.starts_with(s) && p.as_bytes()[s.len()] == b'/')
            })
        }
    }
}

/// The target of an original path under `dest`, refusing anything that would escape it (a drive
/// written elsewhere is not trusted).
fn target(dest: &Path, orig: &[u8]) -> Option<PathBuf> {
    let mut t = dest.to_path_buf();
    for c in orig.split(|&b| b == b'/') {
        if c.is_empty() || c == b"." || c == b".." {
            return None;
        }
        t.push(OsStr::from_bytes(c));
    }
    Some(t)
}

fn local_err(path: &Path) -> impl Fn(io::Error) -> MirrorError + '_ {
    move |e| MirrorError::Source { path: path.to_path_buf(), source: e }
}

fn hash_local(path: &Path, buf: &mut [u8]) -> io::Result<[u8; 32]> {
    let mut f = File::open(path)?;
    let mut h = blake3::Hasher::new();
    loop {
        let k = f.read(buf)?;
        if k == 0 {
            return Ok(*h.finalize().as_bytes());
        }
        h.update(&buf[..k]);
    }
}

pub fn restore(
    drive: &Path,
    sel: &Selection,
    dest: &Path,
    opts: &RestoreOptions,
    sink: &dyn ProgressSink,
    cancel: &AtomicBool,
) -> Result<RestoreReport, MirrorError> {
    let progress = Throttle::new(sink);
    let (mut files_total, mut bytes_total) = (0u64, 0u64);
    let mut cat = open_catalog(drive)?;
    while let Some(l) = cat.next_line()? {
        if l.kind == Kind::File && wanted(sel, &l) {
            files_total += 1;
            bytes_total += l.size;
        }
    }
    std::fs::create_dir_all(dest).map_err(local_err(dest))?;
    let mut cat = open_catalog(drive)?;
    let mut report = RestoreReport::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut touched: BTreeSet<PathBuf> = BTreeSet::new();
    let mut n = 0u64;
    let (mut files_done, mut bytes_done) = (0u64, 0u64);
    while let Some(l) = cat.next_line()? {
        if !wanted(sel, &l) {
            continue;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(MirrorError::Cancelled);
        }
        let Some(t) = target(dest, &l.orig) else {
            return Err(MirrorError::Manifest {
                path: drive.join(crate::manifest::MANIFEST),
                line: 0,
                reason: format!("unsafe original path {:?}", display(&l.orig)),
            });
        };
        if l.kind == Kind::Dir {
            std::fs::create_dir_all(&t).map_err(local_err(&t))?;
            continue;
        }
        progress.maybe(&Progress {
            phase: Phase::Copying,
            files_total,
            bytes_total,
            files_done,
            bytes_done,
            files_copied: report.files_restored,
            bytes_copied: report.bytes_restored,
            current: Some(display(&l.orig)),
        });
        files_done += 1;
        bytes_done += l.size;
        if let Ok(m) = std::fs::symlink_metadata(&t) {
            let same = m.is_file() && m.len() == l.size && hash_local(&t, &mut buf).ok() == Some(l.hash);
            if same {
                let _ = File::options().write(true).open(&t).and_then(|f| f.set_modified(system_time(l.mtime)));
                report.files_unchanged += 1;
                continue;
            }
            if !opts.overwrite || m.is_dir() {
                report.conflicts.push(display(&l.orig));
                continue;
            }
        }
        let parent = t.parent().unwrap_or(dest).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(local_err(&parent))?;
        n += 1;
        let tmp = parent.join(format!(".keepsake-restore-{}-{n}.tmp", std::process::id()));
        let r = restore_file(drive, &l, &tmp, &t, cancel, &mut buf);
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r?;
        touched.insert(parent);
        report.files_restored += 1;
        report.bytes_restored += l.size;
        if touched.len() >= 64 {
            for d in std::mem::take(&mut touched) {
                fsync_dir(&d).map_err(local_err(&d))?;
            }
        }
    }
    for d in touched {
        fsync_dir(&d).map_err(local_err(&d))?;
    }
    progress.force(&Progress {
        phase: Phase::Done,
        files_total,
        bytes_total,
        files_done,
        bytes_done,
        files_copied: report.files_restored,
        bytes_copied: report.bytes_restored,
        current: None,
    });
    Ok(report)
}

fn restore_file(
    drive: &Path,
    l: &Line,
    tmp: &Path,
    t: &Path,
    cancel: &AtomicBool,
    buf: &mut [u8],
) -> Result<(), MirrorError> {
    let src = drive.join(&l.drive);
    let derr = |e: io::Error| {
        if is_gone(&e) || !drive.join(".keepsake").is_dir() {
            MirrorError::DriveGone { path: drive.to_path_buf() }
        } else {
            MirrorError::Drive { path: src.clone(), source: e }
        }
    };
    let mut input = File::open(&src).map_err(derr)?;
    let mut out = OpenOptions::new().write(true).create_new(true).open(tmp).map_err(local_err(tmp))?;
    let mut h = blake3::Hasher::new();
    let mut size = 0u64;
    let mut since = 0u64;
    loop {
        let k = match input.read(buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(derr(e)),
        };
        h.update(&buf[..k]);
        out.write_all(&buf[..k]).map_err(local_err(tmp))?;
        size += k as u64;
        since += k as u64;
        if since >= 8 << 20 {
            since = 0;
            if cancel.load(Ordering::Relaxed) {
                return Err(MirrorError::Cancelled);
            }
        }
    }
    if size != l.size || *h.finalize().as_bytes() != l.hash {
        return Err(MirrorError::Drive {
            path: src.clone(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the copy of {} on the drive differs from its manifest entry (size {} vs {}, or content): the drive copy is damaged; run a verify and restore this file from another backup",
                    display(&l.orig),
                    size,
                    l.size
                ),
            ),
        });
    }
    let when = system_time(l.mtime);
    out.set_times(std::fs::FileTimes::new().set_accessed(when).set_modified(when)).map_err(local_err(tmp))?;
    out.sync_all().map_err(local_err(tmp))?;
    drop(out);
    std::fs::rename(tmp, t).map_err(local_err(t))
}
