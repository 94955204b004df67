//! Temporary copies and how their leftovers are found again.
//!
//! A copy is written next to where it belongs, as `<folder>/.keepsake-partial-<run>-<n>`, and
//! renamed into place once durable, as rsync does: on exfat-fuse a rename inside one folder costs a
//! third of a rename from `.keepsake/tmp` into the folder, and that difference was most of the
//! cold copy's gap to rsync (docs/PERFORMANCE.md).
//!
//! So that a killed run's leftovers are found without walking the drive, each folder is appended to
//! `.keepsake/partials` (one drive path a line, written straight to the file, not buffered) before
//! the first temporary copy is created in it. The next run removes the leftovers in every listed
//! folder before it starts, and a run that ends cleanly deletes the list (its copies were all
//! renamed or removed). A power cut can lose the list's last lines (they become durable with the
//! next batch barrier, about once a second); after an interrupted run [`sweep`] therefore also
//! looks in every folder the catalog names.
//!
//! A source file whose name starts like a temporary copy is stored under an escaped name
//! (`%2Ekeepsake-partial-…`, see [`crate::names::escape`]), so the sweep never touches a backup.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::MirrorError;
use crate::fsutil::drive_err;
use crate::manifest::{Catalog, Kind};

/// The name prefix of a temporary copy (compared without case, as exFAT compares names).
pub const PREFIX: &str = ".keepsake-partial-";
/// The folders that may hold temporary copies of an unfinished run.
pub const LIST: &str = ".keepsake/partials";

/// True for a name a temporary copy could have (any case).
pub fn is_partial_name(name: &[u8]) -> bool {
    name.len() >= PREFIX.len() && name[..PREFIX.len()].eq_ignore_ascii_case(PREFIX.as_bytes())
}

/// The temporary copy of the file at `drive_path` (relative to the drive) for copy `seq` of `run`.
pub fn tmp_path(root: &Path, drive_path: &str, run: &str, seq: u64) -> PathBuf {
    let name = format!("{PREFIX}{run}-{seq}");
    match drive_path.rsplit_once('/') {
        Some((folder, _)) => root.join(folder).join(name),
        None => root.join(name),
    }
}

/// The folders this run has announced in `.keepsake/partials`.
pub struct Partials {
    path: PathBuf,
    file: Option<File>,
    announced: HashSet<String>,
}

impl Partials {
    pub fn new(root: &Path) -> Partials {
        Partials { path: root.join(LIST), file: None, announced: HashSet::new() }
    }

    /// Lists the folder of `drive_path` unless already listed by this run. The line reaches the
    /// kernel (one write) before this returns, so a killed process never leaves a temporary copy
    /// in a folder the list does not name.
    pub fn announce(&mut self, drive_path: &str) -> io::Result<()> {
        let folder = drive_path.rsplit_once('/').map_or(".", |(f, _)| f);
        if self.announced.contains(folder) {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().create(true).append(true).open(&self.path)?);
        }
        let f = self.file.as_mut().expect("opened");
        f.write_all(format!("{folder}\n").as_bytes())?;
        self.announced.insert(folder.to_string());
        Ok(())
    }

    /// The run ended with every temporary copy renamed or removed: the list is no longer needed.
    pub fn done(self) -> io::Result<()> {
        drop(self.file);
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
}

/// A folder path from the list or the catalog that stays inside the drive.
fn safe_folder(folder: &str) -> bool {
    folder == "."
        || (!folder.is_empty()
            && !folder.starts_with('/')
            && folder.split('/').all(|c| !c.is_empty() && c != "." && c != ".."))
}

/// Removes the temporary copies in one folder; returns how many. A folder that is gone is fine.
fn sweep_folder(root: &Path, folder: &str) -> Result<u64, MirrorError> {
    if !safe_folder(folder) {
        return Ok(0);
    }
    let dir = root.join(folder);
    // Never through a symbolic link (exFAT has none; another filesystem given as a drive might).
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Ok(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(drive_err(&dir, e)),
    }
    let mut removed = 0;
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(drive_err(&dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| drive_err(&dir, e))?;
        use std::os::unix::ffi::OsStrExt;
        if !is_partial_name(entry.file_name().as_bytes()) {
            continue;
        }
        let p = entry.path();
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            match std::fs::remove_file(&p) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(drive_err(&p, e)),
            }
        }
    }
    Ok(removed)
}

/// Removes what an unfinished run left: temporary copies in every folder of `.keepsake/partials`
/// and, when `whole_catalog` (the previous run was interrupted), in every folder of the catalog
/// too. Then deletes the list. Returns how many copies were removed.
pub fn sweep(root: &Path, whole_catalog: bool) -> Result<u64, MirrorError> {
    let list = root.join(LIST);
    let mut folders: Vec<String> = Vec::new();
    match File::open(&list) {
        Ok(f) => {
            for line in BufReader::new(f).split(b'\n') {
                let line = line.map_err(|e| drive_err(&list, e))?;
                // A torn last line of a killed run is not a folder.
                if let Ok(s) = String::from_utf8(line) {
                    folders.push(s);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(drive_err(&list, e)),
    }
    if whole_catalog && let Some(mut cat) = Catalog::open(root)? {
        folders.push(".".into());
        while let Some(l) = cat.next_line()? {
            if l.kind == Kind::Dir {
                folders.push(l.drive);
            }
        }
    }
    folders.sort_unstable();
    folders.dedup();
    let mut removed = 0;
    for f in &folders {
        removed += sweep_folder(root, f)?;
    }
    match std::fs::remove_file(&list) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(drive_err(&list, e)),
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_recognised_without_case() {
        assert!(is_partial_name(b".keepsake-partial-1-2"));
        assert!(is_partial_name(b".KeepSake-Partial-x"));
        assert!(!is_partial_name(b"%2Ekeepsake-partial-1"));
        assert!(!is_partial_name(b".keepsake-partia"));
        assert!(!is_partial_name(b"photo.jpg"));
    }

    #[test]
    fn the_list_never_leads_outside_the_drive() {
        assert!(safe_folder("library/2024"));
        assert!(safe_folder("."));
        for bad in ["", "/etc", "../x", "a/../../b", "a//b", "a/./b"] {
            assert!(!safe_folder(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_sweep_removes_listed_leftovers_and_nothing_else() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path();
        std::fs::create_dir_all(root.join(".keepsake")).expect("mkdir");
        std::fs::create_dir_all(root.join("library/a")).expect("mkdir");
        std::fs::create_dir_all(root.join("library/b")).expect("mkdir");
        std::fs::create_dir_all(root.join("outside")).expect("mkdir");
        let mut p = Partials::new(root);
        p.announce("library/a/x.jpg").expect("announce");
        p.announce("library/a/y.jpg").expect("announce");
        p.announce("library/b/z.jpg").expect("announce");
        std::fs::write(root.join(LIST), b"library/a\nlibrary/b\n../outside\n").expect("list");
        std::fs::write(tmp_path(root, "library/a/x.jpg", "7-1", 1), b"partial").expect("write");
        std::fs::write(root.join("library/b/.KEEPSAKE-PARTIAL-9-9"), b"partial").expect("write");
        std::fs::write(root.join("library/a/x.jpg"), b"kept").expect("write");
        std::fs::write(root.join("library/a/%2Ekeepsake-partial-photo.jpg"), b"kept").expect("write");
        std::fs::write(root.join("outside/.keepsake-partial-1-1"), b"not ours to remove").expect("write");
        assert_eq!(sweep(root, false).expect("sweep"), 2);
        assert!(!root.join(LIST).exists());
        assert!(root.join("library/a/x.jpg").exists());
        assert!(root.join("library/a/%2Ekeepsake-partial-photo.jpg").exists());
        assert!(root.join("outside/.keepsake-partial-1-1").exists());
        let left: Vec<_> = std::fs::read_dir(root.join("library/b")).expect("ls").collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
