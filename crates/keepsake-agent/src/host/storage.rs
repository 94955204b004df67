//! Free-space probe of the state directory and the photo library.
//!
//! statvfs on a wedged mount (a dead NFS server, a hung FUSE filesystem, a dying disk) never
//! returns, so it runs through [`super::blocking`]: off the runtime, on its own thread, with a
//! deadline. A folder that does not answer is reported as such, naming the folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepsake_api::{Facility, FacilityKind};

use super::blocking::{self, Blocked};
use super::{degraded, missing, ok};

const K: FacilityKind = FacilityKind::Storage;

/// Below either of these, a path counts as low on space: photos keep arriving from phones, and a
/// full disk stops uploads and database writes alike.
const LOW_FRACTION: f64 = 0.10;
const LOW_BYTES: u64 = 2 * 1024 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub free: u64,
    pub total: u64,
}

impl Space {
    pub fn is_low(self) -> bool {
        self.free < LOW_BYTES || (self.total > 0 && (self.free as f64) < LOW_FRACTION * self.total as f64)
    }
}

pub fn space(path: &Path) -> std::io::Result<Space> {
    let s = rustix::fs::statvfs(path)?;
    Ok(Space { free: s.f_bavail * s.f_frsize, total: s.f_blocks * s.f_frsize })
}

/// What a hung folder's message ends with.
const HUNG: &str = "the filesystem may be hung";

/// Free space of `path`, asked on its own thread; no answer by `deadline` is an error.
pub async fn space_within(path: &Path, deadline: Instant) -> Result<std::io::Result<Space>, Blocked> {
    let owned: PathBuf = path.to_owned();
    blocking::run(&path.display().to_string(), deadline, HUNG, move || space(&owned)).await
}

/// Both folders are asked at once, with one deadline, so one hung folder costs `timeout` and not
/// `timeout` per folder.
pub async fn probe(state_dir: &Path, data_dir: &Path, timeout: Duration) -> Facility {
    let deadline = Instant::now() + timeout;
    let (state, photos) = tokio::join!(space_within(state_dir, deadline), space_within(data_dir, deadline));
    let mut parts = Vec::new();
    let mut low = Vec::new();
    for (what, path, answer) in [("state", state_dir, state), ("photos", data_dir, photos)] {
        let found = match answer {
            Ok(found) => found,
            Err(hung) => {
                return missing(
                    K,
                    hung.to_string(),
                    format!(
                        "The {what} folder {} does not answer. Check the disk or network share it is on and the kernel log (dmesg); a stuck mount may need `umount -l {}`.",
                        path.display(),
                        path.display()
                    ),
                );
            }
        };
        match found {
            Ok(s) => {
                parts.push(format!("{what} ({}): {} free of {}", path.display(), human(s.free), human(s.total)));
                if s.is_low() {
                    low.push(format!("{} ({})", what, path.display()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return missing(
                    K,
                    format!("the {what} folder {} does not exist", path.display()),
                    format!("Create {} or point Keepsake at the right folder.", path.display()),
                );
            }
            Err(e) => {
                return missing(K, format!("cannot read free space of {}: {e}", path.display()), "Check the disk.");
            }
        }
    }
    let detail = parts.join("; ");
    if low.is_empty() {
        ok(K, None, detail)
    } else {
        degraded(
            K,
            None,
            detail,
            format!("Little space left on {}. Free some space or add a disk before uploads stop.", low.join(" and ")),
        )
    }
}

/// Bytes for a person: 1.5 GiB.
pub use keepsake_api::human_bytes as human;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_space_thresholds() {
        let gib = 1024 * 1024 * 1024;
        assert!(Space { free: gib, total: 100 * gib }.is_low());
        assert!(Space { free: 5 * gib, total: 100 * gib }.is_low());
        assert!(!Space { free: 50 * gib, total: 100 * gib }.is_low());
    }

    #[test]
    fn humanizes_bytes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[tokio::test]
    async fn reads_real_free_space_and_reports_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let s = space(dir.path()).unwrap();
        assert!(s.total > 0 && s.free <= s.total);
        let f = probe(dir.path(), dir.path(), Duration::from_secs(5)).await;
        assert_ne!(f.state, keepsake_api::FacilityState::Missing, "{f:?}");
        let f = probe(dir.path(), &dir.path().join("nope"), Duration::from_secs(5)).await;
        assert_eq!(f.state, keepsake_api::FacilityState::Missing);
        assert!(f.detail.contains("nope"));
    }
}
