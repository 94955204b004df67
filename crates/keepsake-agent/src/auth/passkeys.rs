//! Passkeys of an account: registering, listing and removing them, and signing in with one,
//! either as the second factor of a pending session or passwordless (name first, then the
//! passkey). The WebAuthn exchange itself is in `webauthn`; the challenge between its two halves
//! is a store `ceremony` that can be answered once, within five minutes.

use chrono::Utc;
use keepsake_api::limits::{CEREMONY_ID_MAX, NAME_MAX, PASSKEY_NAME_MAX_CHARS};
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::Passkey;

use super::signin::backoff_keys;
use super::{Auth, AuthError, ClientInfo, NewSession, Result, UserIdentity, new_token, webauthn};
use crate::store::{PasskeyRow, SessionRow, UserRow};

fn expired(what: &str) -> AuthError {
    AuthError::bad_request("passkey.ceremony_expired", format!("this passkey {what} expired: start again"))
}

impl Auth {
    fn rp(&self) -> Result<&Webauthn> {
        self.relying_party.as_ref().ok_or_else(|| {
            AuthError::conflict(
                "passkey.unavailable",
                "passkeys are not available: the dashboard's public address is not set",
            )
        })
    }

    fn stored_passkeys(&self, user_id: i64) -> Result<Vec<(PasskeyRow, Passkey)>> {
        self.store
            .passkeys_of(user_id)?
            .into_iter()
            .map(|row| {
                let pk: Passkey = serde_json::from_str(&row.passkey)
                    .map_err(|e| AuthError::Internal(format!("stored passkey {} is unreadable: {e}", row.id)))?;
                Ok((row, pk))
            })
            .collect()
    }

    pub fn passkey_list(&self, user_id: i64) -> Result<Vec<PasskeyRow>> {
        Ok(self.store.passkeys_of(user_id)?)
    }

    pub fn passkey_register_begin(&self, me: &UserIdentity, name: &str) -> Result<(String, serde_json::Value)> {
        super::check_chars("the passkey name", name, PASSKEY_NAME_MAX_CHARS)?;
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(AuthError::bad_request(
                "passkey.invalid_name",
                format!("give the passkey a name of 1 to {PASSKEY_NAME_MAX_CHARS} characters (e.g. \"Anna's phone\")"),
            ));
        }
        let existing: Vec<Passkey> = self.stored_passkeys(me.user.id)?.into_iter().map(|(_, p)| p).collect();
        let (options, state) =
            webauthn::start_registration(self.rp()?, me.user.id, &me.user.name, &me.user.display_name, &existing)?;
        let id = new_token()?;
        let state = serde_json::json!({"name": name, "state": state}).to_string();
        self.store.insert_ceremony(
            &id,
            Some(me.user.id),
            "register",
            &state,
            Utc::now() + chrono::Duration::minutes(5),
        )?;
        Ok((id, options))
    }

    pub fn passkey_register_finish(
        &self,
        me: &UserIdentity,
        ceremony: &str,
        credential: &serde_json::Value,
    ) -> Result<PasskeyRow> {
        super::check_bytes("the ceremony id", ceremony, CEREMONY_ID_MAX)?;
        let (uid, state) = self.store.take_ceremony(ceremony, "register")?.ok_or_else(|| expired("registration"))?;
        if uid != Some(me.user.id) {
            return Err(AuthError::bad_request(
                "passkey.ceremony_mismatch",
                "this passkey registration belongs to someone else",
            ));
        }
        let v: serde_json::Value = serde_json::from_str(&state).map_err(|e| AuthError::Internal(e.to_string()))?;
        let pk = webauthn::finish_registration(self.rp()?, credential, v["state"].as_str().unwrap_or(""))?;
        let json = serde_json::to_string(&pk).map_err(|e| AuthError::Internal(e.to_string()))?;
        let id = self.store.insert_passkey(
            me.user.id,
            v["name"].as_str().unwrap_or("passkey"),
            &webauthn::credential_id(&pk),
            &json,
        )?;
        self.store
            .passkeys_of(me.user.id)?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AuthError::Internal("passkey vanished".into()))
    }

    pub fn passkey_delete(&self, user_id: i64, id: i64) -> Result<()> {
        if !self.store.delete_passkey(user_id, id)? {
            return Err(AuthError::not_found("passkey.not_found", format!("you have no passkey {id}")));
        }
        Ok(())
    }

    /// Starts a passkey sign-in for `name`: as the second factor of a pending session, or
    /// passwordless.
    pub fn passkey_login_begin(&self, name: &str) -> Result<(String, serde_json::Value)> {
        super::check_bytes("the account name", name, NAME_MAX)?;
        let user = self.store.user_by_name(name)?.filter(|u| !u.disabled);
        let keys: Vec<Passkey> = match &user {
            Some(u) => self.stored_passkeys(u.id)?.into_iter().map(|(_, p)| p).collect(),
            None => Vec::new(),
        };
        if keys.is_empty() {
            return Err(AuthError::bad_request(
                "passkey.none",
                "there is no passkey for this account: sign in with the password",
            ));
        }
        let (options, state) = webauthn::start_authentication(self.rp()?, &keys)?;
        let id = new_token()?;
        self.store.insert_ceremony(
            &id,
            user.map(|u| u.id),
            "login",
            &state,
            Utc::now() + chrono::Duration::minutes(5),
        )?;
        Ok((id, options))
    }

    /// Finishes a passkey sign-in. With a pending session (password given) it completes that
    /// session; without one it starts a new complete session (passwordless).
    pub fn passkey_login_finish(
        &self,
        ceremony: &str,
        credential: &serde_json::Value,
        pending: Option<&SessionRow>,
        client: &ClientInfo,
    ) -> Result<(UserRow, Option<NewSession>)> {
        super::check_bytes("the ceremony id", ceremony, CEREMONY_ID_MAX)?;
        let (uid, state) = self.store.take_ceremony(ceremony, "login")?.ok_or_else(|| expired("sign-in"))?;
        let user = self.user(uid.ok_or_else(|| expired("sign-in"))?)?;
        let keys = backoff_keys(&user.name, client);
        self.check_backoff(&keys)?;
        let mut stored = self.stored_passkeys(user.id)?;
        let mut pks: Vec<Passkey> = stored.iter().map(|(_, p)| p.clone()).collect();
        let idx = match webauthn::finish_authentication(self.rp()?, credential, &state, &mut pks) {
            Ok(i) => i,
            Err(e) => {
                self.record_failure(&keys)?;
                return Err(e);
            }
        };
        let json = serde_json::to_string(&pks[idx]).map_err(|e| AuthError::Internal(e.to_string()))?;
        self.store.update_passkey(stored.remove(idx).0.id, &json)?;
        self.clear_failures(&keys)?;
        match pending {
            Some(s) if s.user_id == user.id => {
                self.store.complete_session_second_factor(s.id)?;
                Ok((user, None))
            }
            _ => {
                let session = self.start_session(&user, true, client)?;
                Ok((user, Some(session)))
            }
        }
    }
}
