//! Accounts and groups, with the owner rules: only an owner (or the root console) changes an
//! owner or makes one, and the last enabled owner can be neither demoted, disabled nor deleted.
//!
//! Every change is validated in full (names, sizes, group ids, owner rules) and then written in one
//! store transaction, so bad input changes nothing. Password hashing happens before the
//! transaction, outside the store's lock.

use keepsake_api::limits::{
    DISPLAY_NAME_MAX_CHARS, GROUP_NAME_MAX_CHARS, GROUP_PERMISSIONS_MAX, NAME_MAX, USER_GROUPS_MAX,
};

use super::{Auth, AuthError, ClientInfo, Identity, NewSession, Permission, Result, Role, password};
use crate::store::{GroupRow, Tx, UserRow};

/// Account names: what people type to sign in.
pub fn check_name(name: &str) -> Result<()> {
    super::check_bytes("the account name", name, NAME_MAX)?;
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(AuthError::bad_request(
            "user.invalid_name",
            format!(
                "`{name}` is not a valid account name: use 1 to {NAME_MAX} lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit"
            ),
        ))
    }
}

pub fn check_display_name(display: &str) -> Result<()> {
    super::check_chars("the display name", display, DISPLAY_NAME_MAX_CHARS)?;
    if display.trim().is_empty() || display.chars().any(char::is_control) {
        return Err(AuthError::bad_request(
            "user.invalid_display_name",
            format!("the display name must be 1 to {DISPLAY_NAME_MAX_CHARS} characters, without control characters"),
        ));
    }
    Ok(())
}

/// An account's email address: one the documented pattern accepts (no spaces, no second
/// recipient). Empty means none.
pub fn check_email(email: &str) -> Result<()> {
    if !keepsake_api::limits::is_plausible_email(email) {
        return Err(AuthError::bad_request(
            "user.invalid_email",
            format!(
                "{:?} is not an email address Keepsake can send to: use name@example.org, at most {} characters",
                keepsake_api::limits::truncate_for_record(email, 80),
                keepsake_api::limits::EMAIL_MAX
            ),
        ));
    }
    Ok(())
}

pub fn check_group_name(name: &str) -> Result<()> {
    super::check_chars("the group name", name, GROUP_NAME_MAX_CHARS)?;
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(AuthError::bad_request(
            "group.invalid_name",
            format!("a group name must be 1 to {GROUP_NAME_MAX_CHARS} characters, without control characters"),
        ));
    }
    Ok(())
}

pub fn check_permissions(names: &[String]) -> Result<()> {
    if names.len() > GROUP_PERMISSIONS_MAX {
        return Err(AuthError::TooLong { what: "the permission list", max: GROUP_PERMISSIONS_MAX, unit: "entries" });
    }
    for n in names {
        if Permission::parse(n).is_none() {
            return Err(AuthError::bad_request(
                "group.unknown_permission",
                format!("`{}` is not a permission; see /api/v1/permissions", super::truncate_for_record(n, 64)),
            ));
        }
    }
    Ok(())
}

fn check_groups_exist(tx: &Tx<'_>, ids: &[i64]) -> Result<()> {
    if ids.len() > USER_GROUPS_MAX {
        return Err(AuthError::TooLong { what: "the group list", max: USER_GROUPS_MAX, unit: "entries" });
    }
    let groups = tx.groups()?;
    if let Some(g) = ids.iter().find(|g| !groups.iter().any(|x| x.id == **g)) {
        return Err(AuthError::bad_request("user.unknown_group", format!("there is no group with id {g}")));
    }
    Ok(())
}

fn owner_only(what: &str) -> AuthError {
    AuthError::forbidden("auth.owner_only", format!("only an owner can {what}"))
}

fn user_in(tx: &Tx<'_>, id: i64) -> Result<UserRow> {
    tx.user(id)?.ok_or_else(|| AuthError::not_found("user.not_found", format!("there is no account with id {id}")))
}

fn enabled_owners(tx: &Tx<'_>) -> Result<usize> {
    Ok(tx.users()?.iter().filter(|u| u.role == Role::Owner.name() && !u.disabled).count())
}

impl Auth {
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
        self.store.transaction(|tx| {
            let user = tx.insert_user(name, display, &hash, Role::Owner.name(), true).map_err(|e| match e.code() {
                "setup.done" => AuthError::conflict(
                    "setup.done",
                    "Keepsake is already set up: sign in instead, or ask the owner for an account",
                ),
                _ => e.into(),
            })?;
            let session = self.start_session_in(tx, user.id, true, client)?;
            Ok((user, session))
        })
    }

    #[allow(clippy::too_many_arguments)]
    /// Creates an account with its groups, all or nothing: an unknown group (`user.unknown_group`)
    /// or a taken name (`user.name_taken`) leaves no account behind.
    pub fn create_user(
        &self,
        name: &str,
        display: &str,
        password: &str,
        role: Role,
        groups: &[i64],
        email: Option<&str>,
        by: &Identity,
    ) -> Result<UserRow> {
        check_name(name)?;
        check_display_name(display)?;
        let email = email.filter(|e| !e.is_empty());
        if let Some(e) = email {
            check_email(e)?;
        }
        password::check_rules(password, name)?;
        if role == Role::Owner && !by.is_owner_or_root() {
            return Err(owner_only("create another owner"));
        }
        let hash = password::hash(password)?;
        self.store.transaction(|tx| {
            check_groups_exist(tx, groups)?;
            let u = tx.insert_user(name, display, &hash, role.name(), false)?;
            tx.set_user_groups(u.id, groups)?;
            if email.is_some() {
                tx.set_user_email(u.id, email)?;
                return user_in(tx, u.id);
            }
            Ok(u)
        })
    }

    pub fn user_by_name(&self, name: &str) -> Result<UserRow> {
        check_name(name)?;
        self.store
            .user_by_name(name)?
            .ok_or_else(|| AuthError::not_found("user.not_found", format!("there is no account named `{name}`")))
    }

    pub fn user(&self, id: i64) -> Result<UserRow> {
        self.store
            .user(id)?
            .ok_or_else(|| AuthError::not_found("user.not_found", format!("there is no account with id {id}")))
    }

    /// Changes role, display name, disabled flag, groups and email address (`Some("")` clears
    /// it) in one transaction, with the owner rules. Disabling ends the account's sessions.
    #[allow(clippy::too_many_arguments)]
    pub fn update_user(
        &self,
        id: i64,
        display: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
        groups: Option<&[i64]>,
        email: Option<&str>,
        by: &Identity,
    ) -> Result<UserRow> {
        if let Some(d) = display {
            check_display_name(d)?;
        }
        if let Some(e) = email.filter(|e| !e.is_empty()) {
            check_email(e)?;
        }
        self.store.transaction(|tx| {
            let u = user_in(tx, id)?;
            let cur_role = Role::parse(&u.role).unwrap_or(Role::Viewer);
            let new_role = role.unwrap_or(cur_role);
            let disabled = disabled.unwrap_or(u.disabled);
            if (cur_role == Role::Owner || new_role == Role::Owner) && !by.is_owner_or_root() {
                return Err(owner_only("change an owner, or make someone an owner"));
            }
            if cur_role == Role::Owner
                && (new_role != Role::Owner || disabled)
                && !u.disabled
                && enabled_owners(tx)? <= 1
            {
                return Err(AuthError::conflict(
                    "auth.last_owner",
                    "this is the only owner: make someone else an owner first",
                ));
            }
            if let Some(g) = groups {
                check_groups_exist(tx, g)?;
            }
            tx.update_user(id, display.unwrap_or(&u.display_name), new_role.name(), disabled)?;
            if let Some(g) = groups {
                tx.set_user_groups(id, g)?;
            }
            if let Some(e) = email {
                tx.set_user_email(id, Some(e).filter(|e| !e.is_empty()))?;
            }
            if disabled {
                tx.delete_sessions_of(id, None)?;
            }
            user_in(tx, id)
        })
    }

    pub fn delete_user(&self, id: i64, by: &Identity) -> Result<UserRow> {
        self.store.transaction(|tx| {
            let u = user_in(tx, id)?;
            if u.role == Role::Owner.name() {
                if !by.is_owner_or_root() {
                    return Err(owner_only("delete an owner"));
                }
                if !u.disabled && enabled_owners(tx)? <= 1 {
                    return Err(AuthError::conflict("auth.last_owner", "this is the only owner and cannot be deleted"));
                }
            }
            tx.delete_user(id)?;
            Ok(u)
        })
    }

    /// Sets someone's password (an admin's or the console's reset) and ends their sessions. Only an
    /// owner (or root) sets an owner's password.
    pub fn set_password(&self, id: i64, new: &str, by: &Identity) -> Result<()> {
        let u = self.user(id)?;
        if u.role == Role::Owner.name() && !by.is_owner_or_root() {
            return Err(owner_only("set an owner's password"));
        }
        password::check_rules(new, &u.name)?;
        let hash = password::hash(new)?;
        self.store.transaction(|tx| {
            // The role could have changed while hashing: check again under the transaction.
            if user_in(tx, id)?.role == Role::Owner.name() && !by.is_owner_or_root() {
                return Err(owner_only("set an owner's password"));
            }
            tx.set_password_hash(id, &hash)?;
            tx.delete_sessions_of(id, None)?;
            Ok(())
        })
    }

    pub fn change_own_password(&self, me: &super::UserIdentity, current: &str, new: &str) -> Result<()> {
        password::check_size(current)?;
        if !password::verify(current, &me.user.password_hash) {
            return Err(AuthError::bad_request("auth.bad_password", "the current password is wrong"));
        }
        password::check_rules(new, &me.user.name)?;
        let hash = password::hash(new)?;
        self.store.transaction(|tx| {
            tx.set_password_hash(me.user.id, &hash)?;
            // Other sessions end: a changed password should lock out whoever knew the old one.
            tx.delete_sessions_of(me.user.id, Some(me.session_id))?;
            Ok(())
        })
    }

    // ---- groups

    pub fn groups(&self) -> Result<Vec<GroupRow>> {
        Ok(self.store.groups()?)
    }

    /// Creates a group (`group.name_taken` if the name is used, case-insensitively).
    pub fn create_group(&self, name: &str, permissions: &[String]) -> Result<GroupRow> {
        check_group_name(name)?;
        check_permissions(permissions)?;
        let name = name.trim();
        let id = self.store.upsert_group(None, name, permissions)?;
        Ok(GroupRow { id, name: name.to_owned(), permissions: permissions.to_vec() })
    }

    /// Renames a group or changes its permissions (`group.not_found`, `group.name_taken`).
    pub fn update_group(&self, id: i64, name: &str, permissions: &[String]) -> Result<GroupRow> {
        check_group_name(name)?;
        check_permissions(permissions)?;
        let name = name.trim();
        self.store.upsert_group(Some(id), name, permissions).map_err(|e| match e.code() {
            "group.not_found" => AuthError::not_found("group.not_found", e.to_string()),
            _ => e.into(),
        })?;
        Ok(GroupRow { id, name: name.to_owned(), permissions: permissions.to_vec() })
    }

    pub fn delete_group(&self, id: i64) -> Result<()> {
        if !self.store.delete_group(id)? {
            return Err(AuthError::not_found("group.not_found", format!("there is no group with id {id}")));
        }
        Ok(())
    }
}
