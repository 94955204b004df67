//! Handlers for accounts: list, create, change, delete, set a password, reset second factors.

use std::sync::Arc;

use keepsake_api::{Done, NewUser, NoParams, PasswordSet, UserInfo, UserList, UserUpdate};

use super::contract::{Cx, NoBody, NoQuery};
use super::{ApiError, blocking};
use crate::Agent;
use crate::auth::Role;
use crate::store::UserRow;

fn user_info(agent: &Agent, u: UserRow) -> Result<UserInfo, ApiError> {
    let role = Role::parse(&u.role)
        .ok_or_else(|| ApiError::internal(format!("account {} has an unknown role {:?}", u.name, u.role)))?;
    Ok(UserInfo {
        groups: agent.store.group_ids_of(u.id)?,
        passkeys: agent.store.passkeys_of(u.id)?.len() as u32,
        id: u.id,
        name: u.name,
        display_name: u.display_name,
        role: role.into(),
        disabled: u.disabled,
        totp_enabled: u.totp_enabled,
        created_at: u.created_at,
        email: u.email,
    })
}

pub async fn list(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<UserList, ApiError> {
    let users = agent.store.users()?.into_iter().map(|u| user_info(&agent, u)).collect::<Result<_, _>>()?;
    Ok(UserList { users })
}

pub async fn create(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: NewUser) -> Result<UserInfo, ApiError> {
    let display = r.display_name.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| r.name.clone());
    let by = cx.caller.identity.clone();
    let u = blocking(&agent, move |a| {
        a.auth
            .create_user(&r.name, &display, &r.password, r.role.into(), &r.groups, r.email.as_deref(), &by)
            .map_err(ApiError::from)
    })
    .await?;
    cx.note(|n| {
        n.target = Some(format!("user={}", u.name));
        n.detail = Some(format!("created with role {}", u.role));
    });
    user_info(&agent, agent.auth.user(u.id)?)
}

pub async fn get(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<UserInfo, ApiError> {
    let u = agent.auth.user(cx.id("id")?)?;
    user_info(&agent, u)
}

pub async fn update(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: UserUpdate) -> Result<UserInfo, ApiError> {
    let id = cx.id("id")?;
    let before = agent.auth.user(id)?;
    let u = agent.auth.update_user(
        id,
        r.display_name.as_deref(),
        r.role.map(Role::from),
        r.disabled,
        r.groups.as_deref(),
        r.email.as_deref(),
        &cx.caller.identity,
    )?;
    cx.note(|n| {
        n.target = Some(format!("user={}", u.name));
        n.detail = Some(format!(
            "role {} -> {}; disabled {} -> {}{}",
            before.role,
            u.role,
            before.disabled,
            u.disabled,
            r.groups.as_ref().map(|g| format!("; groups -> {g:?}")).unwrap_or_default()
        ));
    });
    user_info(&agent, u)
}

pub async fn delete(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    let u = agent.auth.delete_user(cx.id("id")?, &cx.caller.identity)?;
    cx.note(|n| n.target = Some(format!("user={}", u.name)));
    Ok(Done::new(format!("account {} deleted", u.name)))
}

pub async fn set_password(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: PasswordSet) -> Result<Done, ApiError> {
    let id = cx.id("id")?;
    let target = agent.auth.user(id)?;
    // Auth refuses an admin setting an owner's password.
    let by = cx.caller.identity.clone();
    blocking(&agent, move |a| a.auth.set_password(id, &r.password, &by).map_err(ApiError::from)).await?;
    cx.note(|n| {
        n.target = Some(format!("user={}", target.name));
        n.detail = Some("password set by an admin; their sessions ended".into());
    });
    Ok(Done::new(format!("password of {} set; their sessions were ended", target.name)))
}

pub async fn reset_second_factor(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<Done, ApiError> {
    let u = agent.auth.reset_second_factor(cx.id("id")?, &cx.caller.identity)?;
    cx.note(|n| {
        n.target = Some(format!("user={}", u.name));
        n.detail = Some("second factors reset: authenticator app, recovery codes and passkeys removed".into());
    });
    Ok(Done::new(format!("second factors of {} removed", u.name)))
}
