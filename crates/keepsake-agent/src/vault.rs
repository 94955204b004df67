//! The secrets vault: secrets at rest, encrypted with XChaCha20-Poly1305 under a key kept in a
//! root-only file (mode 0600) beside the database, never in it. A stolen database alone reveals no
//! secret. Secret values are write-only through the API and never logged: [`Secret`] redacts
//! itself. [`SecretBox`] seals and opens bytes (also the TOTP secrets of `auth`); [`Vault`] keeps
//! the named secrets of [`NAMES`] in the store.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use keepsake_api::limits::SECRET_VALUE_MAX;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use crate::store::{Store, StoreError};

/// The names of the secrets Keepsake keeps; anything else is refused.
pub const NAMES: &[(&str, &str)] = &[
    ("smtp_password", "Password of the mail server used for alerts"),
    ("immich_api_key", "API key Keepsake uses to administer Immich"),
    ("tunnel_token", "Token of the remote-access tunnel"),
    ("backup_encryption_key", "Key that encrypts backups"),
];

/// Secrets the agent makes and uses itself (Immich's database password): sealed like the others,
/// but never listed, set or deleted through the API ([`Vault::get_internal`]).
pub const INTERNAL: &[&str] = &["immich_db_password"];

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
    #[error("there is no secret called `{name}`; the secrets are: {known}")]
    UnknownName { name: String, known: String },
    #[error("a secret must not be empty")]
    Empty,
    #[error("the secret is too long: use at most {max} bytes")]
    TooLong { max: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SecretsError {
    /// The stable code of an error the caller caused; `internal` for the agent's own failures.
    pub fn code(&self) -> &'static str {
        match self {
            SecretsError::UnknownName { .. } => "secret.not_found",
            SecretsError::Empty => "secret.empty",
            SecretsError::TooLong { .. } => "input.too_long",
            SecretsError::Store(e) => e.code(),
            _ => "internal",
        }
    }
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
            crate::atomic_file::write(path, &key, 0o600).map_err(err)?;
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

/// A secret's name and when it was last set (`None`: not set).
pub type SecretName = (String, Option<DateTime<Utc>>);

/// The named secrets, sealed in the store.
pub struct Vault {
    store: Arc<Store>,
    sealer: Arc<SecretBox>,
}

impl Vault {
    pub fn new(store: Arc<Store>, sealer: Arc<SecretBox>) -> Vault {
        Vault { store, sealer }
    }

    pub fn set(&self, name: &str, value: &Secret) -> Result<(), SecretsError> {
        check_name(name)?;
        self.seal_into(name, value)
    }

    fn seal_into(&self, name: &str, value: &Secret) -> Result<(), SecretsError> {
        if value.expose().is_empty() {
            return Err(SecretsError::Empty);
        }
        if value.expose().len() > SECRET_VALUE_MAX {
            return Err(SecretsError::TooLong { max: SECRET_VALUE_MAX });
        }
        self.store.set_secret_ciphertext(name, &self.sealer.seal(value.expose().as_bytes())?)?;
        Ok(())
    }

    /// Reads a secret for the agent's own use (sending mail, calling Immich). Never for the API.
    pub fn get(&self, name: &str) -> Result<Option<Secret>, SecretsError> {
        check_name(name)?;
        self.open_from(name)
    }

    /// An [`INTERNAL`] secret (panics on another name: a programming error).
    pub fn get_internal(&self, name: &str) -> Result<Option<Secret>, SecretsError> {
        assert!(INTERNAL.contains(&name), "{name} is not an internal secret");
        self.open_from(name)
    }

    pub fn set_internal(&self, name: &str, value: &Secret) -> Result<(), SecretsError> {
        assert!(INTERNAL.contains(&name), "{name} is not an internal secret");
        self.seal_into(name, value)
    }

    fn open_from(&self, name: &str) -> Result<Option<Secret>, SecretsError> {
        match self.store.secret_ciphertext(name)? {
            None => Ok(None),
            Some(ct) => {
                let bytes = self.sealer.open_sealed(&ct)?;
                Ok(Some(Secret::new(String::from_utf8(bytes).map_err(|_| SecretsError::Decrypt)?)))
            }
        }
    }

    /// Every known secret name, with when it was last set (`None`: not set).
    pub fn names(&self) -> Result<Vec<SecretName>, SecretsError> {
        let stored = self.store.secret_names()?;
        Ok(NAMES
            .iter()
            .map(|(n, _)| {
                let at = stored
                    .iter()
                    .find(|(s, _)| s == n)
                    .and_then(|(_, t)| DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc)));
                ((*n).to_owned(), at)
            })
            .collect())
    }

    pub fn delete(&self, name: &str) -> Result<(), SecretsError> {
        check_name(name)?;
        self.store.delete_secret(name)?;
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), SecretsError> {
    if NAMES.iter().any(|(n, _)| *n == name) {
        return Ok(());
    }
    let known = NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    // The name is echoed back; cut it so a huge one is not.
    Err(SecretsError::UnknownName { name: crate::auth::truncate_for_record(name, 64), known })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_sealed_at_rest_and_names_and_sizes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let v = Vault::new(Arc::clone(&store), Arc::new(SecretBox::open(&dir.path().join("k")).unwrap()));
        v.set("smtp_password", &Secret::new("pa55-w0rd-xyz".into())).unwrap();
        let ct = store.secret_ciphertext("smtp_password").unwrap().unwrap();
        assert!(!ct.windows(13).any(|w| w == b"pa55-w0rd-xyz"));
        assert_eq!(v.get("smtp_password").unwrap().unwrap().expose(), "pa55-w0rd-xyz");
        let e = v.set("root_password", &Secret::new("x".into())).unwrap_err();
        assert_eq!(e.code(), "secret.not_found");
        let e = v.set("smtp_password", &Secret::new("x".repeat(SECRET_VALUE_MAX + 1))).unwrap_err();
        assert_eq!(e.code(), "input.too_long");
        assert_eq!(v.set("smtp_password", &Secret::new(String::new())).unwrap_err().code(), "secret.empty");
        let names = v.names().unwrap();
        assert!(names.iter().any(|(n, at)| n == "smtp_password" && at.is_some()));
        assert!(names.iter().any(|(n, at)| n == "tunnel_token" && at.is_none()));
        v.delete("smtp_password").unwrap();
        assert!(v.get("smtp_password").unwrap().is_none());
    }

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
