//! Second factors of an account: which it has, TOTP enrollment and removal, recovery codes, and the
//! reset by an admin (only an owner, or the root console, may reset an owner's).

use super::{Auth, AuthError, Identity, Result, Role, UserIdentity, password, totp};
use crate::store::UserRow;

impl Auth {
    pub fn has_second_factor(&self, user: &UserRow) -> Result<bool> {
        Ok(user.totp_enabled || !self.store.passkeys_of(user.id)?.is_empty())
    }

    pub fn second_factors_of(&self, user: &UserRow) -> Result<Vec<&'static str>> {
        let mut m = Vec::new();
        if user.totp_enabled {
            m.push("totp");
            m.push("recovery_code");
        }
        if !self.store.passkeys_of(user.id)?.is_empty() {
            m.push("passkey");
        }
        Ok(m)
    }

    /// Starts (or restarts) TOTP enrollment: a new secret, not yet in force.
    pub fn totp_begin(&self, me: &UserIdentity) -> Result<(String, String, String)> {
        if me.user.totp_enabled {
            return Err(AuthError::conflict(
                "totp.already_enabled",
                "an authenticator app is already set up: turn it off first to replace it",
            ));
        }
        let secret = totp::new_secret()?;
        self.store.set_totp_secret(me.user.id, Some(&self.sealer.seal(&secret)?), false)?;
        totp::enrollment(&secret, &me.user.name)
    }

    /// Confirms enrollment with a code from the app; returns the one-time recovery codes.
    pub fn totp_confirm(&self, me: &UserIdentity, code: &str) -> Result<Vec<String>> {
        super::check_bytes("the code", code, keepsake_api::limits::CODE_MAX)?;
        let u = self.user(me.user.id)?;
        let sealed = u.totp_secret.as_ref().filter(|_| !u.totp_enabled).ok_or_else(|| {
            AuthError::conflict("totp.not_enrolling", "there is no authenticator app being set up: start again")
        })?;
        let Some(step) = totp::check(&self.sealer.open_sealed(sealed)?, &u.name, code)? else {
            return Err(AuthError::bad_request(
                "auth.bad_code",
                "that code is wrong: enter the 6-digit code your app shows now",
            ));
        };
        let codes = totp::recovery_codes()?;
        let hashes: Vec<String> = codes.iter().map(|c| totp::hash_recovery_code(c)).collect();
        self.store.transaction(|tx| {
            tx.use_totp_step(u.id, step)?;
            tx.set_totp_secret(u.id, Some(sealed), true)?;
            tx.set_recovery_codes(u.id, &hashes)?;
            Ok::<_, AuthError>(())
        })?;
        Ok(codes)
    }

    fn confirm_password(&self, me: &UserIdentity, password: &str) -> Result<()> {
        password::check_size(password)?;
        if !password::verify(password, &me.user.password_hash) {
            return Err(AuthError::bad_request("auth.bad_password", "the password is wrong"));
        }
        Ok(())
    }

    /// Turns the authenticator app off (and its recovery codes). Runs argon2.
    pub fn totp_disable(&self, me: &UserIdentity, password: &str) -> Result<()> {
        self.confirm_password(me, password)?;
        self.store.transaction(|tx| {
            tx.set_totp_secret(me.user.id, None, false)?;
            tx.set_recovery_codes(me.user.id, &[])?;
            Ok(())
        })
    }

    /// New recovery codes in place of the old. Runs argon2.
    pub fn regenerate_recovery_codes(&self, me: &UserIdentity, password: &str) -> Result<Vec<String>> {
        self.confirm_password(me, password)?;
        if !me.user.totp_enabled {
            return Err(AuthError::conflict("totp.not_enabled", "set up an authenticator app first"));
        }
        let codes = totp::recovery_codes()?;
        let hashes: Vec<String> = codes.iter().map(|c| totp::hash_recovery_code(c)).collect();
        self.store.set_recovery_codes(me.user.id, &hashes)?;
        Ok(codes)
    }

    /// An admin's (or the console's) reset of someone's second factors: TOTP, recovery codes and
    /// passkeys all go, and their sessions end, in one transaction. An owner's factors may be
    /// reset only by an owner or the root console (`auth.owner_only`): otherwise an admin could
    /// strip an owner's second factor and sign in with a guessed or stolen password alone.
    pub fn reset_second_factor(&self, id: i64, by: &Identity) -> Result<UserRow> {
        self.store.transaction(|tx| {
            let u = tx
                .user(id)?
                .ok_or_else(|| AuthError::not_found("user.not_found", format!("there is no account with id {id}")))?;
            if u.role == Role::Owner.name() && !by.is_owner_or_root() {
                return Err(AuthError::forbidden(
                    "auth.owner_only",
                    "only an owner can reset an owner's second factors",
                ));
            }
            tx.set_totp_secret(id, None, false)?;
            tx.set_recovery_codes(id, &[])?;
            tx.delete_passkeys_of(id)?;
            tx.delete_sessions_of(id, None)?;
            Ok(u)
        })
    }
}
