//! Secrets at rest: encrypted with XChaCha20-Poly1305 under a key kept in a root-only file
//! (mode 0600) beside the database, never in it. A stolen database alone reveals no secret.
//! Secret values are write-only through the API and never logged: [`Secret`] redacts itself.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

/// The names of the secrets Keepsake keeps; anything else is refused.
pub const NAMES: &[(&str, &str)] = &[
    ("smtp_password", "Password of the mail server used for alerts"),
    ("immich_api_key", "API key Keepsake uses to administer Immich"),
    ("tunnel_token", "Token of the remote-access tunnel"),
    ("backup_encryption_key", "Key that encrypts backups"),
];

/// A secret value in memory: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(v: String) -> Secret {
        Secret(v)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read or create the secrets key {path}: {source}")]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error(
        "the secrets key {0} is not 32 bytes; restore it from a backup (without it, stored secrets cannot be read)"
    )]
    BadKey(PathBuf),
    #[error("the secrets key {path} has mode {mode:o}; it must be 0600 (readable by root only)")]
    LooseKey { path: PathBuf, mode: u32 },
    #[error("a stored secret cannot be decrypted: the key file does not match the database")]
    Decrypt,
    #[error("no randomness available: {0}")]
    Random(String),
}

pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl SecretBox {
    /// Loads the key at `path`, creating it (atomically, mode 0600) on first use.
    pub fn open(path: &Path) -> Result<SecretBox, SecretsError> {
        let err = |source| SecretsError::KeyFile { path: path.to_owned(), source };
        if !path.exists() {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| SecretsError::Random(e.to_string()))?;
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(err)?;
            f.write_all(&key).map_err(err)?;
            f.sync_all().map_err(err)?;
            std::fs::rename(&tmp, path).map_err(err)?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
            }
        }
        let meta = std::fs::metadata(path).map_err(err)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretsError::LooseKey { path: path.to_owned(), mode });
        }
        let bytes = std::fs::read(path).map_err(err)?;
        let key = Key::try_from(bytes.as_slice()).map_err(|_| SecretsError::BadKey(path.to_owned()))?;
        Ok(SecretBox { cipher: XChaCha20Poly1305::new(&key) })
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| SecretsError::Random(e.to_string()))?;
        let n = XNonce::try_from(nonce.as_slice()).expect("24 bytes");
        let mut out = nonce.to_vec();
        out.extend(self.cipher.encrypt(&n, plaintext).map_err(|_| SecretsError::Decrypt)?);
        Ok(out)
    }

    pub fn open_sealed(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretsError> {
        if sealed.len() < 24 {
            return Err(SecretsError::Decrypt);
        }
        let (nonce, ct) = sealed.split_at(24);
        let n = XNonce::try_from(nonce).map_err(|_| SecretsError::Decrypt)?;
        self.cipher.decrypt(&n, ct).map_err(|_| SecretsError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let b = SecretBox::open(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = b.seal(b"hunter2hunter2").unwrap();
        assert!(!sealed.windows(14).any(|w| w == b"hunter2hunter2"));
        let again = SecretBox::open(&path).unwrap();
        assert_eq!(again.open_sealed(&sealed).unwrap(), b"hunter2hunter2");
    }

    #[test]
    fn refuses_a_readable_key_and_a_wrong_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let sealed = SecretBox::open(&path).unwrap().seal(b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(SecretBox::open(&path), Err(SecretsError::LooseKey { .. })));
        let other = SecretBox::open(&dir.path().join("other.key")).unwrap();
        assert!(matches!(other.open_sealed(&sealed), Err(SecretsError::Decrypt)));
    }

    #[test]
    fn debug_never_shows_the_value() {
        assert_eq!(format!("{:?}", Secret::new("s3cret".into())), "Secret(<redacted>)");
    }
}
