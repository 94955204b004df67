//! Copying one file onto the drive, on a worker thread: source → a temporary file beside the
//! destination (crate::partial) with
//! BLAKE3 of what is written, mtime set, optional read-back (the fsync is batched by the main thread). The rename into place is left
//! to the main thread, which does it in manifest order and records it in the journal.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::MirrorError;
use crate::fsutil::{drive_err_root, drop_cache, make_dirs, mtime_ns, system_time};

const BUF: usize = 1 << 20;
/// How often (in bytes) a big copy looks at the cancel flag.
const CANCEL_EVERY: u64 = 8 << 20;
/// exFAT keeps modification times to 2 s in its basic field; compare drive times with this slack.
pub const MTIME_SLACK_NS: i64 = 2_000_000_000;

pub struct Job {
    pub seq: u64,
    pub src: PathBuf,
    pub dst: PathBuf,
    pub tmp: PathBuf,
    pub adopt: bool,
    pub verify: bool,
    /// A set-aside copy to move back if its content still has this hash.
    pub revive: Option<(PathBuf, [u8; 32])>,
}

#[derive(Debug)]
pub enum Outcome {
    /// Written to `job.tmp`, fsynced; not yet in place.
    Copied { size: u64, mtime: i64, hash: [u8; 32], verified: bool },
    /// An identical copy was already at `job.dst` (from an interrupted run).
    Adopted { size: u64, mtime: i64, hash: [u8; 32] },
    /// The set-aside copy `job.revive` is identical: move it back into place.
    Revived { size: u64, mtime: i64, hash: [u8; 32] },
    /// The source could not be read: listed as skipped, never fatal.
    SourceUnreadable(String),
}

fn hash_file(f: &mut File, buf: &mut [u8]) -> io::Result<(u64, [u8; 32])> {
    let mut h = blake3::Hasher::new();
    let mut n = 0u64;
    loop {
        let k = f.read(buf)?;
        if k == 0 {
            return Ok((n, *h.finalize().as_bytes()));
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
}

/// Runs one job. Errors are fatal for the run (drive trouble, cancel); source trouble is an Outcome.
/// What all copy threads share.
#[derive(Clone, Copy)]
pub struct Shared<'a> {
    pub root: &'a Path,
    pub cancel: &'a AtomicBool,
    /// Bytes written so far by all copies, for progress.
    pub written: &'a AtomicU64,
    /// The drive's device number at the start (see [`make_dirs`]).
    pub root_dev: Option<u64>,
}

pub fn run(job: &Job, sh: Shared, buf: &mut Vec<u8>) -> Result<Outcome, MirrorError> {
    let root = sh.root;
    buf.resize(BUF, 0);
    let mut src = match File::open(&job.src) {
        Ok(f) => f,
        Err(e) => return Ok(Outcome::SourceUnreadable(format!("cannot open: {e}"))),
    };
    let meta = match src.metadata() {
        Ok(m) => m,
        Err(e) => return Ok(Outcome::SourceUnreadable(format!("cannot stat: {e}"))),
    };
    let mtime = mtime_ns(&meta);
    if let Some((from, hash)) = &job.revive
        && let Ok(m) = std::fs::symlink_metadata(from)
        && m.is_file()
        && m.len() == meta.len()
        && let Ok(mut f) = File::open(from)
        && let Ok((n, h)) = hash_file(&mut f, buf)
        && n == meta.len()
        && h == *hash
    {
        return Ok(Outcome::Revived { size: n, mtime, hash: h });
    }
    if job.adopt
        && let Some(o) = try_adopt(job, root, &mut src, meta.len(), mtime, buf)?
    {
        return Ok(o);
    }
    let derr = |e: io::Error| drive_err_root(root, &job.tmp, e);
    let create = || OpenOptions::new().write(true).create_new(true).open(&job.tmp);
    let mut out = match create() {
        // The folder's own step (in manifest order, on the main thread) may not have run yet.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let folder = job.tmp.parent().unwrap_or(root);
            make_dirs(root, sh.root_dev, folder)?;
            create()
        }
        r => r,
    }
    .map_err(derr)?;
    let res = copy_body(job, sh, &mut src, &mut out, buf, mtime);
    match res {
        Ok(Some(o)) => Ok(o),
        Ok(None) => {
            drop(out);
            let _ = std::fs::remove_file(&job.tmp);
            Ok(Outcome::SourceUnreadable("read failed".into()))
        }
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&job.tmp);
            Err(e)
        }
    }
}

fn copy_body(
    job: &Job,
    sh: Shared,
    src: &mut File,
    out: &mut File,
    buf: &mut [u8],
    mtime: i64,
) -> Result<Option<Outcome>, MirrorError> {
    let Shared { root, cancel, written, .. } = sh;
    let derr = |e: io::Error| drive_err_root(root, &job.tmp, e);
    let mut h = blake3::Hasher::new();
    let mut size = 0u64;
    let mut since_check = 0u64;
    loop {
        let k = match src.read(buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(None),
        };
        h.update(&buf[..k]);
        out.write_all(&buf[..k]).map_err(derr)?;
        size += k as u64;
        since_check += k as u64;
        written.fetch_add(k as u64, Ordering::Relaxed);
        if since_check >= CANCEL_EVERY {
            since_check = 0;
            if cancel.load(Ordering::Relaxed) {
                return Err(MirrorError::Cancelled);
            }
        }
    }
    let hash = *h.finalize().as_bytes();
    // atime too: exfat-fuse sets mtime to "now" when asked to change mtime alone.
    let t = system_time(mtime);
    out.set_times(std::fs::FileTimes::new().set_accessed(t).set_modified(t)).map_err(derr)?;
    // No fsync here: the main thread makes batches of copies durable with one barrier before
    // renaming them into place (an fsync per file costs a whole device flush on exfat-fuse).
    let mut verified = false;
    if job.verify {
        out.sync_all().map_err(derr)?;
        drop_cache(out);
        let mut back = File::open(&job.tmp).map_err(derr)?;
        drop_cache(&back);
        let (n, h2) = hash_file(&mut back, buf).map_err(derr)?;
        if n != size || h2 != hash {
            return Err(MirrorError::Drive {
                path: job.dst.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    "reading back the copy just written gave different content: the drive is failing; use another drive",
                ),
            });
        }
        verified = true;
    }
    Ok(Some(Outcome::Copied { size, mtime, hash, verified }))
}

/// A copy left in place by an interrupted run is kept when size, mtime (2 s) and content agree.
fn try_adopt(
    job: &Job,
    root: &Path,
    src: &mut File,
    size: u64,
    mtime: i64,
    buf: &mut [u8],
) -> Result<Option<Outcome>, MirrorError> {
    let m = match std::fs::symlink_metadata(&job.dst) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(drive_err_root(root, &job.dst, e)),
    };
    if !m.is_file() || m.len() != size || (mtime_ns(&m) - mtime).abs() > MTIME_SLACK_NS {
        return Ok(None);
    }
    let mut d = File::open(&job.dst).map_err(|e| drive_err_root(root, &job.dst, e))?;
    let (_, dh) = hash_file(&mut d, buf).map_err(|e| drive_err_root(root, &job.dst, e))?;
    let Ok((n, sh)) = hash_file(src, buf) else { return Ok(None) };
    if n == size && sh == dh {
        return Ok(Some(Outcome::Adopted { size, mtime, hash: sh }));
    }
    // Not the same: copy from the start.
    use std::io::Seek;
    src.rewind().map(|_| None).or(Ok(None))
}
