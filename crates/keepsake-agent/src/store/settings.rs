//! Key/value settings and encrypted secrets. Values are stored as given: settings as text (typed
//! by `crate::settings`), secrets as ciphertext that only `crate::vault` can open (the key is not
//! in the database). A settings write moves the identity epoch: a setting (the second factor for
//! admins) decides what callers may do.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, Tx, now, ts};

impl Tx<'_> {
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        self.identity_changed();
        Ok(())
    }

    /// Every setting, by key (for the configuration bundle of a restore point; secrets are kept
    /// elsewhere and never listed here).
    pub fn settings_all(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare("SELECT key, value FROM settings ORDER BY key")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

impl Store {
    pub fn settings_all(&self) -> Result<Vec<(String, String)>> {
        self.transaction(|t| t.settings_all())
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.transaction(|t| t.setting(key))
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.transaction(|t| t.set_setting(key, value))
    }

    pub fn secret_ciphertext(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().query_row("SELECT ciphertext FROM secrets WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    /// Names of stored secrets and when each was last set.
    pub fn secret_names(&self) -> Result<Vec<(String, String)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT name, updated_at FROM secrets ORDER BY name")?;
        Ok(stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?)
    }

    pub fn set_secret_ciphertext(&self, name: &str, ciphertext: &[u8]) -> Result<()> {
        self.lock().execute(
            "INSERT INTO secrets (name, ciphertext, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT(name) DO UPDATE SET ciphertext = ?2, updated_at = ?3",
            params![name, ciphertext, ts(now())],
        )?;
        Ok(())
    }

    pub fn delete_secret(&self, name: &str) -> Result<bool> {
        Ok(self.lock().execute("DELETE FROM secrets WHERE name = ?1", [name])? == 1)
    }
}
