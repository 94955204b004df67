//! Signing in: name and password, then (if the account has one) a second factor by TOTP or
//! recovery code (passkeys are in `passkeys`). Failures slow down per account and per address
//! ([`super::backoff`]); every input is size-checked before it is hashed or stored, and the claimed
//! name of an unknown caller is recorded only in a bounded form ([`claimed_name`]).

use chrono::Utc;
use keepsake_api::limits::{CLAIMED_NAME_MAX, CODE_MAX, NAME_MAX};

use super::{Auth, AuthError, ClientInfo, LoginStep, Result, backoff, password, totp, truncate_for_record};
use crate::store::{SessionRow, UserRow};

/// What to record as the actor of a sign-in by someone not yet known: the name they claimed, cut
/// to [`CLAIMED_NAME_MAX`] bytes and stripped of control characters.
pub fn claimed_name(name: &str) -> String {
    truncate_for_record(name, CLAIMED_NAME_MAX)
}

pub(super) type BackoffKeys = Vec<(String, backoff::Backoff)>;

/// The backoff keys of a sign-in: the account (lower-cased; names longer than any account's are
/// refused before this) and the address, if known (cut to its limit).
pub(super) fn backoff_keys(name: &str, client: &ClientInfo) -> BackoffKeys {
    let mut keys =
        vec![(format!("account:{}", truncate_for_record(&name.to_lowercase(), NAME_MAX)), backoff::PER_ACCOUNT)];
    if let Some(a) = &client.bounded().address {
        keys.push((format!("address:{a}"), backoff::PER_ADDRESS));
    }
    keys
}

impl Auth {
    /// Checks name and password, with backoff. On success starts a session, complete unless the
    /// user has a second factor. Runs argon2: call it on a blocking thread.
    pub fn login_password(&self, name: &str, password: &str, client: &ClientInfo) -> Result<LoginStep> {
        // Before anything is stored or hashed: no account has a longer name, and a huge password
        // would make argon2 the attacker's tool.
        super::check_bytes("the account name", name, NAME_MAX)?;
        password::check_size(password)?;
        let keys = backoff_keys(name, client);
        self.check_backoff(&keys)?;
        let user = self.store.user_by_name(name)?;
        let ok = match &user {
            Some(u) => password::verify(password, &u.password_hash) && !u.disabled,
            None => {
                let _ = password::verify(password, password::dummy_hash());
                false
            }
        };
        let Some(user) = user.filter(|_| ok) else {
            self.record_failure(&keys)?;
            return Err(AuthError::BadCredentials);
        };
        self.clear_failures(&keys)?;
        let factors = self.second_factors_of(&user)?;
        let session = self.start_session(&user, factors.is_empty(), client)?;
        Ok(LoginStep { session, user, second_factors: factors })
    }

    pub(super) fn check_backoff(&self, keys: &BackoffKeys) -> Result<()> {
        let now = Utc::now();
        let mut wait = 0i64;
        for (k, _) in keys {
            if let Some((_, _, Some(until))) = self.store.login_failures(k)?
                && until > now
            {
                wait = wait.max((until - now).num_seconds() + 1);
            }
        }
        if wait > 0 {
            return Err(AuthError::TooManyAttempts { retry_after_secs: wait as u64 });
        }
        Ok(())
    }

    pub(super) fn clear_failures(&self, keys: &BackoffKeys) -> Result<()> {
        self.store.transaction(|tx| {
            for (k, _) in keys {
                tx.clear_login_failures(k)?;
            }
            Ok(())
        })
    }

    /// Counts a failure; returns whether this failure started a wait (a security event).
    pub(super) fn record_failure(&self, keys: &BackoffKeys) -> Result<bool> {
        let started = self.store.transaction(|tx| {
            let mut started = false;
            for (k, policy) in keys {
                let n = tx.login_failures(k)?.map(|(n, _, _)| n).unwrap_or(0).saturating_add(1);
                let lock = policy.lock_for(n);
                let until =
                    (!lock.is_zero()).then(|| Utc::now() + chrono::Duration::from_std(lock).unwrap_or_default());
                started |= n == policy.free;
                tx.set_login_failures(k, n, until)?;
            }
            // For the failed-sign-in spike rule, with the failure it counts.
            let part = |prefix: &str| keys.iter().find_map(|(k, _)| k.strip_prefix(prefix).map(str::to_owned));
            tx.publish_event(&crate::events::Event::LoginFailed {
                name: part("account:").unwrap_or_default(),
                source: part("address:").unwrap_or_else(|| "an unknown address".into()),
            })?;
            Ok::<_, AuthError>(started)
        })?;
        if started {
            self.store.append_audit(&crate::store::NewAudit {
                actor: "keepsake",
                action: "security.login_backoff",
                target: Some(&keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(",")),
                outcome: "triggered",
                source: "agent",
                detail: "too many failed sign-ins in a row: further attempts must wait",
            })?;
            tracing::warn!(keys = ?keys.iter().map(|(k, _)| k).collect::<Vec<_>>(), "sign-in backoff triggered");
        }
        Ok(started)
    }

    /// Second factor by TOTP code or recovery code, for a pending session.
    pub fn second_factor_code(
        &self,
        pending: &SessionRow,
        user: &UserRow,
        code: &str,
        recovery: bool,
        client: &ClientInfo,
    ) -> Result<()> {
        super::check_bytes("the code", code, CODE_MAX)?;
        let keys = backoff_keys(&user.name, client);
        self.check_backoff(&keys)?;
        let ok = if recovery {
            user.totp_enabled && self.store.use_recovery_code(user.id, &totp::hash_recovery_code(code))?
        } else {
            match (&user.totp_secret, user.totp_enabled) {
                (Some(sealed), true) => match totp::check(&self.sealer.open_sealed(sealed)?, &user.name, code)? {
                    // A code seen before (even at enrollment) is a replay, however valid.
                    Some(step) => self.store.use_totp_step(user.id, step)?,
                    None => false,
                },
                _ => false,
            }
        };
        if !ok {
            self.record_failure(&keys)?;
            return Err(AuthError::bad_request(
                "auth.bad_code",
                if recovery {
                    "that recovery code is wrong or was already used"
                } else {
                    "that code is wrong, expired or already used: enter the current 6-digit code from your app (wait for the next one if you just used this one)"
                },
            ));
        }
        self.clear_failures(&keys)?;
        self.store.complete_session_second_factor(pending.id)?;
        Ok(())
    }
}
