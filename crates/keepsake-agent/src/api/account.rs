//! Handlers for the signed-in user's own account: password, authenticator app, recovery codes,
//! passkeys and sessions.

use std::sync::Arc;

use keepsake_api::{
    CodeRequest, Done, Me, NoParams, PasskeyAnswer, PasskeyChallenge, PasskeyInfo, PasskeyList, PasskeyNameRequest,
    PasswordChange, PasswordConfirm, RecoveryCodes, SessionInfo, SessionList, TotpEnrollment,
};

use super::contract::{Cx, NoBody, NoQuery};
use super::session::me as me_of;
use super::{ApiError, blocking};
use crate::Agent;

pub async fn me(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Me, ApiError> {
    me_of(&agent, cx.caller.user()?)
}

pub async fn change_password(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: PasswordChange) -> Result<Done, ApiError> {
    let me = cx.caller.user()?.clone();
    blocking(&agent, move |a| a.auth.change_own_password(&me, &r.current, &r.new).map_err(ApiError::from)).await?;
    cx.note(|n| n.detail = Some("password changed; other sessions ended".into()));
    Ok(Done::new("password changed; your other sessions were ended"))
}

pub async fn totp_begin(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<TotpEnrollment, ApiError> {
    let (secret, otpauth_url, qr_png) = agent.auth.totp_begin(cx.caller.user()?)?;
    Ok(TotpEnrollment { secret, otpauth_url, qr_png })
}

pub async fn totp_confirm(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: CodeRequest) -> Result<RecoveryCodes, ApiError> {
    let codes = agent.auth.totp_confirm(cx.caller.user()?, &r.code)?;
    cx.note(|n| n.detail = Some("authenticator app enabled".into()));
    Ok(RecoveryCodes { codes })
}

pub async fn totp_disable(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: PasswordConfirm) -> Result<Done, ApiError> {
    let me = cx.caller.user()?.clone();
    blocking(&agent, move |a| a.auth.totp_disable(&me, &r.password).map_err(ApiError::from)).await?;
    cx.note(|n| n.detail = Some("authenticator app removed".into()));
    Ok(Done::new("authenticator app removed"))
}

pub async fn recovery_codes(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: PasswordConfirm,
) -> Result<RecoveryCodes, ApiError> {
    let me = cx.caller.user()?.clone();
    let codes =
        blocking(&agent, move |a| a.auth.regenerate_recovery_codes(&me, &r.password).map_err(ApiError::from)).await?;
    cx.note(|n| n.detail = Some("new recovery codes made; old ones no longer work".into()));
    Ok(RecoveryCodes { codes })
}

fn passkey_info(p: crate::store::PasskeyRow) -> PasskeyInfo {
    PasskeyInfo { id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at }
}

pub async fn passkeys(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<PasskeyList, ApiError> {
    let rows = agent.auth.passkey_list(cx.caller.user()?.user.id)?;
    Ok(PasskeyList { passkeys: rows.into_iter().map(passkey_info).collect() })
}

pub async fn passkey_register_begin(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: PasskeyNameRequest,
) -> Result<PasskeyChallenge, ApiError> {
    let (ceremony, options) = agent.auth.passkey_register_begin(cx.caller.user()?, &r.name)?;
    Ok(PasskeyChallenge { ceremony, options })
}

pub async fn passkey_register_finish(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: PasskeyAnswer,
) -> Result<PasskeyInfo, ApiError> {
    let p = agent.auth.passkey_register_finish(cx.caller.user()?, &r.ceremony, &r.credential)?;
    cx.note(|n| n.detail = Some(format!("passkey `{}` added", p.name)));
    Ok(passkey_info(p))
}

pub async fn passkey_delete(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    agent.auth.passkey_delete(cx.caller.user()?.user.id, cx.id("id")?)?;
    cx.note(|n| n.detail = Some("passkey removed".into()));
    Ok(Done::new("passkey removed"))
}

pub async fn sessions(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<SessionList, ApiError> {
    let u = cx.caller.user()?;
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
    Ok(SessionList { sessions })
}

pub async fn revoke_session(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    agent.auth.revoke_session(cx.caller.user()?.user.id, cx.id("id")?)?;
    Ok(Done::new("session ended"))
}
