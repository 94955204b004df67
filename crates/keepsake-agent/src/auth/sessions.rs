//! Sessions: starting them, resolving a cookie to who is calling, listing and ending them.
//!
//! A session is either complete, or waiting for its second factor, in which state it grants
//! nothing. It ends when unused for `session_idle` or `session_max` after sign-in. Resolving a
//! cookie goes through the identity cache; the idle clock (`last_seen_at`) is written at most once
//! a minute per session, so reads do not turn into a write each.

use chrono::{DateTime, Utc};

use super::{Auth, AuthError, ClientInfo, NewSession, Permission, Result, Role, SessionState, UserIdentity};
use super::{hash_token, new_token};
use crate::store::{SessionRow, Tx, UserRow};

/// The idle clock is written at most this often per session.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl Auth {
    fn expired(&self, s: &SessionRow, now: DateTime<Utc>) -> bool {
        let idle = chrono::Duration::from_std(self.cfg.session_idle).unwrap_or(chrono::Duration::hours(12));
        now > s.expires_at || now - s.last_seen_at > idle
    }

    /// Resolves a session cookie. Expired sessions are deleted on sight.
    pub fn session_state(&self, token: Option<&str>) -> Result<SessionState> {
        let Some(token) = token else { return Ok(SessionState::None) };
        let token_hash = hash_token(token);
        // Read before any row: see `cache` for why the order matters.
        let epoch = self.store.identity_epoch();
        let now = Utc::now();
        if let Some((s, identity)) = self.cache.get(&token_hash, epoch)
            && !self.expired(&s, now)
        {
            if now - s.last_seen_at > TOUCH_EVERY {
                self.store.touch_session(s.id, now)?;
                self.cache.touched(&token_hash, now);
            }
            return Ok(SessionState::Complete(Box::new(identity)));
        }
        let Some(mut s) = self.store.session_by_token_hash(&token_hash)? else { return Ok(SessionState::None) };
        if self.expired(&s, now) {
            self.store.delete_session(s.id)?;
            return Ok(SessionState::None);
        }
        let Some(user) = self.store.user(s.user_id)? else { return Ok(SessionState::None) };
        if user.disabled {
            return Ok(SessionState::None);
        }
        if now - s.last_seen_at > TOUCH_EVERY {
            self.store.touch_session(s.id, now)?;
            s.last_seen_at = now;
        }
        if !s.second_factor_done {
            return Ok(SessionState::Pending { session: Box::new(s), user: Box::new(user) });
        }
        let identity = self.identity_of(user, s.id)?;
        self.cache.put(token_hash, epoch, s, identity.clone());
        Ok(SessionState::Complete(Box::new(identity)))
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
            role.is_admin() && self.settings.require_second_factor_for_admins()? && !self.has_second_factor(&user)?;
        Ok(UserIdentity { user, role, session_id, permissions, must_enroll_second_factor: must_enroll })
    }

    pub(super) fn start_session(&self, user: &UserRow, complete: bool, client: &ClientInfo) -> Result<NewSession> {
        self.store.transaction(|tx| self.start_session_in(tx, user.id, complete, client))
    }

    /// Starts a session inside the caller's transaction (first-run setup creates the owner and
    /// their session together).
    pub(super) fn start_session_in(
        &self,
        tx: &Tx<'_>,
        user_id: i64,
        complete: bool,
        client: &ClientInfo,
    ) -> Result<NewSession> {
        let token = new_token()?;
        let expires =
            Utc::now() + chrono::Duration::from_std(self.cfg.session_max).unwrap_or(chrono::Duration::days(30));
        let client = client.bounded();
        let source = client.address.unwrap_or_else(|| "console".into());
        tx.insert_session(&hash_token(&token), user_id, complete, expires, &source, &client.user_agent)?;
        Ok(NewSession { token, max_age: self.cfg.session_max })
    }

    pub fn logout(&self, session_id: i64) -> Result<()> {
        self.store.delete_session(session_id)?;
        Ok(())
    }

    pub fn sessions(&self, user_id: i64) -> Result<Vec<SessionRow>> {
        Ok(self.store.sessions_of(user_id)?)
    }

    /// Ends one of `user_id`'s own sessions (`session.not_found` if it is not theirs).
    pub fn revoke_session(&self, user_id: i64, session_id: i64) -> Result<()> {
        self.store.transaction(|tx| {
            let mine = tx.sessions_of(user_id)?.iter().any(|s| s.id == session_id);
            if !mine || !tx.delete_session(session_id)? {
                return Err(AuthError::not_found("session.not_found", format!("you have no session {session_id}")));
            }
            Ok(())
        })
    }
}
