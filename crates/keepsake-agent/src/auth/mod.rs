//! Identity and access: who is calling, and what they may do.
//!
//! The agent owns identity; the web server only forwards the session cookie. Accounts live in the
//! store with argon2id password hashes; sessions are random 256-bit tokens of which only a SHA-256
//! hash is stored. A session is either complete, or waiting for its second factor (TOTP, a
//! recovery code or a passkey), in which state it grants nothing. Failed sign-ins slow down per
//! account and per address ([`backoff`]). Secrets at rest are sealed with a key outside the
//! database ([`secrets`]). Authorization is a set lookup: a route's [`Permission`] against the
//! caller's role and groups.

pub mod backoff;
mod passkeys;
pub mod password;
pub mod permissions;
pub mod secrets;
pub mod totp;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::Passkey;

pub use permissions::{GRANTABLE, Permission, Role};
pub use secrets::{Secret, SecretBox, SecretsError};

use crate::store::{PasskeyRow, SessionRow, Store, StoreError, UserRow};

pub const COOKIE: &str = "keepsake_session";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("wrong name or password")]
    BadCredentials,
    #[error("too many failed sign-in attempts; try again in {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

type Result<T, E = AuthError> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Origins the dashboard is reached at; the first names the passkey relying party.
    pub public_origins: Vec<Url>,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_max: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            public_origins: vec![Url::parse("https://keepsake.local").expect("valid")],
            session_idle: Duration::from_secs(12 * 3600),
            session_max: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Where a request came from, as the web server saw it (or the console).
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's address when known (from the web server), for per-address backoff.
    pub address: Option<String>,
    pub user_agent: String,
}

/// A signed-in user, as a request sees them.
#[derive(Debug, Clone)]
pub struct UserIdentity {
    pub user: UserRow,
    pub role: Role,
    pub session_id: i64,
    pub permissions: BTreeSet<Permission>,
    /// An admin without a second factor while "require a second factor for admins" is on: may
    /// only manage their own account until they enroll one.
    pub must_enroll_second_factor: bool,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The root console (`keepsake` CLI): everything.
    Root,
    User(Box<UserIdentity>),
    Anonymous,
}

impl Identity {
    pub fn actor(&self) -> String {
        match self {
            Identity::Root => "root@console".into(),
            Identity::User(u) => u.user.name.clone(),
            Identity::Anonymous => "anonymous".into(),
        }
    }

    pub fn is_signed_in(&self) -> bool {
        !matches!(self, Identity::Anonymous)
    }

    pub fn allows(&self, p: Permission) -> bool {
        match (self, p) {
            (_, Permission::Public) => true,
            (Identity::Root, _) => true,
            (Identity::User(_), Permission::Authenticated) => true,
            (Identity::User(u), p) => !u.must_enroll_second_factor && u.permissions.contains(&p),
            (Identity::Anonymous, _) => false,
        }
    }
}

/// What a session cookie stands for.
#[derive(Debug, Clone)]
pub enum SessionState {
    None,
    /// Password given, second factor still owed.
    Pending {
        session: Box<SessionRow>,
        user: Box<UserRow>,
    },
    Complete(Box<UserIdentity>),
}

/// A session just created: the token goes into the cookie, and nowhere else.
pub struct NewSession {
    pub token: String,
    pub max_age: Duration,
}

/// How a password sign-in went.
pub struct LoginStep {
    pub session: NewSession,
    pub user: UserRow,
    /// Second factors the user may use next; empty when the session is already complete.
    pub second_factors: Vec<&'static str>,
}

pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> Result<String> {
    use base64::Engine;
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| AuthError::Internal(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

/// Account names: what people type to sign in.
pub fn check_name(name: &str) -> Result<()> {
    let ok = (1..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadRequest(format!(
            "`{name}` is not a valid account name: use 1 to 32 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit"
        )))
    }
}

pub fn check_display_name(display: &str) -> Result<()> {
    if display.trim().is_empty() || display.chars().count() > 64 || display.chars().any(char::is_control) {
        return Err(AuthError::BadRequest(
            "the display name must be 1 to 64 characters, without control characters".into(),
        ));
    }
    Ok(())
}

pub const SETTING_REQUIRE_2FA_ADMINS: &str = "security.require_second_factor_for_admins";
pub const SETTING_AUDIT_RETENTION_DAYS: &str = "security.audit_retention_days";

pub struct Auth {
    store: Arc<Store>,
    secrets: SecretBox,
    relying_party: Option<Webauthn>,
    cfg: AuthConfig,
}

impl Auth {
    pub fn new(store: Arc<Store>, state_dir: &Path, cfg: AuthConfig) -> Result<Auth> {
        let secrets = SecretBox::open(&state_dir.join("secret.key"))?;
        let relying_party = match passkeys::relying_party(&cfg.public_origins) {
            Ok(rp) => Some(rp),
            Err(e) => {
                tracing::warn!(error = %e, "passkeys are unavailable");
                None
            }
        };
        Ok(Auth { store, secrets, relying_party, cfg })
    }

    pub fn passkeys_available(&self) -> bool {
        self.relying_party.is_some()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    fn rp(&self) -> Result<&Webauthn> {
        self.relying_party.as_ref().ok_or_else(|| {
            AuthError::Conflict("passkeys are not available: the dashboard's public address is not set".into())
        })
    }

    pub fn setup_required(&self) -> Result<bool> {
        Ok(self.store.user_count()? == 0)
    }

    // ---- sessions

    /// Resolves a session cookie. Expired sessions are deleted on sight.
    pub fn session_state(&self, token: Option<&str>) -> Result<SessionState> {
        let Some(token) = token else { return Ok(SessionState::None) };
        let Some(s) = self.store.session_by_token_hash(&hash_token(token))? else { return Ok(SessionState::None) };
        let now = Utc::now();
        let idle = chrono::Duration::from_std(self.cfg.session_idle).unwrap_or(chrono::Duration::hours(12));
        if now > s.expires_at || now - s.last_seen_at > idle {
            self.store.delete_session(s.id)?;
            return Ok(SessionState::None);
        }
        let Some(user) = self.store.user(s.user_id)? else { return Ok(SessionState::None) };
        if user.disabled {
            return Ok(SessionState::None);
        }
        // Touch at most once a minute: reads should not turn into a write each.
        if now - s.last_seen_at > chrono::Duration::seconds(60) {
            self.store.touch_session(s.id, now)?;
        }
        if !s.second_factor_done {
            return Ok(SessionState::Pending { session: Box::new(s), user: Box::new(user) });
        }
        Ok(SessionState::Complete(Box::new(self.identity_of(user, s.id)?)))
    }

    /// The identity a just-completed session carries.
    pub fn identity_for_session(&self, user_id: i64, session_id: i64) -> Result<UserIdentity> {
        self.identity_of(self.user(user_id)?, session_id)
    }

    fn identity_of(&self, user: UserRow, session_id: i64) -> Result<UserIdentity> {
        let role = Role::parse(&user.role).ok_or_else(|| AuthError::Internal(format!("unknown role {}", user.role)))?;
        let mut permissions = role.permissions();
        let groups = self.store.groups()?;
        for gid in self.store.group_ids_of(user.id)? {
            if let Some(g) = groups.iter().find(|g| g.id == gid) {
                permissions.extend(g.permissions.iter().filter_map(|p| Permission::parse(p)));
            }
        }
        let must_enroll =
            role.is_admin() && self.require_second_factor_for_admins()? && !self.has_second_factor(&user)?;
        Ok(UserIdentity { user, role, session_id, permissions, must_enroll_second_factor: must_enroll })
    }

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

    fn start_session(&self, user: &UserRow, complete: bool, client: &ClientInfo) -> Result<NewSession> {
        let token = new_token()?;
        let expires =
            Utc::now() + chrono::Duration::from_std(self.cfg.session_max).unwrap_or(chrono::Duration::days(30));
        let source = client.address.clone().unwrap_or_else(|| "console".into());
        self.store.insert_session(&hash_token(&token), user.id, complete, expires, &source, &client.user_agent)?;
        Ok(NewSession { token, max_age: self.cfg.session_max })
    }

    pub fn logout(&self, session_id: i64) -> Result<()> {
        self.store.delete_session(session_id)?;
        Ok(())
    }

    pub fn sessions(&self, user_id: i64) -> Result<Vec<SessionRow>> {
        Ok(self.store.sessions_of(user_id)?)
    }

    pub fn revoke_session(&self, user_id: i64, session_id: i64) -> Result<()> {
        let mine = self.store.sessions_of(user_id)?.iter().any(|s| s.id == session_id);
        if !mine || !self.store.delete_session(session_id)? {
            return Err(AuthError::NotFound(format!("you have no session {session_id}")));
        }
        Ok(())
    }

    // ---- accounts

    /// First run: creates the owner while no account exists, and signs them in.
    pub fn setup_owner(
        &self,
        name: &str,
        display: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<(UserRow, NewSession)> {
        check_name(name)?;
        check_display_name(display)?;
        password::check_rules(password, name)?;
        let hash = password::hash(password)?;
        let user = self.store.insert_user(name, display, &hash, Role::Owner.name(), true).map_err(|e| match e {
            StoreError::Conflict(_) => AuthError::Conflict(
                "Keepsake is already set up: sign in instead, or ask the owner for an account".into(),
            ),
            e => e.into(),
        })?;
        let session = self.start_session(&user, true, client)?;
        Ok((user, session))
    }

    pub fn create_user(&self, name: &str, display: &str, password: &str, role: Role, by: &Identity) -> Result<UserRow> {
        check_name(name)?;
        check_display_name(display)?;
        password::check_rules(password, name)?;
        if role == Role::Owner && !matches!(by, Identity::Root) && !is_owner(by) {
            return Err(AuthError::Forbidden("only an owner can create another owner".into()));
        }
        let hash = password::hash(password)?;
        let only_first = false;
        self.store.insert_user(name, display, &hash, role.name(), only_first).map_err(|e| match e {
            StoreError::Conflict(m) => AuthError::Conflict(m),
            e => e.into(),
        })
    }

    pub fn user_by_name(&self, name: &str) -> Result<UserRow> {
        self.store.user_by_name(name)?.ok_or_else(|| AuthError::NotFound(format!("there is no account named `{name}`")))
    }

    pub fn user(&self, id: i64) -> Result<UserRow> {
        self.store.user(id)?.ok_or_else(|| AuthError::NotFound(format!("there is no account with id {id}")))
    }

    /// Changes role, display name, disabled flag and groups, with the owner rules: only an owner
    /// changes an owner, and the last owner can be neither demoted nor disabled.
    pub fn update_user(
        &self,
        id: i64,
        display: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
        groups: Option<&[i64]>,
        by: &Identity,
    ) -> Result<UserRow> {
        let u = self.user(id)?;
        let cur_role = Role::parse(&u.role).unwrap_or(Role::Viewer);
        let new_role = role.unwrap_or(cur_role);
        if (cur_role == Role::Owner || new_role == Role::Owner) && !is_owner(by) && !matches!(by, Identity::Root) {
            return Err(AuthError::Forbidden("only an owner can change an owner, or make someone an owner".into()));
        }
        let disabled = disabled.unwrap_or(u.disabled);
        if cur_role == Role::Owner && (new_role != Role::Owner || disabled) && self.owner_count()? <= 1 {
            return Err(AuthError::Conflict("this is the only owner: make someone else an owner first".into()));
        }
        if let Some(d) = display {
            check_display_name(d)?;
        }
        self.store.update_user(id, display.unwrap_or(&u.display_name), new_role.name(), disabled)?;
        if let Some(g) = groups {
            self.store.set_user_groups(id, g).map_err(|e| match e {
                StoreError::Conflict(m) => AuthError::BadRequest(m),
                e => e.into(),
            })?;
        }
        if disabled {
            self.store.delete_sessions_of(id, None)?;
        }
        self.user(id)
    }

    pub fn delete_user(&self, id: i64, by: &Identity) -> Result<UserRow> {
        let u = self.user(id)?;
        if u.role == Role::Owner.name() {
            if !is_owner(by) && !matches!(by, Identity::Root) {
                return Err(AuthError::Forbidden("only an owner can delete an owner".into()));
            }
            if self.owner_count()? <= 1 {
                return Err(AuthError::Conflict("this is the only owner and cannot be deleted".into()));
            }
        }
        self.store.delete_user(id)?;
        Ok(u)
    }

    fn owner_count(&self) -> Result<usize> {
        Ok(self.store.users()?.iter().filter(|u| u.role == Role::Owner.name() && !u.disabled).count())
    }

    pub fn set_password(&self, id: i64, new: &str) -> Result<()> {
        let u = self.user(id)?;
        password::check_rules(new, &u.name)?;
        self.store.set_password_hash(id, &password::hash(new)?)?;
        self.store.delete_sessions_of(id, None)?;
        Ok(())
    }

    pub fn change_own_password(&self, me: &UserIdentity, current: &str, new: &str) -> Result<()> {
        if !password::verify(current, &me.user.password_hash) {
            return Err(AuthError::BadRequest("the current password is wrong".into()));
        }
        password::check_rules(new, &me.user.name)?;
        self.store.set_password_hash(me.user.id, &password::hash(new)?)?;
        // Other sessions end: a changed password should lock out whoever knew the old one.
        self.store.delete_sessions_of(me.user.id, Some(me.session_id))?;
        Ok(())
    }

    /// An admin's (or the console's) reset of someone's second factors: TOTP, recovery codes and
    /// passkeys all go, and their sessions end.
    pub fn reset_second_factor(&self, id: i64) -> Result<UserRow> {
        let u = self.user(id)?;
        self.store.set_totp_secret(id, None, false)?;
        self.store.set_recovery_codes(id, &[])?;
        self.store.delete_passkeys_of(id)?;
        self.store.delete_sessions_of(id, None)?;
        Ok(u)
    }

    // ---- sign-in

    /// Checks name and password, with backoff. On success starts a session, complete unless the
    /// user has a second factor.
    pub fn login_password(&self, name: &str, password: &str, client: &ClientInfo) -> Result<LoginStep> {
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
        for (k, _) in &keys {
            self.store.clear_login_failures(k)?;
        }
        let factors = self.second_factors_of(&user)?;
        let session = self.start_session(&user, factors.is_empty(), client)?;
        Ok(LoginStep { session, user, second_factors: factors })
    }

    fn check_backoff(&self, keys: &[(String, backoff::Backoff)]) -> Result<()> {
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

    /// Counts a failure; returns whether this failure started a wait (a security event).
    fn record_failure(&self, keys: &[(String, backoff::Backoff)]) -> Result<bool> {
        let mut started = false;
        for (k, policy) in keys {
            let n = self.store.login_failures(k)?.map(|(n, _, _)| n).unwrap_or(0) + 1;
            let lock = policy.lock_for(n);
            let until = (!lock.is_zero()).then(|| Utc::now() + chrono::Duration::from_std(lock).unwrap_or_default());
            started |= n == policy.free;
            self.store.set_login_failures(k, n, until)?;
        }
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
        let keys = backoff_keys(&user.name, client);
        self.check_backoff(&keys)?;
        let ok = if recovery {
            user.totp_enabled && self.store.use_recovery_code(user.id, &totp::hash_recovery_code(code))?
        } else {
            match (&user.totp_secret, user.totp_enabled) {
                (Some(sealed), true) => match totp::check(&self.secrets.open_sealed(sealed)?, &user.name, code)? {
                    // A code seen before (even at enrollment) is a replay, however valid.
                    Some(step) => self.store.use_totp_step(user.id, step)?,
                    None => false,
                },
                _ => false,
            }
        };
        if !ok {
            self.record_failure(&keys)?;
            return Err(AuthError::BadRequest(if recovery {
                "that recovery code is wrong or was already used".into()
            } else {
                "that code is wrong, expired or already used: enter the current 6-digit code from your app (wait for the next one if you just used this one)".into()
            }));
        }
        for (k, _) in &keys {
            self.store.clear_login_failures(k)?;
        }
        self.store.complete_session_second_factor(pending.id)?;
        Ok(())
    }

    // ---- TOTP enrollment

    /// Starts (or restarts) TOTP enrollment: a new secret, not yet in force.
    pub fn totp_begin(&self, me: &UserIdentity) -> Result<(String, String, String)> {
        if me.user.totp_enabled {
            return Err(AuthError::Conflict(
                "an authenticator app is already set up: turn it off first to replace it".into(),
            ));
        }
        let secret = totp::new_secret()?;
        self.store.set_totp_secret(me.user.id, Some(&self.secrets.seal(&secret)?), false)?;
        totp::enrollment(&secret, &me.user.name)
    }

    /// Confirms enrollment with a code from the app; returns the one-time recovery codes.
    pub fn totp_confirm(&self, me: &UserIdentity, code: &str) -> Result<Vec<String>> {
        let u = self.user(me.user.id)?;
        let sealed = u
            .totp_secret
            .as_ref()
            .filter(|_| !u.totp_enabled)
            .ok_or_else(|| AuthError::Conflict("there is no authenticator app being set up: start again".into()))?;
        let Some(step) = totp::check(&self.secrets.open_sealed(sealed)?, &u.name, code)? else {
            return Err(AuthError::BadRequest("that code is wrong: enter the 6-digit code your app shows now".into()));
        };
        self.store.use_totp_step(u.id, step)?;
        self.store.set_totp_secret(u.id, Some(sealed), true)?;
        self.new_recovery_codes(u.id)
    }

    pub fn totp_disable(&self, me: &UserIdentity, password: &str) -> Result<()> {
        if !password::verify(password, &me.user.password_hash) {
            return Err(AuthError::BadRequest("the password is wrong".into()));
        }
        self.store.set_totp_secret(me.user.id, None, false)?;
        self.store.set_recovery_codes(me.user.id, &[])?;
        Ok(())
    }

    pub fn regenerate_recovery_codes(&self, me: &UserIdentity, password: &str) -> Result<Vec<String>> {
        if !password::verify(password, &me.user.password_hash) {
            return Err(AuthError::BadRequest("the password is wrong".into()));
        }
        if !me.user.totp_enabled {
            return Err(AuthError::Conflict("set up an authenticator app first".into()));
        }
        self.new_recovery_codes(me.user.id)
    }

    fn new_recovery_codes(&self, user_id: i64) -> Result<Vec<String>> {
        let codes = totp::recovery_codes()?;
        let hashes: Vec<String> = codes.iter().map(|c| totp::hash_recovery_code(c)).collect();
        self.store.set_recovery_codes(user_id, &hashes)?;
        Ok(codes)
    }

    // ---- passkeys

    fn passkeys_of(&self, user_id: i64) -> Result<Vec<(PasskeyRow, Passkey)>> {
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
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(AuthError::BadRequest(
                "give the passkey a name of 1 to 64 characters (e.g. \"Anna's phone\")".into(),
            ));
        }
        let existing: Vec<Passkey> = self.passkeys_of(me.user.id)?.into_iter().map(|(_, p)| p).collect();
        let (options, state) =
            passkeys::start_registration(self.rp()?, me.user.id, &me.user.name, &me.user.display_name, &existing)?;
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
        let (uid, state) = self
            .store
            .take_ceremony(ceremony, "register")?
            .ok_or_else(|| AuthError::BadRequest("this passkey registration expired: start again".into()))?;
        if uid != Some(me.user.id) {
            return Err(AuthError::BadRequest("this passkey registration belongs to someone else".into()));
        }
        let v: serde_json::Value = serde_json::from_str(&state).map_err(|e| AuthError::Internal(e.to_string()))?;
        let pk = passkeys::finish_registration(self.rp()?, credential, v["state"].as_str().unwrap_or(""))?;
        let json = serde_json::to_string(&pk).map_err(|e| AuthError::Internal(e.to_string()))?;
        let id = self.store.insert_passkey(
            me.user.id,
            v["name"].as_str().unwrap_or("passkey"),
            &passkeys::credential_id(&pk),
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
            return Err(AuthError::NotFound(format!("you have no passkey {id}")));
        }
        Ok(())
    }

    /// Starts a passkey sign-in for `name`: as the second factor of a pending session, or
    /// passwordless. Unknown names get a well-formed challenge too, so names cannot be probed.
    pub fn passkey_login_begin(&self, name: &str) -> Result<(String, serde_json::Value)> {
        let user = self.store.user_by_name(name)?.filter(|u| !u.disabled);
        let keys: Vec<Passkey> = match &user {
            Some(u) => self.passkeys_of(u.id)?.into_iter().map(|(_, p)| p).collect(),
            None => Vec::new(),
        };
        if keys.is_empty() {
            return Err(AuthError::BadRequest(
                "there is no passkey for this account: sign in with the password".into(),
            ));
        }
        let (options, state) = passkeys::start_authentication(self.rp()?, &keys)?;
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
        let (uid, state) = self
            .store
            .take_ceremony(ceremony, "login")?
            .ok_or_else(|| AuthError::BadRequest("this passkey sign-in expired: start again".into()))?;
        let user = self.user(uid.ok_or_else(|| AuthError::BadRequest("unknown account".into()))?)?;
        let keys = backoff_keys(&user.name, client);
        self.check_backoff(&keys)?;
        let mut stored = self.passkeys_of(user.id)?;
        let mut pks: Vec<Passkey> = stored.iter().map(|(_, p)| p.clone()).collect();
        let idx = match passkeys::finish_authentication(self.rp()?, credential, &state, &mut pks) {
            Ok(i) => i,
            Err(e) => {
                self.record_failure(&keys)?;
                return Err(e);
            }
        };
        let json = serde_json::to_string(&pks[idx]).map_err(|e| AuthError::Internal(e.to_string()))?;
        self.store.update_passkey(stored.remove(idx).0.id, &json)?;
        for (k, _) in &keys {
            self.store.clear_login_failures(k)?;
        }
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

    // ---- settings

    pub fn require_second_factor_for_admins(&self) -> Result<bool> {
        Ok(self.store.setting(SETTING_REQUIRE_2FA_ADMINS)?.as_deref() == Some("true"))
    }

    pub fn audit_retention_days(&self) -> Result<u32> {
        Ok(self.store.setting(SETTING_AUDIT_RETENTION_DAYS)?.and_then(|v| v.parse().ok()).unwrap_or(365))
    }

    /// Applies the audit retention setting; returns how many rows were removed.
    pub fn prune_audit(&self) -> Result<usize> {
        let days = self.audit_retention_days()?;
        Ok(self.store.prune_audit(Utc::now() - chrono::Duration::days(days as i64))?)
    }

    // ---- secrets

    pub fn set_secret(&self, name: &str, value: &Secret) -> Result<()> {
        check_secret_name(name)?;
        if value.expose().is_empty() || value.expose().len() > 64 * 1024 {
            return Err(AuthError::BadRequest("a secret must be 1 byte to 64 KiB long".into()));
        }
        self.store.set_secret_ciphertext(name, &self.secrets.seal(value.expose().as_bytes())?)?;
        Ok(())
    }

    /// Reads a secret for the agent's own use (sending mail, calling Immich). Never for the API.
    pub fn secret(&self, name: &str) -> Result<Option<Secret>> {
        check_secret_name(name)?;
        match self.store.secret_ciphertext(name)? {
            None => Ok(None),
            Some(ct) => {
                let bytes = self.secrets.open_sealed(&ct)?;
                Ok(Some(Secret::new(String::from_utf8(bytes).map_err(|_| SecretsError::Decrypt)?)))
            }
        }
    }

    pub fn secret_names(&self) -> Result<Vec<(String, Option<DateTime<Utc>>)>> {
        let stored = self.store.secret_names()?;
        Ok(secrets::NAMES
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

    pub fn delete_secret(&self, name: &str) -> Result<()> {
        check_secret_name(name)?;
        self.store.delete_secret(name)?;
        Ok(())
    }
}

fn check_secret_name(name: &str) -> Result<()> {
    if secrets::NAMES.iter().any(|(n, _)| *n == name) {
        return Ok(());
    }
    let known = secrets::NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    Err(AuthError::NotFound(format!("there is no secret called `{name}`; the secrets are: {known}")))
}

fn is_owner(id: &Identity) -> bool {
    matches!(id, Identity::User(u) if u.role == Role::Owner)
}

fn backoff_keys(name: &str, client: &ClientInfo) -> Vec<(String, backoff::Backoff)> {
    let mut keys = vec![(format!("account:{}", name.to_lowercase()), backoff::PER_ACCOUNT)];
    if let Some(a) = &client.address {
        keys.push((format!("address:{a}"), backoff::PER_ADDRESS));
    }
    keys
}

#[cfg(test)]
mod tests;
