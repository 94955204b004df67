//! Handlers for security settings and write-only secrets.

use std::sync::Arc;

use keepsake_api::{Done, SecretInfo, SecretList, SecretValue, SecuritySettings};

use super::ApiError;
use super::contract::{Cx, NoBody, NoQuery};
use crate::Agent;
use crate::auth::{SETTING_AUDIT_RETENTION_DAYS, SETTING_REQUIRE_2FA_ADMINS, Secret, secrets as names};

pub async fn security(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<SecuritySettings, ApiError> {
    Ok(SecuritySettings {
        require_second_factor_for_admins: agent.auth.require_second_factor_for_admins()?,
        audit_retention_days: agent.auth.audit_retention_days()?,
    })
}

pub async fn set_security(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: SecuritySettings,
) -> Result<SecuritySettings, ApiError> {
    agent
        .store
        .set_setting(SETTING_REQUIRE_2FA_ADMINS, if r.require_second_factor_for_admins { "true" } else { "false" })?;
    agent.store.set_setting(SETTING_AUDIT_RETENTION_DAYS, &r.audit_retention_days.to_string())?;
    let pruned = agent.auth.prune_audit()?;
    cx.note(|n| {
        n.detail = Some(format!(
            "require second factor for admins: {}; audit retention: {} days ({pruned} old entries removed)",
            r.require_second_factor_for_admins, r.audit_retention_days
        ))
    });
    Ok(r)
}

pub async fn secrets(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<SecretList, ApiError> {
    let secrets = agent
        .auth
        .secret_names()?
        .into_iter()
        .map(|(name, at)| SecretInfo {
            description: names::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, d)| (*d).to_owned())
                .unwrap_or_default(),
            name,
            set: at.is_some(),
            updated_at: at,
        })
        .collect();
    Ok(SecretList { secrets })
}

pub async fn set_secret(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: SecretValue) -> Result<Done, ApiError> {
    let name = cx.param("name").to_owned();
    agent.auth.set_secret(&name, &Secret::new(r.value))?;
    cx.note(|n| n.target = Some(format!("secret={name}")));
    Ok(Done::new(format!("secret {name} set")))
}

pub async fn delete_secret(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    let name = cx.param("name").to_owned();
    agent.auth.delete_secret(&name)?;
    cx.note(|n| n.target = Some(format!("secret={name}")));
    Ok(Done::new(format!("secret {name} removed")))
}
