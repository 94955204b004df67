//! Forgotten passwords: single-use, short-lived reset tokens, stored only as hashes.
//!
//! [`Auth::begin_password_reset`] makes a token for an account that has an email address; the
//! caller (the alerts module, which knows how to send mail) mails the link and answers the same
//! whatever happened, so the answer never says whether an account exists. Using a token
//! ([`Auth::complete_password_reset`]) sets the password, marks the token used and ends every
//! session of the account, in one transaction.

use chrono::{TimeDelta, Utc};

use super::{Auth, AuthError, Result, hash_token, new_token, password};
use crate::store::UserRow;

/// How long a reset link works.
pub const RESET_TTL: TimeDelta = TimeDelta::minutes(30);
/// At most one link per account this often, so the form cannot be used to flood a mailbox.
pub const RESET_GAP: TimeDelta = TimeDelta::minutes(2);

/// Why no link was made (never shown to the caller, only audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoLink {
    UnknownAccount,
    Disabled,
    NoAddress,
    TooSoon,
}

impl NoLink {
    pub fn describe(self) -> &'static str {
        match self {
            NoLink::UnknownAccount => "no such account",
            NoLink::Disabled => "the account is disabled",
            NoLink::NoAddress => "the account has no email address",
            NoLink::TooSoon => "a link was sent less than two minutes ago",
        }
    }
}

impl Auth {
    /// A new reset token for the account named (or with the address) `who`, or why none.
    pub fn begin_password_reset(&self, who: &str) -> Result<std::result::Result<(UserRow, String), NoLink>> {
        let who = who.trim();
        let user = if who.contains('@') {
            self.store.user_by_email(who)?
        } else {
            self.store.user_by_name(&who.to_lowercase())?
        };
        let Some(user) = user else { return Ok(Err(NoLink::UnknownAccount)) };
        if user.disabled {
            return Ok(Err(NoLink::Disabled));
        }
        if user.email.is_none() {
            return Ok(Err(NoLink::NoAddress));
        }
        let now = Utc::now();
        if self.store.last_password_reset_at(user.id)?.is_some_and(|t| now - t < RESET_GAP) {
            return Ok(Err(NoLink::TooSoon));
        }
        let token = new_token()?;
        self.store.insert_password_reset(&hash_token(&token), user.id, now + RESET_TTL)?;
        Ok(Ok((user, token)))
    }

    /// Sets a new password with a reset token; ends all the account's sessions. Refuses a token
    /// that is unknown, used or expired with a message that says which and what to do.
    pub fn complete_password_reset(&self, token: &str, new: &str) -> Result<UserRow> {
        password::check_size(new)?;
        let hash = hash_token(token);
        let invalid = || {
            AuthError::bad_request(
                "auth.reset_link_invalid",
                "this reset link is not valid: ask for a new one on the sign-in page (\"Forgot your password?\")",
            )
        };
        let row = self.store.password_reset(&hash)?.ok_or_else(invalid)?;
        if row.used_at.is_some() {
            return Err(AuthError::bad_request(
                "auth.reset_link_used",
                "this reset link was already used: each link works once; ask for a new one on the sign-in page",
            ));
        }
        if row.expires_at <= Utc::now() {
            return Err(AuthError::bad_request(
                "auth.reset_link_expired",
                format!(
                    "this reset link has expired (links work for {} minutes): ask for a new one on the sign-in page",
                    RESET_TTL.num_minutes()
                ),
            ));
        }
        let user = self.user(row.user_id)?;
        if user.disabled {
            return Err(invalid());
        }
        password::check_rules(new, &user.name)?;
        let phc = password::hash(new)?;
        self.store.transaction(|tx| {
            // Under the transaction: of two racing uses, only one marks the token.
            if !tx.use_password_reset(&hash)? {
                return Err(AuthError::bad_request(
                    "auth.reset_link_used",
                    "this reset link was already used: each link works once; ask for a new one on the sign-in page",
                ));
            }
            tx.set_password_hash(user.id, &phc)?;
            tx.delete_sessions_of(user.id, None)?;
            Ok(())
        })?;
        Ok(user)
    }
}
