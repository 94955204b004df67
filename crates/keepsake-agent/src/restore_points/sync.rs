//! Makes a folder tree the same as a snapshot's (read from a clone of it): every file whose size,
//! modification time or mode differs is copied back (to a temporary name, synced, then renamed
//! over, so a file is never half-restored), files and folders the snapshot does not have are
//! removed, and owners, modes and times are set as the snapshot has them.
//!
//! Why not `zfs rollback`: rolling back to anything but the newest snapshot destroys every newer
//! one, the pre-restore point's among them, and the restore could then not be undone.
//!
//! Blocking file IO throughout; the caller runs it on a blocking thread.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub files_written: u64,
    pub files_removed: u64,
    pub bytes_copied: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot restore {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is not in this restore point")]
    Missing(String),
    #[error("cancelled")]
    Cancelled,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SyncError + '_ {
    move |source| SyncError::Io { path: path.to_owned(), source }
}

/// How a sync reports, is stopped, and which files it must compare byte by byte.
pub struct Hooks<'a> {
    /// Bytes copied so far.
    pub progress: &'a dyn Fn(u64),
    /// True when the sync should stop (between files).
    pub cancelled: &'a dyn Fn() -> bool,
    /// Files modified at or after this time (the snapshot's, less a margin) are compared by
    /// content even when size, times, mode and owner all match: a file rewritten with the same
    /// size within the same second as the snapshot has the same coarse timestamps (zfs-fuse keeps
    /// whole seconds). `None`: compare every such file.
    pub verify_from: Option<std::time::SystemTime>,
}

/// Makes `dst` the same as `src`: copies what differs and removes what `src` lacks.
pub fn mirror(src: &Path, dst: &Path, hooks: &Hooks<'_>) -> Result<SyncStats, SyncError> {
    let mut stats = SyncStats::default();
    sync_dir(src, dst, true, hooks, &mut stats)?;
    Ok(stats)
}

/// Brings back `paths` (relative, files or folders) from `src` into `dst`, leaving everything else
/// alone; a folder is restored with everything in it, and files added to it since are kept.
pub fn restore_paths(src: &Path, dst: &Path, paths: &[PathBuf], hooks: &Hooks<'_>) -> Result<SyncStats, SyncError> {
    let mut stats = SyncStats::default();
    for rel in paths {
        refuse_links_on_the_way(dst, rel)?;
        let (from, to) = (src.join(rel), dst.join(rel));
        let meta = fs::symlink_metadata(&from).map_err(|_| SyncError::Missing(rel.display().to_string()))?;
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        if meta.is_dir() {
            sync_dir(&from, &to, false, hooks, &mut stats)?;
        } else {
            sync_entry(&from, &to, &meta, false, hooks, &mut stats)?;
        }
    }
    Ok(stats)
}

/// The folders leading to `rel` inside `dst` must be real folders: the library is written by
/// Immich's containers, and a symbolic link planted there must not lead a root process's writes
/// out of the library.
fn refuse_links_on_the_way(dst: &Path, rel: &Path) -> Result<(), SyncError> {
    let mut at = dst.to_owned();
    let parents: Vec<_> = rel.parent().map(|p| p.components().collect()).unwrap_or_default();
    for c in parents {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(SyncError::Io {
                    path: at.clone(),
                    source: io::Error::other("is a symbolic link in the library; refusing to write through it"),
                });
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn sync_dir(
    src: &Path,
    dst: &Path,
    remove_extra: bool,
    hooks: &Hooks<'_>,
    stats: &mut SyncStats,
) -> Result<(), SyncError> {
    match fs::symlink_metadata(dst) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            fs::remove_file(dst).map_err(io_at(dst))?;
            fs::create_dir(dst).map_err(io_at(dst))?;
        }
        Err(_) => fs::create_dir(dst).map_err(io_at(dst))?,
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(src).map_err(io_at(src))? {
        let entry = entry.map_err(io_at(src))?;
        names.push(entry.file_name());
        if (hooks.cancelled)() {
            return Err(SyncError::Cancelled);
        }
        let meta = entry.metadata().map_err(io_at(&entry.path()))?;
        sync_entry(&entry.path(), &dst.join(entry.file_name()), &meta, remove_extra, hooks, stats)?;
    }
    if remove_extra {
        for entry in fs::read_dir(dst).map_err(io_at(dst))? {
            let entry = entry.map_err(io_at(dst))?;
            if !names.contains(&entry.file_name()) {
                remove_any(&entry.path(), stats)?;
            }
        }
    }
    set_attrs(dst, &fs::symlink_metadata(src).map_err(io_at(src))?)
}

fn sync_entry(
    from: &Path,
    to: &Path,
    meta: &fs::Metadata,
    remove_extra: bool,
    hooks: &Hooks<'_>,
    stats: &mut SyncStats,
) -> Result<(), SyncError> {
    let ft = meta.file_type();
    if ft.is_dir() {
        return sync_dir(from, to, remove_extra, hooks, stats);
    }
    let existing = fs::symlink_metadata(to).ok();
    if ft.is_symlink() {
        let target = fs::read_link(from).map_err(io_at(from))?;
        if existing.is_some() {
            if existing.as_ref().is_some_and(|m| m.file_type().is_symlink())
                && fs::read_link(to).ok().as_ref() == Some(&target)
            {
                return Ok(());
            }
            remove_any(to, stats)?;
        }
        symlink(&target, to).map_err(io_at(to))?;
        let _ = std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()));
        stats.files_written += 1;
        return Ok(());
    }
    if !ft.is_file() {
        // Sockets, fifos and devices have no place in a photo library.
        return Ok(());
    }
    if let Some(m) = &existing {
        if m.is_file() && same_file(m, meta) {
            // Near the snapshot's time the timestamps cannot tell; the bytes can.
            let unchanged = !near_snapshot(meta, hooks) || same_content(from, to)?;
            if unchanged {
                return Ok(());
            }
        }
        if m.is_dir() {
            remove_any(to, stats)?;
        }
    }
    copy_file(from, to, meta, hooks, stats)
}

/// The quick check. ctime is included: nobody can set it, so a rewrite that put the old mtime
/// back still shows (a clone keeps the snapshot's ctimes, so unchanged files match).
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.len() == b.len()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.ctime() == b.ctime()
        && a.ctime_nsec() == b.ctime_nsec()
        && a.mode() == b.mode()
        && a.uid() == b.uid()
        && a.gid() == b.gid()
}

fn near_snapshot(meta: &fs::Metadata, hooks: &Hooks<'_>) -> bool {
    match (hooks.verify_from, meta.modified()) {
        (Some(from), Ok(modified)) => modified >= from,
        _ => true,
    }
}

fn same_content(a: &Path, b: &Path) -> Result<bool, SyncError> {
    use std::io::Read;
    let (mut fa, mut fb) = (File::open(a).map_err(io_at(a))?, File::open(b).map_err(io_at(b))?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut fa, &mut ba).map_err(io_at(a))?;
        let m = read_full(&mut fb, &mut bb).map_err(io_at(b))?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }

    fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }
}

fn copy_file(
    from: &Path,
    to: &Path,
    meta: &fs::Metadata,
    hooks: &Hooks<'_>,
    stats: &mut SyncStats,
) -> Result<(), SyncError> {
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = to.with_file_name(format!(".keepsake-restore-{}-{name}", std::process::id()));
    let result = (|| {
        let mut input = File::open(from).map_err(io_at(from))?;
        let mut output = File::create(&tmp).map_err(io_at(&tmp))?;
        let n = io::copy(&mut input, &mut output).map_err(io_at(&tmp))?;
        output.sync_all().map_err(io_at(&tmp))?;
        drop(output);
        set_attrs(&tmp, meta)?;
        fs::rename(&tmp, to).map_err(io_at(to))?;
        Ok(n)
    })();
    match result {
        Ok(n) => {
            stats.files_written += 1;
            stats.bytes_copied += n;
            (hooks.progress)(stats.bytes_copied);
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn set_attrs(path: &Path, meta: &fs::Metadata) -> Result<(), SyncError> {
    // Owner first: chown clears set-id bits, which the mode then puts back.
    let _ = std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()));
    fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777)).map_err(io_at(path))?;
    let times = fs::FileTimes::new().set_modified(meta.modified().map_err(io_at(path))?);
    if let Ok(m) = meta.accessed() {
        let _ = times.set_accessed(m);
    }
    File::options()
        .read(true)
        .open(path)
        .and_then(|f| f.set_times(times))
        .or_else(|e| if meta.is_dir() { Ok(()) } else { Err(e) })
        .map_err(io_at(path))
}

fn remove_any(path: &Path, stats: &mut SyncStats) -> Result<(), SyncError> {
    let meta = fs::symlink_metadata(path).map_err(io_at(path))?;
    if meta.is_dir() {
        stats.files_removed += count_files(path);
        fs::remove_dir_all(path).map_err(io_at(path))
    } else {
        stats.files_removed += 1;
        fs::remove_file(path).map_err(io_at(path))
    }
}

fn count_files(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten().map(|e| if e.file_type().is_ok_and(|t| t.is_dir()) { count_files(&e.path()) } else { 1 }).sum()
        })
        .unwrap_or(0)
}

/// Removes everything inside `dir`, keeping `dir` itself (a dataset's mountpoint).
pub fn empty_dir(dir: &Path) -> Result<u64, SyncError> {
    let mut stats = SyncStats::default();
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        remove_any(&entry.map_err(io_at(dir))?.path(), &mut stats)?;
    }
    Ok(stats.files_removed)
}

/// Bytes and files in a tree (for the wizard's impact summary).
pub fn measure(dir: &Path) -> (u64, u64) {
    let (mut bytes, mut files) = (0, 0);
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => {
                    let (b, f) = measure(&e.path());
                    bytes += b;
                    files += f;
                }
                Ok(m) => {
                    bytes += m.len();
                    files += 1;
                }
                Err(_) => {}
            }
        }
    }
    (bytes, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks() -> Hooks<'static> {
        Hooks { progress: &|_| {}, cancelled: &|| false, verify_from: None }
    }

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    fn tree(dir: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
            let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let rel = e.path().strip_prefix(base).unwrap().display().to_string();
                let m = fs::symlink_metadata(e.path()).unwrap();
                if m.file_type().is_symlink() {
                    out.push((rel, format!("-> {}", fs::read_link(e.path()).unwrap().display())));
                } else if m.is_dir() {
                    out.push((rel.clone(), "dir".into()));
                    walk(base, &e.path(), out);
                } else {
                    out.push((rel, fs::read_to_string(e.path()).unwrap()));
                }
            }
        }
        walk(dir, dir, &mut out);
        out
    }

    #[test]
    fn mirror_brings_back_changed_and_deleted_files_and_removes_new_ones() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("snap"), t.path().join("live"));
        write(&src.join("upload/a.jpg"), "A");
        write(&src.join("upload/b.jpg"), "B");
        write(&src.join("library/x/c.jpg"), "C");
        symlink("a.jpg", src.join("upload/link")).unwrap();
        fs::set_permissions(src.join("upload/b.jpg"), fs::Permissions::from_mode(0o600)).unwrap();
        // The live tree: same start, then changed.
        mirror(&src, &dst, &hooks()).unwrap();
        write(&dst.join("upload/a.jpg"), "changed");
        fs::remove_file(dst.join("upload/b.jpg")).unwrap();
        write(&dst.join("upload/new.jpg"), "N");
        write(&dst.join("newdir/d.jpg"), "D");
        let stats = mirror(&src, &dst, &hooks()).unwrap();
        assert_eq!(tree(&dst), tree(&src));
        assert_eq!(fs::metadata(dst.join("upload/b.jpg")).unwrap().mode() & 0o777, 0o600);
        // Two removed; at least the two changed ones written (plain folders cannot share ctimes
        // as a clone and its origin do, so the unchanged file counts as different here).
        assert!(stats.files_removed == 2 && stats.files_written >= 2, "{stats:?}");
        assert_eq!(mirror(&src, &dst, &hooks()).unwrap().files_removed, 0);
        assert_eq!(tree(&dst), tree(&src));
    }

    #[test]
    fn restoring_paths_touches_nothing_else_and_refuses_what_the_point_lacks() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("snap"), t.path().join("live"));
        write(&src.join("upload/a.jpg"), "A");
        write(&src.join("upload/album/b.jpg"), "B");
        write(&dst.join("upload/other.jpg"), "O");
        write(&dst.join("upload/album/new.jpg"), "N");
        let stats =
            restore_paths(&src, &dst, &[PathBuf::from("upload/a.jpg"), PathBuf::from("upload/album")], &hooks())
                .unwrap();
        assert_eq!(stats.files_written, 2);
        assert_eq!(fs::read_to_string(dst.join("upload/a.jpg")).unwrap(), "A");
        assert_eq!(fs::read_to_string(dst.join("upload/album/b.jpg")).unwrap(), "B");
        assert_eq!(fs::read_to_string(dst.join("upload/other.jpg")).unwrap(), "O");
        assert_eq!(fs::read_to_string(dst.join("upload/album/new.jpg")).unwrap(), "N");
        let err = restore_paths(&src, &dst, &[PathBuf::from("upload/nope.jpg")], &hooks()).unwrap_err();
        assert!(matches!(err, SyncError::Missing(p) if p == "upload/nope.jpg"));
    }

    #[test]
    fn a_planted_symlink_never_leads_writes_out_of_the_library() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst, outside) = (t.path().join("snap"), t.path().join("live"), t.path().join("outside"));
        write(&src.join("upload/anna/a.jpg"), "A");
        fs::create_dir_all(dst.join("upload")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        symlink(&outside, dst.join("upload/anna")).unwrap();
        let err = restore_paths(&src, &dst, &[PathBuf::from("upload/anna/a.jpg")], &hooks()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "nothing was written outside");
        // A whole-tree mirror replaces the link with the real folder instead.
        mirror(&src, &dst, &hooks()).unwrap();
        assert!(fs::symlink_metadata(dst.join("upload/anna")).unwrap().is_dir());
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn a_same_size_rewrite_with_the_same_times_is_caught_near_the_snapshot() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("snap"), t.path().join("live"));
        write(&src.join("a.jpg"), "first photo");
        mirror(&src, &dst, &hooks()).unwrap();
        // Same size, and the mtime put back: only the content differs (and the ctime, which a
        // real snapshot would share but two folders here cannot).
        write(&dst.join("a.jpg"), "overwritten");
        let mtime = fs::metadata(src.join("a.jpg")).unwrap().modified().unwrap();
        File::options().write(true).open(dst.join("a.jpg")).unwrap().set_modified(mtime).unwrap();
        let long_before = Hooks { verify_from: Some(mtime - std::time::Duration::from_secs(2)), ..hooks() };
        mirror(&src, &dst, &long_before).unwrap();
        assert_eq!(fs::read_to_string(dst.join("a.jpg")).unwrap(), "first photo");
        assert!(same_content(&src.join("a.jpg"), &dst.join("a.jpg")).unwrap());
        write(&dst.join("b"), "abc");
        assert!(!same_content(&src.join("a.jpg"), &dst.join("b")).unwrap());
    }

    #[test]
    fn a_cancel_stops_between_files_and_leaves_no_temporary_file() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("snap"), t.path().join("live"));
        for i in 0..10 {
            write(&src.join(format!("f{i}")), "x");
        }
        let stop = Hooks { progress: &|_| {}, cancelled: &|| true, verify_from: None };
        assert!(matches!(mirror(&src, &dst, &stop), Err(SyncError::Cancelled)));
        assert!(
            fs::read_dir(&dst).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with(".keepsake"))
        );
        assert_eq!(empty_dir(&src).unwrap(), 10);
        assert_eq!(measure(&src), (0, 0));
    }
}
