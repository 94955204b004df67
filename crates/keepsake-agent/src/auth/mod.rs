//! Identity and access: who is calling, and what they may do.
//!
//! The agent owns identity; the web server only forwards the session cookie. The parts:
//!
//! - [`accounts`]: accounts and groups, with the owner rules; every multi-step change runs in one
//!   store transaction, validated before anything is written.
//! - [`signin`]: password sign-in, TOTP and recovery-code second factors, and the backoff
//!   ([`backoff`]) that slows guessing per account and per address.
//! - [`sessions`]: random 256-bit tokens of which only a SHA-256 hash is stored; resolving a cookie
//!   to an [`Identity`], through a short-lived cache ([`cache`]) that the store's identity epoch
//!   invalidates on any change.
//! - [`second_factors`]: TOTP enrollment ([`totp`]), recovery codes, and resets.
//! - [`passkeys`]: WebAuthn ([`webauthn`]) registration and sign-in.
//! - [`permissions`]: authorization is a set lookup, a route's [`Permission`] against the caller's
//!   role and groups.
//!
//! Settings and the secrets vault are not identity: see `crate::settings` and `crate::vault`
//! (re-exported here for callers of the earlier paths). Errors carry stable codes ([`error`]).
//!
//! The methods that run argon2 (and so take tens of milliseconds of CPU) are `setup_owner`,
//! `create_user`, `set_password`, `change_own_password`, `login_password`, `totp_disable` and
//! `regenerate_recovery_codes`. `Auth` is `Send + Sync` and they take `&self`, so the API layer
//! runs them on a blocking thread (`tokio::task::spawn_blocking` with an `Arc<Agent>` clone).

pub mod accounts;
pub mod backoff;
mod cache;
pub mod error;
pub mod passkeys;
pub mod password;
pub mod permissions;
pub mod reset;
pub mod second_factors;
pub mod sessions;
pub mod signin;
pub mod totp;
mod webauthn;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;
use webauthn_rs::Webauthn;

pub use accounts::{check_display_name, check_name};
pub use error::{AuthError, check_bytes, check_chars, truncate_for_record};
pub use permissions::{GRANTABLE, Permission, Role};
pub use signin::claimed_name;

pub use crate::settings::{SETTING_AUDIT_RETENTION_DAYS, SETTING_REQUIRE_2FA_ADMINS, Settings};
/// The vault under its earlier path (`auth::secrets::NAMES`).
pub use crate::vault as secrets;
pub use crate::vault::{Secret, SecretBox, SecretsError, Vault};

use crate::store::{SessionRow, Store, UserRow};

pub const COOKIE: &str = "keepsake_session";

type Result<T, E = AuthError> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Origins the dashboard is reached at; the first names the passkey relying party.
    pub public_origins: Vec<Url>,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_max: Duration,
    /// How long a resolved identity is reused without asking the store (on top of the epoch).
    pub identity_cache_ttl: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            public_origins: vec![Url::parse("https://keepsake.local").expect("valid")],
            session_idle: Duration::from_secs(12 * 3600),
            session_max: Duration::from_secs(30 * 24 * 3600),
            identity_cache_ttl: Duration::from_secs(5),
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

impl ClientInfo {
    /// The address and user agent cut to their recorded limits
    /// (`keepsake_api::limits::{ADDRESS_MAX, USER_AGENT_MAX}`): both come from the client.
    pub fn bounded(&self) -> ClientInfo {
        use keepsake_api::limits::{ADDRESS_MAX, USER_AGENT_MAX};
        ClientInfo {
            address: self.address.as_deref().map(|a| truncate_for_record(a, ADDRESS_MAX)),
            user_agent: truncate_for_record(&self.user_agent, USER_AGENT_MAX),
        }
    }
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

    /// An owner, or the root console: who may change owners.
    pub fn is_owner_or_root(&self) -> bool {
        match self {
            Identity::Root => true,
            Identity::User(u) => u.role == Role::Owner,
            Identity::Anonymous => false,
        }
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
    use std::fmt::Write;
    // On every signed-in request: one buffer, not a string per byte.
    let mut hex = String::with_capacity(64);
    for b in Sha256::digest(token.as_bytes()) {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

fn new_token() -> Result<String> {
    use base64::Engine;
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| AuthError::Internal(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

/// The identity service. Its methods are split by concern across this module's files.
pub struct Auth {
    store: Arc<Store>,
    sealer: Arc<SecretBox>,
    vault: Vault,
    settings: Settings,
    relying_party: Option<Webauthn>,
    cache: cache::IdentityCache,
    cfg: AuthConfig,
}

// The password-taking methods are meant for `spawn_blocking`: keep `Auth` shareable across threads.
const _: fn() = || {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Auth>();
};

impl Auth {
    pub fn new(store: Arc<Store>, state_dir: &Path, cfg: AuthConfig) -> Result<Auth> {
        let sealer = Arc::new(SecretBox::open(&state_dir.join("secret.key"))?);
        let relying_party = match webauthn::relying_party(&cfg.public_origins) {
            Ok(rp) => Some(rp),
            Err(e) => {
                tracing::warn!(error = %e, "passkeys are unavailable");
                None
            }
        };
        Ok(Auth {
            vault: Vault::new(Arc::clone(&store), Arc::clone(&sealer)),
            settings: Settings::new(Arc::clone(&store)),
            cache: cache::IdentityCache::new(cfg.identity_cache_ttl),
            store,
            sealer,
            relying_party,
            cfg,
        })
    }

    pub fn passkeys_available(&self) -> bool {
        self.relying_party.is_some()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The key that seals secrets at rest (also TOTP secrets).
    pub fn secrets(&self) -> &SecretBox {
        &self.sealer
    }

    /// The same key, shared (the alerts module seals channel secrets with it).
    pub fn sealer(&self) -> Arc<SecretBox> {
        Arc::clone(&self.sealer)
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn setup_required(&self) -> Result<bool> {
        Ok(self.store.user_count()? == 0)
    }

    // ---- kept for the API layer's earlier calls; prefer `settings()` and `vault()`.

    pub fn require_second_factor_for_admins(&self) -> Result<bool> {
        Ok(self.settings.require_second_factor_for_admins()?)
    }

    pub fn audit_retention_days(&self) -> Result<u32> {
        Ok(self.settings.audit_retention_days()?)
    }

    /// Applies the audit retention setting; returns how many rows were removed.
    pub fn prune_audit(&self) -> Result<usize> {
        Ok(self.settings.prune_audit()?)
    }

    pub fn set_secret(&self, name: &str, value: &Secret) -> Result<()> {
        Ok(self.vault.set(name, value)?)
    }

    /// Reads a secret for the agent's own use (sending mail, calling Immich). Never for the API.
    pub fn secret(&self, name: &str) -> Result<Option<Secret>> {
        Ok(self.vault.get(name)?)
    }

    pub fn secret_names(&self) -> Result<Vec<crate::vault::SecretName>> {
        Ok(self.vault.names()?)
    }

    pub fn delete_secret(&self, name: &str) -> Result<()> {
        Ok(self.vault.delete(name)?)
    }
}

#[cfg(test)]
mod tests;
