//! Mounting a drive at `<drives dir>/<UUID>` and unmounting it afterwards.
//!
//! The kernel's exfat driver first (`mount -t exfat`); when the kernel has none (older or minimal
//! kernels), the FUSE implementation (`mount.exfat-fuse`). A FUSE mount is served by a process:
//! unmounting returns before it has flushed and exited, so we wait for it, or "safe to remove"
//! could come while it still writes. A [`Mounted`] unmounts on drop too (lazily, as a last resort
//! when the job was dropped without its orderly unmount); mounts a dead agent left are removed at
//! start.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::DriveError;
use crate::host::command::{Ran, run};

const MOUNT_TIMEOUT: Duration = Duration::from_secs(60);
const UMOUNT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the FUSE process may take to exit after the unmount.
const FUSE_EXIT_WAIT: Duration = Duration::from_secs(20);

/// A drive mounted by us.
#[derive(Debug)]
pub struct Mounted {
    dir: PathBuf,
    device: PathBuf,
    fuse: bool,
    done: bool,
}

impl Mounted {
    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn device(&self) -> &Path {
        &self.device
    }

    /// Whether it is served by exfat-fuse (the kernel had no exfat driver).
    pub fn is_fuse(&self) -> bool {
        self.fuse
    }

    /// Capacity and free bytes of the mounted filesystem.
    pub fn space(&self) -> Option<(u64, u64)> {
        let s = nix::sys::statvfs::statvfs(&self.dir).ok()?;
        let frag = s.fragment_size() as u64;
        Some((s.blocks() as u64 * frag, s.blocks_available() as u64 * frag))
    }

    /// Unmounts and waits until the drive is no longer in use.
    pub async fn unmount(mut self) -> Result<(), DriveError> {
        self.done = true;
        unmount_dir(&self.dir).await
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if !self.done {
            // The orderly unmount did not run (the job was dropped or panicked): detach it now so
            // the mount does not outlive the job; `clean_stale` also catches it at the next start.
            tracing::warn!(dir = %self.dir.display(), "unmounting a drive a job left mounted");
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.dir).status();
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Mounts `device` (holding the filesystem `uuid`) at `<base>/<uuid>`.
pub async fn mount(base: &Path, uuid: &str, device: &Path) -> Result<Mounted, DriveError> {
    let dir = base.join(uuid);
    if is_mountpoint(&dir) {
        // Left by an interrupted run of this agent (or a previous one): start from a clean state.
        unmount_dir(&dir).await?;
    }
    // 0700: only root may look inside a mounted drive (the family's photos).
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(DriveError::io(format!("cannot create {}", dir.display())))?;
    let (dev, target) = (device.to_string_lossy().into_owned(), dir.to_string_lossy().into_owned());
    let kernel = run("mount", &["-t", "exfat", "-o", "noatime", &dev, &target], MOUNT_TIMEOUT).await;
    let fuse = match kernel {
        Ran::Ok(_) => false,
        kernel => {
            tracing::info!(device = dev, why = ?kernel, "the kernel cannot mount exFAT; trying exfat-fuse");
            match run("mount.exfat-fuse", &["-o", "noatime", &dev, &target], MOUNT_TIMEOUT).await {
                Ran::Ok(_) => true,
                fuse => {
                    let _ = tokio::fs::remove_dir(&dir).await;
                    return Err(DriveError::Mount(format!(
                        "cannot mount {dev} ({uuid}): the kernel said {}, exfat-fuse said {}. Check that the drive is \
                         exFAT and not damaged (try it on a computer), and that exfatprogs or exfat-fuse is installed",
                        words(&kernel),
                        words(&fuse)
                    )));
                }
            }
        }
    };
    if !is_mountpoint(&dir) {
        return Err(DriveError::Mount(format!("{dev} was mounted at {target}, but nothing is mounted there now")));
    }
    tracing::info!(device = dev, dir = target, fuse, "drive mounted");
    Ok(Mounted { dir, device: device.to_owned(), fuse, done: false })
}

fn words(r: &Ran) -> String {
    match r {
        Ran::Ok(_) => "nothing wrong".into(),
        Ran::Failed(e) => format!("\"{}\"", e.trim()),
        Ran::NotFound => "that it is not installed".into(),
        Ran::TimedOut => "nothing within a minute".into(),
        Ran::Error(e) => format!("\"{e}\""),
    }
}

/// Unmounts whatever is mounted at `dir` (nothing: fine), waits for a FUSE process serving it to
/// exit, and removes the empty folder.
pub async fn unmount_dir(dir: &Path) -> Result<(), DriveError> {
    let target = dir.to_string_lossy().into_owned();
    let mut tries = 0;
    while is_mountpoint(dir) {
        tries += 1;
        match run("umount", &[&target], UMOUNT_TIMEOUT).await {
            Ran::Ok(_) => {}
            // A drive pulled out under a FUSE mount leaves a dead mount ("transport endpoint is
            // not connected"), and a busy one may free itself in a moment: retry, then detach.
            other if tries < 5 => {
                tracing::warn!(dir = target, why = ?other, "unmount failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => {
                tracing::warn!(dir = target, why = ?other, "unmount keeps failing; detaching the mount");
                if let Ran::Failed(e) | Ran::Error(e) = run("umount", &["-l", &target], UMOUNT_TIMEOUT).await {
                    return Err(DriveError::Mount(format!(
                        "cannot unmount {target}: {e}. Something may still use the drive; do not pull it out yet"
                    )));
                }
            }
        }
    }
    wait_fuse_exit(dir).await;
    match tokio::fs::remove_dir(dir).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(dir = target, error = %e, "cannot remove the drive's mount folder"),
    }
    Ok(())
}

/// Waits until no process has `dir` among its arguments (the exfat-fuse server of that mount).
async fn wait_fuse_exit(dir: &Path) {
    let deadline = Instant::now() + FUSE_EXIT_WAIT;
    while fuse_server_running(dir) {
        if Instant::now() > deadline {
            tracing::warn!(dir = %dir.display(), "the exfat-fuse process did not exit after the unmount");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fuse_server_running(dir: &Path) -> bool {
    let want = dir.as_os_str().as_encoded_bytes();
    let Ok(rd) = std::fs::read_dir("/proc") else { return false };
    rd.flatten().filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit())).any(|e| {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { return false };
        let mut args = cmd.split(|b| *b == 0);
        let is_fuse = args.next().is_some_and(|a0| a0.ends_with(b"exfat-fuse") || a0.ends_with(b"mount.exfat"));
        is_fuse && args.any(|a| a == want)
    })
}

/// True when something is mounted at `dir` (its device differs from its parent's, or the kernel
/// lists it: a dead FUSE mount cannot be stat'ed).
pub fn is_mountpoint(dir: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountpoints(&text).iter().any(|m| m == dir)
}

fn mountpoints(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo.lines().filter_map(|l| l.split(' ').nth(4)).map(|m| PathBuf::from(super::devices::unescape(m))).collect()
}

/// Unmounts whatever is mounted under `base` (left by a dead agent) and removes empty folders.
pub async fn clean_stale(base: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for m in mountpoints(&text) {
        if m.starts_with(base) && m != base {
            tracing::warn!(dir = %m.display(), "unmounting a drive a previous agent left mounted");
            if let Err(e) = unmount_dir(&m).await {
                tracing::error!(dir = %m.display(), error = %e, "cannot unmount a stale drive mount");
            }
        }
    }
    if let Ok(mut rd) = tokio::fs::read_dir(base).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            if !is_mountpoint(&e.path()) {
                let _ = tokio::fs::remove_dir(e.path()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountpoints_are_read_from_mountinfo_with_escapes() {
        let info = "22 1 8:2 / / rw - ext4 /dev/sda2 rw\n40 22 0:55 / /run/keepsake/drives/A\\040B rw - fuseblk /dev/loop3 rw\n";
        assert_eq!(mountpoints(info), vec![PathBuf::from("/"), PathBuf::from("/run/keepsake/drives/A B")]);
    }
}
