//! Handlers for the signed-in user's own account: password, authenticator app, recovery codes,
//! passkeys and sessions.

use std::sync::Arc;

use http::StatusCode;
use keepsake_api::{
    CodeRequest, NameRequest, PasskeyAnswer, PasskeyChallenge, PasskeyInfo, PasskeyList, PasswordChange,
    PasswordConfirm, RecoveryCodes, SessionInfo, SessionList, TotpEnrollment,
};
use warp::reply::Response;

use super::routes::NoParams;
use super::session::me as me_of;
use super::{ApiError, Req, json};
use crate::Agent;

pub async fn me(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &me_of(&agent, req.caller.user()?)?))
}

pub async fn change_password(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: PasswordChange = req.json()?;
    agent.auth.change_own_password(req.caller.user()?, &r.current, &r.new)?;
    req.note(|n| n.detail = Some("password changed; other sessions ended".into()));
    Ok(json(StatusCode::OK, &serde_json::json!({"changed": true})))
}

pub async fn totp_begin(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let NoParams {} = req.json()?;
    let (secret, otpauth_url, qr_png) = agent.auth.totp_begin(req.caller.user()?)?;
    Ok(json(StatusCode::OK, &TotpEnrollment { secret, otpauth_url, qr_png }))
}

pub async fn totp_confirm(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: CodeRequest = req.json()?;
    let codes = agent.auth.totp_confirm(req.caller.user()?, &r.code)?;
    req.note(|n| n.detail = Some("authenticator app enabled".into()));
    Ok(json(StatusCode::OK, &RecoveryCodes { codes }))
}

pub async fn totp_disable(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: PasswordConfirm = req.json()?;
    agent.auth.totp_disable(req.caller.user()?, &r.password)?;
    req.note(|n| n.detail = Some("authenticator app removed".into()));
    Ok(json(StatusCode::OK, &serde_json::json!({"disabled": true})))
}

pub async fn recovery_codes(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: PasswordConfirm = req.json()?;
    let codes = agent.auth.regenerate_recovery_codes(req.caller.user()?, &r.password)?;
    req.note(|n| n.detail = Some("new recovery codes made; old ones no longer work".into()));
    Ok(json(StatusCode::OK, &RecoveryCodes { codes }))
}

pub async fn passkeys(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let rows = agent.auth.passkey_list(req.caller.user()?.user.id)?;
    let passkeys = rows
        .into_iter()
        .map(|p| PasskeyInfo { id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at })
        .collect();
    Ok(json(StatusCode::OK, &PasskeyList { passkeys }))
}

pub async fn passkey_register_begin(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: NameRequest = req.json()?;
    let (ceremony, options) = agent.auth.passkey_register_begin(req.caller.user()?, &r.name)?;
    Ok(json(StatusCode::OK, &PasskeyChallenge { ceremony, options }))
}

pub async fn passkey_register_finish(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: PasskeyAnswer = req.json()?;
    let p = agent.auth.passkey_register_finish(req.caller.user()?, &r.ceremony, &r.credential)?;
    req.note(|n| n.detail = Some(format!("passkey `{}` added", p.name)));
    Ok(json(
        StatusCode::CREATED,
        &PasskeyInfo { id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at },
    ))
}

pub async fn passkey_delete(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    agent.auth.passkey_delete(req.caller.user()?.user.id, id)?;
    req.note(|n| n.detail = Some("passkey removed".into()));
    Ok(json(StatusCode::OK, &serde_json::json!({"deleted": true})))
}

pub async fn sessions(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let u = req.caller.user()?;
    let sessions = agent
        .auth
        .sessions(u.user.id)?
        .into_iter()
        .map(|s| SessionInfo {
            current: s.id == u.session_id,
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            source: s.source,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(json(StatusCode::OK, &SessionList { sessions }))
}

pub async fn revoke_session(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    agent.auth.revoke_session(req.caller.user()?.user.id, id)?;
    Ok(json(StatusCode::OK, &serde_json::json!({"revoked": true})))
}
