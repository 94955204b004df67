//! Persistence of accounts, groups, sessions and second factors. Policy (who may do what, how
//! passwords are hashed, when sessions expire) lives in `auth`; this file only stores and fetches.
//!
//! Every method is written once, on [`Tx`], so it can run inside a caller's
//! [`Store::transaction`]; the `Store` methods of the same name run it in a transaction of its own.
//! Writes that change who someone is or what they may do mark the transaction, which moves the
//! identity epoch when it commits. Constraint violations caused by input come back as
//! [`StoreError::Conflict`] with a stable code, never as an internal error.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store, StoreError, Tx, now, on_constraint, parse_ts, ts};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    /// Encrypted TOTP secret (see `auth::secrets`), present once enrollment started.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
    /// Where alerts and password-reset links for this account go.
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub second_factor_done: bool,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub source: String,
    pub user_agent: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub credential_id: String,
    /// The serialized webauthn-rs `Passkey`.
    pub passkey: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub type FailureRecord = (u32, DateTime<Utc>, Option<DateTime<Utc>>);

const USER_COLUMNS: &str =
    "id, name, display_name, password_hash, role, disabled, totp_secret, totp_enabled, created_at, email";

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<(UserRow, String)> {
    Ok((
        UserRow {
            id: r.get(0)?,
            name: r.get(1)?,
            display_name: r.get(2)?,
            password_hash: r.get(3)?,
            role: r.get(4)?,
            disabled: r.get::<_, i64>(5)? != 0,
            totp_secret: r.get(6)?,
            totp_enabled: r.get::<_, i64>(7)? != 0,
            created_at: Utc::now(),
            email: r.get(9)?,
        },
        r.get(8)?,
    ))
}

fn finish_user((mut u, created): (UserRow, String)) -> Result<UserRow> {
    u.created_at = parse_ts(&created)?;
    Ok(u)
}

in_own_transaction! {
    fn user_count(&self) -> i64;
    /// Creates an account; see [`Tx::insert_user`].
    fn insert_user(&self, name: &str, display_name: &str, password_hash: &str, role: &str, only_if_none: bool) -> UserRow;
    fn user(&self, id: i64) -> Option<UserRow>;
    fn user_by_name(&self, name: &str) -> Option<UserRow>;
    fn user_by_email(&self, email: &str) -> Option<UserRow>;
    fn set_user_email(&self, id: i64, email: Option<&str>) -> ();
    fn users(&self) -> Vec<UserRow>;
    fn update_user(&self, id: i64, display_name: &str, role: &str, disabled: bool) -> ();
    fn set_password_hash(&self, id: i64, hash: &str) -> ();
    fn delete_user(&self, id: i64) -> ();
    fn set_totp_secret(&self, id: i64, secret: Option<&[u8]>, enabled: bool) -> ();
    fn set_recovery_codes(&self, user_id: i64, hashes: &[String]) -> ();
    fn use_totp_step(&self, user_id: i64, step: u64) -> bool;
    fn use_recovery_code(&self, user_id: i64, hash: &str) -> bool;
    fn unused_recovery_codes(&self, user_id: i64) -> i64;
    fn insert_session(&self, token_hash: &str, user_id: i64, second_factor_done: bool, expires_at: DateTime<Utc>, source: &str, user_agent: &str) -> i64;
    fn session_by_token_hash(&self, token_hash: &str) -> Option<SessionRow>;
    fn sessions_of(&self, user_id: i64) -> Vec<SessionRow>;
    fn touch_session(&self, id: i64, at: DateTime<Utc>) -> ();
    fn complete_session_second_factor(&self, id: i64) -> ();
    fn delete_session(&self, id: i64) -> bool;
    fn delete_sessions_of(&self, user_id: i64, except: Option<i64>) -> usize;
    fn groups(&self) -> Vec<GroupRow>;
    fn upsert_group(&self, id: Option<i64>, name: &str, permissions: &[String]) -> i64;
    fn delete_group(&self, id: i64) -> bool;
    fn group_ids_of(&self, user_id: i64) -> Vec<i64>;
    fn set_user_groups(&self, user_id: i64, group_ids: &[i64]) -> ();
    fn insert_passkey(&self, user_id: i64, name: &str, credential_id: &str, passkey: &str) -> i64;
    fn passkeys_of(&self, user_id: i64) -> Vec<PasskeyRow>;
    fn all_passkeys(&self) -> Vec<PasskeyRow>;
    fn update_passkey(&self, id: i64, passkey: &str) -> ();
    fn delete_passkey(&self, user_id: i64, id: i64) -> bool;
    fn delete_passkeys_of(&self, user_id: i64) -> ();
    fn insert_ceremony(&self, id: &str, user_id: Option<i64>, kind: &str, state: &str, expires_at: DateTime<Utc>) -> ();
    fn take_ceremony(&self, id: &str, kind: &str) -> Option<(Option<i64>, String)>;
    fn login_failures(&self, key: &str) -> Option<FailureRecord>;
    fn set_login_failures(&self, key: &str, failures: u32, locked_until: Option<DateTime<Utc>>) -> ();
    fn clear_login_failures(&self, key: &str) -> ();
}

impl Tx<'_> {
    pub fn user_count(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
    }

    /// Creates an account. `only_if_none` makes it the first-run path: it fails with a conflict
    /// (`setup.done`) if any account exists, atomically, so two setup requests cannot both create
    /// an owner. A taken name is `user.name_taken`.
    pub fn insert_user(
        &self,
        name: &str,
        display_name: &str,
        password_hash: &str,
        role: &str,
        only_if_none: bool,
    ) -> Result<UserRow> {
        if only_if_none && self.user_count()? > 0 {
            return Err(StoreError::conflict("setup.done", "an account already exists"));
        }
        let taken = || format!("the name `{name}` is taken: choose another");
        if self.user_by_name(name)?.is_some() {
            return Err(StoreError::conflict("user.name_taken", taken()));
        }
        let t = ts(now());
        self.conn
            .execute(
                "INSERT INTO users (name, display_name, password_hash, role, created_at, password_changed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![name, display_name, password_hash, role, t],
            )
            .map_err(on_constraint("user.name_taken", taken))?;
        self.identity_changed();
        let id = self.conn.last_insert_rowid();
        self.user(id)?.ok_or_else(|| StoreError::Corrupt(format!("user {id} vanished")))
    }

    pub fn user(&self, id: i64) -> Result<Option<UserRow>> {
        let r = self
            .conn
            .query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), [id], user_from_row)
            .optional()?;
        r.map(finish_user).transpose()
    }

    pub fn user_by_name(&self, name: &str) -> Result<Option<UserRow>> {
        let r = self
            .conn
            .query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"), [name], user_from_row)
            .optional()?;
        r.map(finish_user).transpose()
    }

    pub fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        let r = self
            .conn
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1 COLLATE NOCASE"),
                [email],
                user_from_row,
            )
            .optional()?;
        r.map(finish_user).transpose()
    }

    /// Sets or clears an account's address; an address another account has is `user.email_taken`.
    pub fn set_user_email(&self, id: i64, email: Option<&str>) -> Result<()> {
        self.conn
            .execute("UPDATE users SET email = ?2 WHERE id = ?1", params![id, email])
            .map_err(on_constraint("user.email_taken", || "another account already has this email address".into()))?;
        Ok(())
    }

    pub fn users(&self) -> Result<Vec<UserRow>> {
        let mut stmt = self.conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))?;
        let rows = stmt.query_map([], user_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(finish_user).collect()
    }

    pub fn update_user(&self, id: i64, display_name: &str, role: &str, disabled: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET display_name = ?2, role = ?3, disabled = ?4 WHERE id = ?1",
            params![id, display_name, role, disabled as i64],
        )?;
        self.identity_changed();
        Ok(())
    }

    pub fn set_password_hash(&self, id: i64, hash: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
            params![id, hash, ts(now())],
        )?;
        self.identity_changed();
        Ok(())
    }

    pub fn delete_user(&self, id: i64) -> Result<()> {
        self.conn.execute("DELETE FROM users WHERE id = ?1", [id])?;
        self.identity_changed();
        Ok(())
    }

    /// Stores a TOTP secret being enrolled (not yet enabled).
    pub fn set_totp_secret(&self, id: i64, secret: Option<&[u8]>, enabled: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE users SET totp_secret = ?2, totp_enabled = ?3 WHERE id = ?1",
            params![id, secret, enabled as i64],
        )?;
        self.identity_changed();
        Ok(())
    }

    /// Replaces a user's recovery codes (hashes).
    pub fn set_recovery_codes(&self, user_id: i64, hashes: &[String]) -> Result<()> {
        self.conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
        for h in hashes {
            self.conn
                .execute("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)", params![user_id, h])?;
        }
        Ok(())
    }

    /// Records that a TOTP code of time step `step` was used; false if that step (or a later one)
    /// was already used, which makes the code a replay.
    pub fn use_totp_step(&self, user_id: i64, step: u64) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
            params![user_id, step as i64],
        )?;
        Ok(n == 1)
    }

    /// Marks an unused recovery code used; true if it existed and was unused.
    pub fn use_recovery_code(&self, user_id: i64, hash: &str) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE recovery_codes SET used_at = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
            params![user_id, hash, ts(now())],
        )?;
        Ok(n == 1)
    }

    pub fn unused_recovery_codes(&self, user_id: i64) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
            [user_id],
            |r| r.get(0),
        )?)
    }

    // ---- sessions

    pub fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        second_factor_done: bool,
        expires_at: DateTime<Utc>,
        source: &str,
        user_agent: &str,
    ) -> Result<i64> {
        let t = ts(now());
        self.conn
            .execute(
                "INSERT INTO sessions (token_hash, user_id, second_factor_done, created_at, last_seen_at, expires_at, source, user_agent) \
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
                params![token_hash, user_id, second_factor_done as i64, t, ts(expires_at), source, user_agent],
            )
            .map_err(on_constraint("user.not_found", || format!("there is no account with id {user_id}")))?;
        self.identity_changed();
        Ok(self.conn.last_insert_rowid())
    }

    pub fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        Ok(self.sessions_where("token_hash = ?1", token_hash)?.pop())
    }

    /// A user's complete sessions (those still owing a second factor are not listed).
    pub fn sessions_of(&self, user_id: i64) -> Result<Vec<SessionRow>> {
        self.sessions_where("user_id = ?1 AND second_factor_done = 1", &user_id.to_string())
    }

    fn sessions_where(&self, cond: &str, arg: &str) -> Result<Vec<SessionRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, user_id, second_factor_done, source, created_at, last_seen_at, expires_at, user_agent \
             FROM sessions WHERE {cond} ORDER BY id"
        ))?;
        let rows = stmt
            .query_map([arg], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)? != 0,
                    r.get::<_, String>(3)?,
                    [r.get::<_, String>(4)?, r.get::<_, String>(5)?, r.get::<_, String>(6)?],
                    r.get::<_, String>(7)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, user_id, done, source, [c, l, e], user_agent)| {
                Ok(SessionRow {
                    id,
                    user_id,
                    second_factor_done: done,
                    created_at: parse_ts(&c)?,
                    last_seen_at: parse_ts(&l)?,
                    expires_at: parse_ts(&e)?,
                    source,
                    user_agent,
                })
            })
            .collect()
    }

    /// Idle-expiry bookkeeping; not an identity change (nobody's rights move with it).
    pub fn touch_session(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        self.conn.execute("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1", params![id, ts(at)])?;
        Ok(())
    }

    pub fn complete_session_second_factor(&self, id: i64) -> Result<()> {
        self.conn.execute("UPDATE sessions SET second_factor_done = 1 WHERE id = ?1", [id])?;
        self.identity_changed();
        Ok(())
    }

    pub fn delete_session(&self, id: i64) -> Result<bool> {
        let n = self.conn.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        self.identity_changed();
        Ok(n == 1)
    }

    pub fn delete_sessions_of(&self, user_id: i64, except: Option<i64>) -> Result<usize> {
        let n =
            self.conn.execute("DELETE FROM sessions WHERE user_id = ?1 AND id IS NOT ?2", params![user_id, except])?;
        self.identity_changed();
        Ok(n)
    }

    // ---- groups

    pub fn groups(&self) -> Result<Vec<GroupRow>> {
        let mut stmt = self.conn.prepare("SELECT id, name, permissions FROM groups ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, name, p)| {
                let permissions =
                    serde_json::from_str(&p).map_err(|e| StoreError::Corrupt(format!("group permissions: {e}")))?;
                Ok(GroupRow { id, name, permissions })
            })
            .collect()
    }

    /// Creates (no `id`) or changes a group. A name another group has is `group.name_taken`; an
    /// `id` with no group is `group.not_found`.
    pub fn upsert_group(&self, id: Option<i64>, name: &str, permissions: &[String]) -> Result<i64> {
        let p = serde_json::to_string(permissions).expect("strings serialize");
        let taken = || format!("a group named `{name}` exists: choose another name");
        let id = match id {
            Some(id) => {
                let n = self
                    .conn
                    .execute("UPDATE groups SET name = ?2, permissions = ?3 WHERE id = ?1", params![id, name, p])
                    .map_err(on_constraint("group.name_taken", taken))?;
                if n == 0 {
                    return Err(StoreError::conflict("group.not_found", format!("there is no group with id {id}")));
                }
                id
            }
            None => {
                self.conn
                    .execute("INSERT INTO groups (name, permissions) VALUES (?1, ?2)", params![name, p])
                    .map_err(on_constraint("group.name_taken", taken))?;
                self.conn.last_insert_rowid()
            }
        };
        self.identity_changed();
        Ok(id)
    }

    pub fn delete_group(&self, id: i64) -> Result<bool> {
        let n = self.conn.execute("DELETE FROM groups WHERE id = ?1", [id])?;
        self.identity_changed();
        Ok(n == 1)
    }

    pub fn group_ids_of(&self, user_id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare("SELECT group_id FROM user_groups WHERE user_id = ?1 ORDER BY group_id")?;
        Ok(stmt.query_map([user_id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces a user's groups. An id with no group is `user.unknown_group` (and, run in a
    /// transaction, changes nothing).
    pub fn set_user_groups(&self, user_id: i64, group_ids: &[i64]) -> Result<()> {
        self.conn.execute("DELETE FROM user_groups WHERE user_id = ?1", [user_id])?;
        for g in group_ids {
            self.conn
                .execute("INSERT OR IGNORE INTO user_groups (user_id, group_id) VALUES (?1, ?2)", params![user_id, g])
                .map_err(on_constraint("user.unknown_group", || format!("there is no group with id {g}")))?;
        }
        self.identity_changed();
        Ok(())
    }

    // ---- passkeys

    pub fn insert_passkey(&self, user_id: i64, name: &str, credential_id: &str, passkey: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO passkeys (user_id, name, credential_id, passkey, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![user_id, name, credential_id, passkey, ts(now())],
            )
            .map_err(on_constraint("passkey.already_registered", || {
                "this passkey is already registered (here or to another account)".into()
            }))?;
        self.identity_changed();
        Ok(self.conn.last_insert_rowid())
    }

    pub fn passkeys_of(&self, user_id: i64) -> Result<Vec<PasskeyRow>> {
        self.passkeys_where("user_id = ?1", user_id.to_string())
    }

    pub fn all_passkeys(&self) -> Result<Vec<PasskeyRow>> {
        self.passkeys_where("?1 = ?1", String::new())
    }

    fn passkeys_where(&self, cond: &str, arg: String) -> Result<Vec<PasskeyRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, user_id, name, credential_id, passkey, created_at, last_used_at FROM passkeys WHERE {cond} ORDER BY id"
        ))?;
        let rows = stmt
            .query_map([arg], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, user_id, name, credential_id, passkey, c, l)| {
                Ok(PasskeyRow {
                    id,
                    user_id,
                    name,
                    credential_id,
                    passkey,
                    created_at: parse_ts(&c)?,
                    last_used_at: l.as_deref().map(parse_ts).transpose()?,
                })
            })
            .collect()
    }

    /// Stores a passkey's new state after a sign-in (its signature counter); not an identity change.
    pub fn update_passkey(&self, id: i64, passkey: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE passkeys SET passkey = ?2, last_used_at = ?3 WHERE id = ?1",
            params![id, passkey, ts(now())],
        )?;
        Ok(())
    }

    pub fn delete_passkey(&self, user_id: i64, id: i64) -> Result<bool> {
        let n = self.conn.execute("DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2", params![id, user_id])?;
        self.identity_changed();
        Ok(n == 1)
    }

    pub fn delete_passkeys_of(&self, user_id: i64) -> Result<()> {
        self.conn.execute("DELETE FROM passkeys WHERE user_id = ?1", [user_id])?;
        self.identity_changed();
        Ok(())
    }

    // ---- ceremonies (WebAuthn challenges in flight)

    pub fn insert_ceremony(
        &self,
        id: &str,
        user_id: Option<i64>,
        kind: &str,
        state: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute("DELETE FROM ceremonies WHERE expires_at < ?1", [ts(now())])?;
        self.conn.execute(
            "INSERT INTO ceremonies (id, user_id, kind, state, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, user_id, kind, state, ts(expires_at)],
        )?;
        Ok(())
    }

    /// Takes (reads and deletes) an unexpired ceremony: each challenge can be answered once.
    pub fn take_ceremony(&self, id: &str, kind: &str) -> Result<Option<(Option<i64>, String)>> {
        Ok(self
            .conn
            .query_row(
                "DELETE FROM ceremonies WHERE id = ?1 AND kind = ?2 AND expires_at >= ?3 RETURNING user_id, state",
                params![id, kind, ts(now())],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    // ---- brute-force bookkeeping

    /// Failures in a row for `key`, when the last was, and until when attempts must wait.
    pub fn login_failures(&self, key: &str) -> Result<Option<FailureRecord>> {
        let r = self
            .conn
            .query_row("SELECT failures, last_at, locked_until FROM login_failures WHERE key = ?1", [key], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?))
            })
            .optional()?;
        r.map(|(n, last, until)| Ok((n as u32, parse_ts(&last)?, until.as_deref().map(parse_ts).transpose()?)))
            .transpose()
    }

    /// Records failures for `key`. The table is bounded: past
    /// [`keepsake_api::limits::BACKOFF_ROWS_MAX`] rows, the entries not currently locking anyone
    /// go first, oldest first, so junk names cannot grow it without bound.
    pub fn set_login_failures(&self, key: &str, failures: u32, locked_until: Option<DateTime<Utc>>) -> Result<()> {
        let t = ts(now());
        self.conn.execute(
            "INSERT INTO login_failures (key, failures, last_at, locked_until) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(key) DO UPDATE SET failures = ?2, last_at = ?3, locked_until = ?4",
            params![key, failures as i64, t, locked_until.map(ts)],
        )?;
        self.conn.execute(
            "DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures WHERE key != ?1 \
             ORDER BY (locked_until IS NOT NULL AND locked_until > ?2), last_at \
             LIMIT MAX((SELECT COUNT(*) FROM login_failures) - ?3, 0))",
            params![key, t, keepsake_api::limits::BACKOFF_ROWS_MAX as i64],
        )?;
        Ok(())
    }

    pub fn clear_login_failures(&self, key: &str) -> Result<()> {
        self.conn.execute("DELETE FROM login_failures WHERE key = ?1", [key])?;
        Ok(())
    }

    /// How many backoff rows exist (for tests and diagnostics).
    pub fn login_failure_rows(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM login_failures", [], |r| r.get(0))?)
    }
}
