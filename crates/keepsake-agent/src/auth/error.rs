//! Errors of identity and access. Every error a caller can cause carries a stable dotted code
//! ([`AuthError::code`]) that the dashboard branches on; the message is for people and may change.
//!
//! The codes:
//!
//! | code | meaning |
//! |---|---|
//! | `auth.unauthenticated` | no (complete) session: sign in |
//! | `auth.bad_credentials` | wrong name or password (which one is not said) |
//! | `auth.too_many_attempts` | sign-in backoff; `retry_after_secs` says how long |
//! | `auth.bad_code` | a TOTP or recovery code is wrong, expired or used |
//! | `auth.bad_password` | the current password given to confirm a change is wrong |
//! | `auth.no_pending_sign_in` | a second factor was sent with no sign-in waiting for one |
//! | `auth.permission_missing` | the caller lacks the route's permission |
//! | `auth.second_factor_enrollment_required` | an admin must enroll a second factor first |
//! | `auth.owner_only` | only an owner (or the root console) may do this to an owner |
//! | `auth.last_owner` | the only enabled owner cannot be demoted, disabled or deleted |
//! | `setup.done` | first-run setup was already done |
//! | `input.too_long` | an input is over its limit (`keepsake_api::limits`) |
//! | `user.not_found` | no such account |
//! | `user.name_taken` | another account has this name |
//! | `user.invalid_name` | an account name breaks the naming rules |
//! | `user.invalid_display_name` | a display name is empty or has control characters |
//! | `user.unknown_group` | a group id given for a user does not exist |
//! | `password.too_short` | a new password is under the minimum length |
//! | `password.is_name` | a new password equals the account name |
//! | `group.not_found` | no such group |
//! | `group.name_taken` | another group has this name |
//! | `group.invalid_name` | a group name is empty or has control characters |
//! | `group.unknown_permission` | a permission named for a group does not exist |
//! | `session.not_found` | the caller has no such session |
//! | `totp.already_enabled` | an authenticator app is already set up |
//! | `totp.not_enrolling` | no authenticator app enrollment is in progress |
//! | `totp.not_enabled` | the action needs an authenticator app first |
//! | `passkey.not_found` | the caller has no such passkey |
//! | `passkey.unavailable` | passkeys are off: no public address is configured |
//! | `passkey.none` | the account has no passkey |
//! | `passkey.invalid_name` | a passkey name is empty |
//! | `passkey.ceremony_expired` | the registration or sign-in challenge expired or was used |
//! | `passkey.ceremony_mismatch` | the challenge belongs to another account |
//! | `passkey.rejected` | the authenticator's answer was not accepted |
//! | `passkey.already_registered` | that authenticator is already registered |
//! | `secret.not_found` | no secret has this name |
//! | `secret.empty` | a secret value is empty |
//! | `internal` | the agent failed; not the caller's fault |

use crate::store::StoreError;
use crate::vault::SecretsError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("sign in first")]
    Unauthenticated,
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{what} is too long: use at most {max} {unit}")]
    TooLong { what: &'static str, max: usize, unit: &'static str },
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

impl AuthError {
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError::Forbidden { code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError::BadRequest { code, message: message.into() }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError::NotFound { code, message: message.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError::Conflict { code, message: message.into() }
    }

    /// The stable code (see the table in this module's documentation).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Unauthenticated => "auth.unauthenticated",
            AuthError::Forbidden { code, .. }
            | AuthError::BadRequest { code, .. }
            | AuthError::NotFound { code, .. }
            | AuthError::Conflict { code, .. } => code,
            AuthError::TooLong { .. } => "input.too_long",
            AuthError::BadCredentials => "auth.bad_credentials",
            AuthError::TooManyAttempts { .. } => "auth.too_many_attempts",
            AuthError::Internal(_) => "internal",
            AuthError::Secrets(e) => e.code(),
            AuthError::Store(e) => e.code(),
        }
    }
}

/// Refuses `value` when it is longer than `max` bytes: checked before anything is stored or hashed.
pub fn check_bytes(what: &'static str, value: &str, max: usize) -> Result<(), AuthError> {
    if value.len() > max {
        return Err(AuthError::TooLong { what, max, unit: "bytes" });
    }
    Ok(())
}

/// Refuses `value` when it is longer than `max` characters (or so many bytes that counting them
/// would itself be work: four bytes a character at most).
pub fn check_chars(what: &'static str, value: &str, max: usize) -> Result<(), AuthError> {
    if value.len() > max * 4 || value.chars().count() > max {
        return Err(AuthError::TooLong { what, max, unit: "characters" });
    }
    Ok(())
}

pub use keepsake_api::limits::truncate_for_record;
