//! Handlers for administration: users, groups, the permission catalog, the audit log, security
//! settings and secrets.

use std::sync::Arc;

use http::StatusCode;
use keepsake_api::{
    AuditEntry, AuditList, AuditVerification, GroupInfo, GroupList, GroupUpsert, NewUser, PasswordSet,
    PermissionCatalog, PermissionInfo, RoleInfo, SecretInfo, SecretList, SecretValue, SecuritySettings, UserInfo,
    UserList, UserUpdate,
};
use warp::Reply;
use warp::reply::Response;

use super::routes::NoParams;
use super::{ApiError, Req, json};
use crate::Agent;
use crate::auth::{
    GRANTABLE, Permission, Role, SETTING_AUDIT_RETENTION_DAYS, SETTING_REQUIRE_2FA_ADMINS, Secret, secrets,
};
use crate::store::{AuditFilter, UserRow};

fn role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s)
        .ok_or_else(|| ApiError::bad_request(format!("`{s}` is not a role: use owner, admin, operator or viewer")))
}

fn user_info(agent: &Agent, u: UserRow) -> Result<UserInfo, ApiError> {
    Ok(UserInfo {
        groups: agent.store.group_ids_of(u.id)?,
        passkeys: agent.store.passkeys_of(u.id)?.len() as u32,
        id: u.id,
        name: u.name,
        display_name: u.display_name,
        role: u.role,
        disabled: u.disabled,
        totp_enabled: u.totp_enabled,
        created_at: u.created_at,
    })
}

pub async fn users(agent: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    let users = agent.store.users()?.into_iter().map(|u| user_info(&agent, u)).collect::<Result<_, _>>()?;
    Ok(json(StatusCode::OK, &UserList { users }))
}

pub async fn create_user(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: NewUser = req.json()?;
    let display = r.display_name.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| r.name.clone());
    let u = agent.auth.create_user(&r.name, &display, &r.password, role(&r.role)?, &r.groups, &req.caller.identity)?;
    req.note(|n| {
        n.target = Some(format!("user={}", u.name));
        n.detail = Some(format!("created with role {}", u.role));
    });
    Ok(json(StatusCode::CREATED, &user_info(&agent, agent.auth.user(u.id)?)?))
}

pub async fn get_user(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let u = agent.auth.user(req.id_param("id")?)?;
    Ok(json(StatusCode::OK, &user_info(&agent, u)?))
}

pub async fn update_user(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    let r: UserUpdate = req.json()?;
    let new_role = r.role.as_deref().map(role).transpose()?;
    let before = agent.auth.user(id)?;
    let u = agent.auth.update_user(
        id,
        r.display_name.as_deref(),
        new_role,
        r.disabled,
        r.groups.as_deref(),
        &req.caller.identity,
    )?;
    req.note(|n| {
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
    Ok(json(StatusCode::OK, &user_info(&agent, u)?))
}

pub async fn delete_user(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let u = agent.auth.delete_user(req.id_param("id")?, &req.caller.identity)?;
    req.note(|n| n.target = Some(format!("user={}", u.name)));
    Ok(json(StatusCode::OK, &serde_json::json!({"deleted": u.name})))
}

pub async fn set_password(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    let r: PasswordSet = req.json()?;
    let target = agent.auth.user(id)?;
    agent.auth.set_password(id, &r.password, &req.caller.identity)?;
    req.note(|n| {
        n.target = Some(format!("user={}", target.name));
        n.detail = Some("password set by an admin; their sessions ended".into());
    });
    Ok(json(StatusCode::OK, &serde_json::json!({"changed": true})))
}

pub async fn reset_second_factor(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let NoParams {} = req.json()?;
    let u = agent.auth.reset_second_factor(req.id_param("id")?, &req.caller.identity)?;
    req.note(|n| {
        n.target = Some(format!("user={}", u.name));
        n.detail = Some("second factors reset: authenticator app, recovery codes and passkeys removed".into());
    });
    Ok(json(StatusCode::OK, &serde_json::json!({"reset": true})))
}

fn check_permissions(names: &[String]) -> Result<(), ApiError> {
    for n in names {
        if Permission::parse(n).is_none() {
            return Err(ApiError::bad_request(format!("`{n}` is not a permission; see /api/v1/permissions")));
        }
    }
    Ok(())
}

fn check_group_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request("a group name must be 1 to 64 characters"));
    }
    Ok(())
}

pub async fn groups(agent: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    let groups = agent
        .store
        .groups()?
        .into_iter()
        .map(|g| GroupInfo { id: g.id, name: g.name, permissions: g.permissions })
        .collect();
    Ok(json(StatusCode::OK, &GroupList { groups }))
}

pub async fn create_group(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: GroupUpsert = req.json()?;
    check_group_name(&r.name)?;
    check_permissions(&r.permissions)?;
    let id = agent.store.upsert_group(None, r.name.trim(), &r.permissions)?;
    req.note(|n| {
        n.target = Some(format!("group={}", r.name));
        n.detail = Some(format!("permissions: {}", r.permissions.join(", ")));
    });
    Ok(json(StatusCode::CREATED, &GroupInfo { id, name: r.name.trim().to_owned(), permissions: r.permissions }))
}

pub async fn update_group(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    let r: GroupUpsert = req.json()?;
    check_group_name(&r.name)?;
    check_permissions(&r.permissions)?;
    if !agent.store.groups()?.iter().any(|g| g.id == id) {
        return Err(ApiError::not_found(format!("there is no group with id {id}")));
    }
    agent.store.upsert_group(Some(id), r.name.trim(), &r.permissions)?;
    req.note(|n| {
        n.target = Some(format!("group={}", r.name));
        n.detail = Some(format!("permissions: {}", r.permissions.join(", ")));
    });
    Ok(json(StatusCode::OK, &GroupInfo { id, name: r.name.trim().to_owned(), permissions: r.permissions }))
}

pub async fn delete_group(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    if !agent.store.delete_group(id)? {
        return Err(ApiError::not_found(format!("there is no group with id {id}")));
    }
    Ok(json(StatusCode::OK, &serde_json::json!({"deleted": true})))
}

pub async fn permissions(_: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    let permissions =
        GRANTABLE.iter().map(|p| PermissionInfo { name: p.name().into(), area: p.area().into() }).collect();
    let roles = Role::ALL
        .iter()
        .map(|r| RoleInfo {
            name: r.name().into(),
            permissions: r.permissions().iter().map(|p| p.name().into()).collect(),
        })
        .collect();
    Ok(json(StatusCode::OK, &PermissionCatalog { permissions, roles }))
}

fn parse_time(req: &Req, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    req.query
        .get(name)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| ApiError::bad_request(format!("`{name}` must be a time like 2026-11-22T10:00:00Z")))
        })
        .transpose()
}

pub async fn audit(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let f = AuditFilter {
        actor: req.query.get("actor").cloned().filter(|s| !s.is_empty()),
        action: req.query.get("action").cloned().filter(|s| !s.is_empty()),
        outcome: req.query.get("outcome").cloned().filter(|s| !s.is_empty()),
        since: parse_time(&req, "since")?,
        until: parse_time(&req, "until")?,
        limit: req.query_u32("limit", 200, 100_000)?,
    };
    let entries: Vec<AuditEntry> = agent.store.audit_entries(&f)?;
    match req.query.get("format").map(String::as_str) {
        None | Some("json") => Ok(json(StatusCode::OK, &AuditList { entries })),
        Some("csv") => {
            let mut out = String::from("id,at,actor,action,target,outcome,source,detail\r\n");
            for e in &entries {
                let row = [
                    e.id.to_string(),
                    e.at.to_rfc3339(),
                    e.actor.clone(),
                    e.action.clone(),
                    e.target.clone().unwrap_or_default(),
                    e.outcome.clone(),
                    e.source.clone(),
                    e.detail.clone(),
                ];
                out.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
                out.push_str("\r\n");
            }
            let mut r = warp::reply::with_header(out, "content-type", "text/csv; charset=utf-8").into_response();
            r.headers_mut().insert(
                "content-disposition",
                http::HeaderValue::from_static("attachment; filename=\"keepsake-audit.csv\""),
            );
            Ok(r)
        }
        Some(other) => Err(ApiError::bad_request(format!("`{other}` is not an export format: use json or csv"))),
    }
}

/// Quotes a CSV field, and defuses spreadsheet formulas (a field starting with = + - @).
fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@']) { format!("'{f}") } else { f.to_owned() };
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f }
}

pub async fn audit_verify(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let NoParams {} = req.json()?;
    let v = agent.store.verify_audit()?;
    req.note(|n| {
        n.detail =
            Some(if v.ok { format!("{} rows verified", v.checked) } else { v.problem.clone().unwrap_or_default() })
    });
    Ok(json(
        StatusCode::OK,
        &AuditVerification { ok: v.ok, checked: v.checked, bad_row: v.bad_row, problem: v.problem },
    ))
}

pub async fn security_settings(agent: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::OK,
        &SecuritySettings {
            require_second_factor_for_admins: agent.auth.require_second_factor_for_admins()?,
            audit_retention_days: agent.auth.audit_retention_days()?,
        },
    ))
}

pub async fn set_security_settings(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: SecuritySettings = req.json()?;
    if !(30..=36_500).contains(&r.audit_retention_days) {
        return Err(ApiError::bad_request("keep the audit log between 30 and 36500 days"));
    }
    agent
        .store
        .set_setting(SETTING_REQUIRE_2FA_ADMINS, if r.require_second_factor_for_admins { "true" } else { "false" })?;
    agent.store.set_setting(SETTING_AUDIT_RETENTION_DAYS, &r.audit_retention_days.to_string())?;
    let pruned = agent.auth.prune_audit()?;
    req.note(|n| {
        n.detail = Some(format!(
            "require second factor for admins: {}; audit retention: {} days ({pruned} old entries removed)",
            r.require_second_factor_for_admins, r.audit_retention_days
        ))
    });
    Ok(json(StatusCode::OK, &r))
}

pub async fn secrets(agent: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    let secrets = agent
        .auth
        .secret_names()?
        .into_iter()
        .map(|(name, at)| SecretInfo {
            description: secrets::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, d)| (*d).to_owned())
                .unwrap_or_default(),
            name,
            set: at.is_some(),
            updated_at: at,
        })
        .collect();
    Ok(json(StatusCode::OK, &SecretList { secrets }))
}

pub async fn set_secret(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let name = req.params.get("name").cloned().unwrap_or_default();
    let r: SecretValue = req.json()?;
    agent.auth.set_secret(&name, &Secret::new(r.value))?;
    req.note(|n| n.target = Some(format!("secret={name}")));
    Ok(json(StatusCode::OK, &serde_json::json!({"name": name, "set": true})))
}

pub async fn delete_secret(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let name = req.params.get("name").cloned().unwrap_or_default();
    agent.auth.delete_secret(&name)?;
    req.note(|n| n.target = Some(format!("secret={name}")));
    Ok(json(StatusCode::OK, &serde_json::json!({"name": name, "set": false})))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(super::csv_field("plain"), "plain");
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_field("=cmd()"), "'=cmd()");
    }
}
