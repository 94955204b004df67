//! The settings every drive shares: how long deleted files stay set aside, verification, and how
//! the configuration bundle on the drive is encrypted. Stored as one JSON value in the settings
//! table; the bundle's passphrase is a secret, sealed in the vault (`backup_encryption_key`) and
//! never returned, logged or stored in the JSON.

use keepsake_api::{BackupSettings, VerifyDepth};

use super::{DriveError, Inner};
use crate::vault::Secret;

const KEY: &str = "drives.settings";
/// The vault's name for the bundle passphrase.
pub const PASSPHRASE_SECRET: &str = "backup_encryption_key";

/// Thirty days of deleted files kept; each run's files read back; a 5 % sample every 30 days.
pub fn defaults() -> BackupSettings {
    BackupSettings {
        keep_deleted_days: 30,
        verify_after_backup: true,
        verify_every_days: Some(30),
        verify_depth: VerifyDepth::Sample,
        verify_sample_percent: 5,
        bundle_passphrase: None,
        bundle_recipient: None,
        bundle_passphrase_set: false,
    }
}

pub fn load(inner: &Inner) -> Result<BackupSettings, DriveError> {
    let mut s: BackupSettings =
        inner.store.setting(KEY)?.and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_else(defaults);
    s.bundle_passphrase = None;
    s.bundle_passphrase_set = inner.vault.get(PASSPHRASE_SECRET)?.is_some();
    Ok(s)
}

/// The passphrase, for the agent's own use (encrypting the bundle). Never for the API.
pub fn passphrase(inner: &Inner) -> Result<Option<Secret>, DriveError> {
    Ok(inner.vault.get(PASSPHRASE_SECRET)?)
}

pub fn save(inner: &Inner, s: &BackupSettings) -> Result<BackupSettings, DriveError> {
    if let Some(p) = &s.bundle_passphrase {
        inner.vault.set(PASSPHRASE_SECRET, &Secret::new(p.clone()))?;
    }
    let stored = BackupSettings { bundle_passphrase: None, bundle_passphrase_set: false, ..s.clone() };
    // `bundle_passphrase` is skipped when serializing, so the JSON never holds it.
    let json = serde_json::to_string(&stored).map_err(|e| DriveError::Refused(e.to_string()))?;
    inner.store.set_setting(KEY, &json)?;
    load(inner)
}
