//! Reaching a drive's backup to read it (browse, verify, restore), and browsing it.
//!
//! Which drives: any attached drive whose filesystem holds a Keepsake backup (a
//! `.keepsake/manifest.v1`), enrolled here or not. A drive written by another appliance (after a
//! fire, a theft, a move to new hardware) is not enrolled on this one, and must still restore:
//! the `{uuid}` of the drive routes is then the filesystem UUID of an *attached* device, found
//! through udev as the listing shows it. Such a drive is only read (browsed and restored from):
//! it is never enrolled or backed up to by these operations. Verifying (`verify.rs`) needs an
//! enrolled drive, since its result goes into that drive's history and alerts.
//!
//! Mounting: the drive is mounted (under `<drives dir>/UUID`, by `mount.rs`) only while it is
//! read, and unmounted afterwards. A drive already mounted there (by a running backup or
//! restore) is read where it is and left mounted; the mirror replaces its manifest atomically,
//! so a browse during a backup sees the old or the new listing, never half of one.

use std::path::{Path, PathBuf};

use keepsake_api::{DriveFileEntry, DriveFileList};

use super::mount::{self, Mounted};
use super::restore::DriveOpError;
use super::{DriveError, Inner};

/// A drive opened for reading: where its backup is, and what this box knows of it.
pub(crate) struct Opened {
    pub path: PathBuf,
    /// The name it was enrolled under here; `None`: not enrolled (another appliance's drive).
    pub enrolled_as: Option<String>,
    /// Our mount, when we mounted it (unmounted by `close`, or lazily on drop after an error).
    mounted: Option<Mounted>,
}

impl Opened {
    /// How messages name the drive.
    pub fn label(&self, uuid: &str) -> String {
        self.enrolled_as.clone().unwrap_or_else(|| format!("drive {uuid}"))
    }

    /// Unmounts the drive if we mounted it (waiting until it is really released).
    pub async fn close(mut self) {
        if let Some(m) = self.mounted.take()
            && let Err(e) = m.unmount().await
        {
            tracing::warn!(error = %e, "cannot unmount a drive after reading it");
        }
    }
}

/// Opens the drive with filesystem `uuid` for reading: enrolled or not, it must be attached (or
/// already mounted by a job of ours, then read where it is).
pub(crate) async fn open(d: &Inner, uuid: &str) -> Result<Opened, DriveOpError> {
    let enrolled_as = d.store.drive(uuid).map_err(DriveError::from)?.map(|r| r.config.name);
    let dir = d.config.drives_dir.join(uuid);
    if mount::is_mountpoint(&dir) {
        return Ok(Opened { path: dir, enrolled_as, mounted: None });
    }
    let attached = d.attached().await?;
    let dev = attached
        .into_iter()
        .find(|a| a.fs_uuid.as_deref() == Some(uuid))
        .ok_or_else(|| DriveOpError::NoDrive(uuid.to_owned()))?;
    if dev.system {
        return Err(DriveOpError::Refused(format!(
            "{} ({uuid}) is part of the system (mounted elsewhere, or in a pool); it is not a backup drive",
            dev.device
        )));
    }
    let m = mount::mount(&d.config.drives_dir, uuid, Path::new(&dev.device)).await?;
    Ok(Opened { path: m.path().to_owned(), enrolled_as, mounted: Some(m) })
}

/// Browsing mounts a drive for one request; two at once must not mount it twice (the second
/// mount would take the first one's away).
static BROWSING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `GET …/files`: a folder of the backup on a drive, mounted only while it is read.
pub(crate) async fn browse(d: &Inner, uuid: &str, path: &str) -> Result<DriveFileList, DriveOpError> {
    let _one = BROWSING.lock().await;
    let drive = open(d, uuid).await?;
    let listed = files(&drive, uuid, path).await;
    drive.close().await;
    listed
}

/// The names of the drive's top folders that are Immich's (restored into its UPLOAD_LOCATION).
pub(crate) const IMMICH_SOURCES: [&str; 6] = ["library", "upload", "profile", "backups", "thumbs", "encoded-video"];

/// The folder holding Keepsake's own files on a drive (the database dump, the configuration).
pub(crate) const KEEPSAKE_SOURCE: &str = "keepsake";

impl super::Drives {
    /// A folder of the backup on a drive (enrolled or only attached), by its original names.
    pub async fn files(&self, uuid: &str, path: &str) -> Result<DriveFileList, DriveOpError> {
        browse(&self.inner, uuid, path).await
    }

    /// Checks a restore from a drive and queues it (see `restore.rs`).
    pub async fn submit_restore(
        &self,
        restore_points: &std::sync::Arc<crate::restore_points::RestorePoints>,
        uuid: &str,
        r: &keepsake_api::DriveRestoreRequest,
        by: &str,
    ) -> Result<keepsake_api::Job, DriveOpError> {
        super::restore::submit(&self.inner, restore_points, uuid, r, by).await
    }
}

/// A folder of the backup on a drive, by original names, folders first.
pub(crate) async fn files(drive: &Opened, uuid: &str, path: &str) -> Result<DriveFileList, DriveOpError> {
    if !path.is_empty() {
        super::restore::check_path(path, false)?;
    }
    let (root, dir) = (drive.path.clone(), path.to_owned());
    let (summary, listed) = tokio::task::spawn_blocking(move || {
        let summary = keepsake_mirror::summary(&root)?;
        let listed = match &summary {
            Some(_) => keepsake_mirror::list(&root, &dir).map(Some)?,
            None => None,
        };
        Ok::<_, keepsake_mirror::MirrorError>((summary, listed))
    })
    .await
    .map_err(|e| DriveOpError::Failed(format!("reading the drive stopped: {e}")))??;
    let (Some(summary), Some(listed)) = (summary, listed) else {
        return Err(DriveOpError::NotABackup(uuid.to_owned()));
    };
    let (entries, truncated) = entries(listed);
    if entries.is_empty() && !path.is_empty() {
        return Err(DriveOpError::NotFound(format!("{path:?} on drive {uuid} (no such folder in its backup)")));
    }
    Ok(DriveFileList {
        uuid: uuid.to_owned(),
        path: path.to_owned(),
        written_by: summary.written_by,
        last_run: summary.last_run,
        entries,
        truncated,
    })
}

/// Folders first, then files, each by name; at most the API's listing limit.
fn entries(mut listed: Vec<keepsake_mirror::Entry>) -> (Vec<DriveFileEntry>, bool) {
    listed.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));
    let max = keepsake_api::limits::RESTORE_LIST_MAX;
    let truncated = listed.len() > max;
    let entries = listed
        .into_iter()
        .take(max)
        .map(|e| DriveFileEntry { name: e.name, dir: e.dir, size: e.size, files: e.files })
        .collect();
    (entries, truncated)
}

/// Every file path (original, `/`-separated) the backup holds under `dir`, and every folder
/// leading to one, from the manifest in one pass. Used to know which live files a whole-instance
/// restore must remove; any error stops before anything is removed.
pub(crate) fn tree(drive: &Path, dir: &str) -> Result<Tree, keepsake_mirror::MirrorError> {
    let mut out = Tree::default();
    out.dirs.insert(dir.to_owned());
    for f in keepsake_mirror::files(drive, dir)? {
        let mut at = f.as_str();
        while let Some((parent, _)) = at.rsplit_once('/') {
            if !out.dirs.insert(parent.to_owned()) {
                break;
            }
            at = parent;
        }
        out.files.insert(f);
    }
    Ok(out)
}

#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub files: std::collections::HashSet<String>,
    pub dirs: std::collections::HashSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_of_a_real_backup_has_every_file_and_the_folders_leading_to_them() {
        let (src, drive) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for f in ["admin/2024/a.jpg", "admin/2024/b.jpg", "admin/c.jpg", "ben/d e.jpg"] {
            std::fs::create_dir_all(src.path().join(f).parent().unwrap()).unwrap();
            std::fs::write(src.path().join(f), f).unwrap();
        }
        let sources = [keepsake_mirror::Source { name: "library".into(), root: src.path().to_owned() }];
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let opts = keepsake_mirror::MirrorOptions::default();
        keepsake_mirror::mirror(drive.path(), &sources, &opts, &keepsake_mirror::NoProgress, &cancel).unwrap();
        let t = tree(drive.path(), "library").unwrap();
        let mut files: Vec<&str> = t.files.iter().map(String::as_str).collect();
        files.sort();
        assert_eq!(
            files,
            ["library/admin/2024/a.jpg", "library/admin/2024/b.jpg", "library/admin/c.jpg", "library/ben/d e.jpg"]
        );
        let mut dirs: Vec<&str> = t.dirs.iter().map(String::as_str).collect();
        dirs.sort();
        assert_eq!(dirs, ["library", "library/admin", "library/admin/2024", "library/ben"]);
        assert!(tree(drive.path(), "upload").unwrap().files.is_empty());
    }

    #[test]
    fn folders_come_first_then_names() {
        let e = |name: &str, dir| keepsake_mirror::Entry { name: name.into(), dir, size: 1, files: 1 };
        let (got, truncated) = entries(vec![e("b.jpg", false), e("z", true), e("a.jpg", false), e("c", true)]);
        let names: Vec<&str> = got.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["c", "z", "a.jpg", "b.jpg"]);
        assert!(!truncated);
    }
}
