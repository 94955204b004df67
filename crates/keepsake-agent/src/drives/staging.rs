//! The `keepsake/` folder each drive gets beside Immich's folders: what a new appliance needs to
//! bring this one back, and what proves the history was not rewritten.
//!
//! - `restore-point/<id>/`: the latest complete restore point's files (the database dump
//!   `.sql.zst`, its manifest, the configuration copied with it), hard-linked when the state and
//!   the points share a filesystem (so an unchanged dump keeps its timestamp and is not copied
//!   again), else copied with their timestamps;
//! - `audit-log.jsonl` (every audit entry, oldest first) and `audit-head.txt` (the chain's head
//!   hash: a witness outside the box);
//! - `config-bundle.age` (to the passphrase) and/or `config-bundle.key.age` (to the age key): the
//!   host's configuration files and the agent's settings, encrypted with age. With neither set,
//!   no bundle is written and the report says so.
//!
//! The folder is built beside the old one and swapped in with renames, so a crash never leaves a
//! half-made folder for the mirror to copy. Files whose content did not change keep the old file
//! (and its timestamp), so they are not copied to the drive again.

use std::io::Write;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use base64::Engine;
use chrono::Utc;
use serde::Serialize;

use crate::store::{AuditFilter, PointRow, Store};
use crate::vault::Secret;

/// What the staged folder is and what it lacks.
#[derive(Debug)]
pub struct Staged {
    pub dir: PathBuf,
    /// What could not be included, in words, for the report's `skipped`.
    pub notes: Vec<String>,
}

/// Inputs, gathered on the runtime and handed to the blocking builder.
pub struct Inputs {
    pub staging_dir: PathBuf,
    pub points_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    pub passphrase: Option<Secret>,
    pub recipient: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot prepare the keepsake folder for the drive ({what}): {source}")]
pub struct StagingError {
    what: String,
    source: std::io::Error,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StagingError {
    let what = what.into();
    move |source| StagingError { what, source }
}

#[derive(Serialize)]
struct Bundle<'a> {
    format: &'static str,
    written_at: chrono::DateTime<Utc>,
    agent_version: &'a str,
    files: Vec<BundleFile>,
    settings: Vec<(String, String)>,
}

#[derive(Serialize)]
struct BundleFile {
    path: String,
    /// Base64, so any bytes survive.
    content: String,
}

const README: &str = "This folder was written by Keepsake with every backup.\n\n\
restore-point/   the latest restore point: Immich's database dump (.sql.zst, zstd-compressed SQL) and its manifest\n\
audit-log.jsonl  Keepsake's audit log, one JSON entry a line, oldest first\n\
audit-head.txt   the audit chain's last hash: compare it with the one on the appliance to prove the log was not rewritten\n\
config-bundle*.age  the appliance's configuration, encrypted with age (https://age-encryption.org):\n\
                 `age -d config-bundle.age` asks for the backup passphrase; config-bundle.key.age opens with the age key\n";

/// Builds the folder (blocking: reads the store, hashes nothing, copies a dump).
pub fn prepare(store: &Store, points: &[PointRow], i: &Inputs) -> Result<Staged, StagingError> {
    let live = i.staging_dir.join("keepsake");
    let new = i.staging_dir.join("keepsake.new");
    let old = i.staging_dir.join("keepsake.old");
    for d in [&new, &old] {
        remove_all(d)?;
    }
    std::fs::create_dir_all(&new).map_err(io(format!("create {}", new.display())))?;
    let mut notes = Vec::new();

    put(&live, &new, "README.txt", README.as_bytes())?;

    match points.iter().filter(|p| p.complete).max_by_key(|p| p.created_at) {
        Some(p) => {
            let from = i.points_dir.join(&p.id);
            let to = new.join("restore-point").join(&p.id);
            link_tree(&from, &to).map_err(io(format!("copy the restore point {}", from.display())))?;
        }
        None => notes.push(
            "keepsake/restore-point: there is no complete restore point yet, so no database dump is on the drive"
                .into(),
        ),
    }

    let mut entries = store
        .audit_entries(&AuditFilter { limit: u32::MAX, ..AuditFilter::default() })
        .map_err(|e| StagingError { what: "read the audit log".into(), source: std::io::Error::other(e) })?;
    entries.reverse();
    let mut log = Vec::new();
    for e in &entries {
        serde_json::to_writer(&mut log, e).map_err(|e| io("encode the audit log")(e.into()))?;
        log.push(b'\n');
    }
    put(&live, &new, "audit-log.jsonl", &log)?;
    let head = store
        .audit_head()
        .map_err(|e| StagingError { what: "read the audit head".into(), source: std::io::Error::other(e) })?;
    let head = match head {
        Some(h) => format!("audit chain head: entry {} hash {}\n", h.id, h.hash),
        None => "audit chain head: the log is empty\n".into(),
    };
    put(&live, &new, "audit-head.txt", head.as_bytes())?;

    if i.passphrase.is_none() && i.recipient.is_none() {
        notes.push(
            "keepsake/config-bundle.age: no backup passphrase or age key is set (Backups settings), so the \
             configuration bundle was not written"
                .into(),
        );
    } else {
        let plain = bundle(store, &i.config_files)?;
        if let Some(p) = &i.passphrase {
            let r = age::scrypt::Recipient::new(SecretString::from(p.expose().to_owned()));
            write_age(&new.join("config-bundle.age"), &plain, &r)?;
        }
        if let Some(key) = &i.recipient {
            // The API takes classic `age1…` keys (what `age-keygen` makes); the post-quantum
            // kind is far longer than the pattern allows.
            #[allow(deprecated)]
            let parsed = key.parse::<age::x25519::Recipient>();
            match parsed {
                Ok(r) => write_age(&new.join("config-bundle.key.age"), &plain, &r)?,
                Err(e) => notes.push(format!("keepsake/config-bundle.key.age: the age key is not valid ({e})")),
            }
        }
    }

    sync_dir(&new)?;
    // Swap: the old folder aside, the new one in, the old one gone. A crash between the two
    // renames leaves `keepsake.new`, rebuilt next time; the mirror then sees no folder and copies
    // nothing from it (the drive keeps the previous copy).
    if live.exists() {
        std::fs::rename(&live, &old).map_err(io("set the previous folder aside"))?;
    }
    std::fs::rename(&new, &live).map_err(io("put the new folder in place"))?;
    sync_dir(&i.staging_dir)?;
    remove_all(&old)?;
    Ok(Staged { dir: live, notes })
}

fn bundle(store: &Store, files: &[PathBuf]) -> Result<Vec<u8>, StagingError> {
    let mut out = Vec::new();
    for f in files {
        match std::fs::read(f) {
            Ok(bytes) => out.push(BundleFile {
                path: f.display().to_string(),
                content: base64::engine::general_purpose::STANDARD.encode(bytes),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(format!("read {}", f.display()))(e)),
        }
    }
    let settings = store
        .settings_all()
        .map_err(|e| StagingError { what: "read the settings".into(), source: std::io::Error::other(e) })?;
    let b = Bundle {
        format: "keepsake-config-bundle-v1",
        written_at: Utc::now(),
        agent_version: crate::VERSION,
        files: out,
        settings,
    };
    serde_json::to_vec_pretty(&b).map_err(|e| io("encode the bundle")(e.into()))
}

fn write_age(path: &Path, plain: &[u8], r: &dyn age::Recipient) -> Result<(), StagingError> {
    let enc = age::Encryptor::with_recipients(std::iter::once(r))
        .map_err(|e| io("set up the encryption")(std::io::Error::other(e.to_string())))?;
    let mut bytes = Vec::new();
    let mut w = enc.wrap_output(&mut bytes).map_err(io("encrypt the bundle"))?;
    w.write_all(plain).map_err(io("encrypt the bundle"))?;
    w.finish().map_err(io("encrypt the bundle"))?;
    crate::atomic_file::write(path, &bytes, 0o600).map_err(io(format!("write {}", path.display())))
}

/// Writes `name` into `new`, reusing the live folder's file (hard link: same timestamp) when its
/// content is the same.
fn put(live: &Path, new: &Path, name: &str, bytes: &[u8]) -> Result<(), StagingError> {
    let (old, path) = (live.join(name), new.join(name));
    if std::fs::read(&old).is_ok_and(|b| b == bytes) && std::fs::hard_link(&old, &path).is_ok() {
        return Ok(());
    }
    crate::atomic_file::write(&path, bytes, 0o600).map_err(io(format!("write {}", path.display())))
}

/// Mirrors a folder by hard links (copies with their timestamps across filesystems).
fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let t = e.file_type()?;
        if t.is_dir() {
            link_tree(&src, &dst)?;
        } else if t.is_file() && std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst)?;
            let mtime = std::fs::metadata(&src)?.modified()?;
            std::fs::File::options().write(true).open(&dst)?.set_modified(mtime)?;
        }
    }
    Ok(())
}

fn remove_all(d: &Path) -> Result<(), StagingError> {
    match std::fs::remove_dir_all(d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(format!("remove {}", d.display()))(e)),
    }
}

fn sync_dir(d: &Path) -> Result<(), StagingError> {
    std::fs::File::open(d).and_then(|f| f.sync_all()).map_err(io(format!("sync {}", d.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_folder_holds_the_audit_witness_and_an_encrypted_bundle_that_opens_with_the_passphrase() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open_in_memory().unwrap();
        store.set_setting("some.setting", "42").unwrap();
        let cfg = tmp.path().join("options.json");
        std::fs::write(&cfg, b"{\"hostName\":\"keepsake\"}").unwrap();
        let inputs = Inputs {
            staging_dir: tmp.path().join("staging"),
            points_dir: tmp.path().join("points"),
            config_files: vec![cfg],
            passphrase: Some(Secret::new("correct horse battery".into())),
            recipient: None,
        };
        let staged = prepare(&store, &[], &inputs).unwrap();
        assert!(staged.notes.iter().any(|n| n.contains("no complete restore point")), "{:?}", staged.notes);
        assert!(std::fs::read_to_string(staged.dir.join("audit-head.txt")).unwrap().contains("audit chain head"));
        let sealed = std::fs::read(staged.dir.join("config-bundle.age")).unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"hostName"), "the bundle is encrypted");
        let d = age::Decryptor::new(&sealed[..]).unwrap();
        let id = age::scrypt::Identity::new(SecretString::from("correct horse battery".to_owned()));
        let mut plain = String::new();
        d.decrypt(std::iter::once(&id as &dyn age::Identity)).unwrap().read_to_string(&mut plain).unwrap();
        assert!(plain.contains("some.setting") && plain.contains("options.json"), "{plain}");
        // A second run keeps unchanged files (same inode: the mirror sees the same timestamp).
        let before = std::fs::metadata(staged.dir.join("README.txt")).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let again = prepare(&store, &[], &Inputs { passphrase: None, ..inputs }).unwrap();
        assert_eq!(std::fs::metadata(again.dir.join("README.txt")).unwrap().modified().unwrap(), before);
        assert!(!again.dir.join("config-bundle.age").exists());
        assert!(again.notes.iter().any(|n| n.contains("no backup passphrase")), "{:?}", again.notes);
    }
}
