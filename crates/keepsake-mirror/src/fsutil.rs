//! Small filesystem helpers: errno classification for the drive, fsync of folders, free space,
//! atomic small-file writes.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::MirrorError;

/// True when an error means the drive itself went away (unplugged, FUSE daemon dead, read-only
/// remount after errors), as opposed to one file being wrong.
pub fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::ENODEV | libc::ENOTCONN | libc::ENXIO | libc::ESHUTDOWN | libc::EROFS | libc::ENOMEDIUM)
    )
}

pub fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Maps an error of a drive operation to the public error.
pub fn drive_err(path: &Path, e: io::Error) -> MirrorError {
    if is_gone(&e) {
        MirrorError::DriveGone { path: path.to_path_buf() }
    } else if is_no_space(&e) {
        let available = free_bytes(path).unwrap_or(0);
        MirrorError::NoSpace { needed: 0, available }
    } else {
        MirrorError::Drive { path: path.to_path_buf(), source: e }
    }
}

/// Like [`drive_err`], but a drive whose root has vanished is DriveGone whatever the errno said.
pub fn drive_err_root(root: &Path, path: &Path, e: io::Error) -> MirrorError {
    if !root.join(".keepsake").is_dir() {
        return MirrorError::DriveGone { path: root.to_path_buf() };
    }
    drive_err(path, e)
}

/// The device number of `path` (the drive's root), to tell the drive from the folder it was
/// mounted on once it has been pulled and lazily unmounted.
pub fn dev_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| std::os::unix::fs::MetadataExt::dev(&m))
}

/// `create_dir_all` on the drive, refused with DriveGone when `root` is no longer the drive it was
/// at the start (`root_dev`): a pulled, lazily unmounted drive leaves its empty mount point behind,
/// and folders made there would take the rest of the backup onto the appliance's own disk.
pub fn make_dirs(root: &Path, root_dev: Option<u64>, dir: &Path) -> Result<(), MirrorError> {
    if dev_of(root) != root_dev || !root.join(".keepsake").is_dir() {
        return Err(MirrorError::DriveGone { path: root.to_path_buf() });
    }
    std::fs::create_dir_all(dir).map_err(|e| drive_err_root(root, dir, e))
}

/// Bytes available to us on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    statvfs(path).map(|(free, _)| free)
}

/// (bytes available, allocation unit) of the filesystem holding `path`.
pub fn statvfs(path: &Path) -> io::Result<(u64, u64)> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((st.f_bavail as u64 * st.f_frsize as u64, (st.f_frsize as u64).max(1)))
}

/// fsync of a folder, so renames in it are durable. Some FUSE filesystems refuse it; that is not
/// an error (there is nothing more we can do there).
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|f| f.sync_all()) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EBADF)) => {
            Ok(())
        }
        r => r,
    }
}

/// Writes a small file atomically: temp file in the same folder, fsync, rename, fsync the folder.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tmp_sibling(path);
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        fsync_dir(dir)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

pub fn tmp_sibling(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Drops the page cache of a file so a read-back really reads the drive.
pub fn drop_cache(f: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain advisory call on an open descriptor.
    unsafe {
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
    }
}

/// Modification time in nanoseconds since the epoch.
pub fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec())
}

pub fn system_time(ns: i64) -> std::time::SystemTime {
    let base = std::time::UNIX_EPOCH;
    if ns >= 0 {
        base + std::time::Duration::from_nanos(ns as u64)
    } else {
        base - std::time::Duration::from_nanos(ns.unsigned_abs())
    }
}
