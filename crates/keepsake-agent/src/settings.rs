//! The agent's typed settings, kept in the store's key/value table. Each setting has one key, one
//! type and one default here; nothing else reads the raw keys.

use std::sync::Arc;

use chrono::Utc;

use crate::store::{Result, Store};

pub const SETTING_REQUIRE_2FA_ADMINS: &str = "security.require_second_factor_for_admins";
pub const SETTING_AUDIT_RETENTION_DAYS: &str = "security.audit_retention_days";

/// How long the audit log is kept unless set.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 365;

/// Typed access to the settings.
#[derive(Clone)]
pub struct Settings {
    store: Arc<Store>,
}

impl Settings {
    pub fn new(store: Arc<Store>) -> Settings {
        Settings { store }
    }

    /// Whether admins must have a second factor before they may do anything but enroll one.
    pub fn require_second_factor_for_admins(&self) -> Result<bool> {
        Ok(self.store.setting(SETTING_REQUIRE_2FA_ADMINS)?.as_deref() == Some("true"))
    }

    /// Changes take effect on the very next request: the write moves the identity epoch.
    pub fn set_require_second_factor_for_admins(&self, on: bool) -> Result<()> {
        self.store.set_setting(SETTING_REQUIRE_2FA_ADMINS, if on { "true" } else { "false" })
    }

    pub fn audit_retention_days(&self) -> Result<u32> {
        Ok(self
            .store
            .setting(SETTING_AUDIT_RETENTION_DAYS)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS))
    }

    pub fn set_audit_retention_days(&self, days: u32) -> Result<()> {
        self.store.set_setting(SETTING_AUDIT_RETENTION_DAYS, &days.to_string())
    }

    /// Applies the audit retention setting; returns how many rows were removed.
    pub fn prune_audit(&self) -> Result<usize> {
        let days = self.audit_retention_days()?;
        self.store.prune_audit(Utc::now() - chrono::Duration::days(days as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_round_trips() {
        let s = Settings::new(Arc::new(Store::open_in_memory().unwrap()));
        assert!(!s.require_second_factor_for_admins().unwrap());
        assert_eq!(s.audit_retention_days().unwrap(), DEFAULT_AUDIT_RETENTION_DAYS);
        s.set_require_second_factor_for_admins(true).unwrap();
        s.set_audit_retention_days(90).unwrap();
        assert!(s.require_second_factor_for_admins().unwrap());
        assert_eq!(s.audit_retention_days().unwrap(), 90);
    }
}
