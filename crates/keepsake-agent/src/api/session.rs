//! Handlers for signing in and out: first-run setup, password, second factors, passkeys.

use std::sync::Arc;

use http::HeaderValue;
use keepsake_api::{
    AuthState, CodeRequest, Done, LoginRequest, LoginResponse, Me, NameRequest, NoParams, PasskeyAnswer,
    PasskeyChallenge, SetupRequest,
};

use super::contract::{Cx, NoBody, NoQuery, WithCookie};
use super::{ApiError, Caller, blocking};
use crate::Agent;
use crate::auth::{AuthError, COOKIE, NewSession, SessionState, UserIdentity};

/// The signed-in user as the API shows them.
pub fn me(agent: &Agent, u: &UserIdentity) -> Result<Me, ApiError> {
    let groups = agent.store.groups()?;
    let mine = agent.store.group_ids_of(u.user.id)?;
    Ok(Me {
        id: u.user.id,
        name: u.user.name.clone(),
        display_name: u.user.display_name.clone(),
        role: u.role.into(),
        groups: groups.into_iter().filter(|g| mine.contains(&g.id)).map(|g| g.name).collect(),
        permissions: u.permissions.iter().map(|p| p.name().to_owned()).collect(),
        totp_enabled: u.user.totp_enabled,
        passkeys: agent.store.passkeys_of(u.user.id)?.len() as u32,
        recovery_codes_left: agent.store.unused_recovery_codes(u.user.id)? as u32,
        must_enroll_second_factor: u.must_enroll_second_factor,
    })
}

/// The session cookie: HttpOnly (no script can read it), SameSite=Strict (no other site can
/// send it), Secure when the browser came over HTTPS.
pub fn session_cookie(session: &NewSession, caller: &Caller) -> Option<HeaderValue> {
    let secure = if caller.https { "; Secure" } else { "" };
    let v = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        session.token,
        session.max_age.as_secs()
    );
    HeaderValue::from_str(&v).ok()
}

pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("keepsake_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn complete_identity(agent: &Agent, token: &str) -> Result<Box<UserIdentity>, ApiError> {
    match agent.auth.session_state(Some(token))? {
        SessionState::Complete(u) => Ok(u),
        _ => Err(ApiError::from(AuthError::Internal("the new session did not take".into()))),
    }
}

fn signed_in(agent: &Agent, id: &UserIdentity) -> Result<LoginResponse, ApiError> {
    Ok(LoginResponse { complete: true, second_factors: vec![], user: Some(me(agent, id)?) })
}

pub async fn state(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<AuthState, ApiError> {
    let user = match &cx.caller.identity {
        crate::auth::Identity::User(u) => Some(me(&agent, u)?),
        _ => None,
    };
    let pending = cx.caller.pending.as_ref();
    let second_factors = match pending {
        Some((_, u)) => agent.auth.second_factors_of(u)?.into_iter().map(str::to_owned).collect(),
        None => Vec::new(),
    };
    Ok(AuthState {
        setup_required: agent.auth.setup_required()?,
        second_factor_pending: pending.is_some(),
        second_factors,
        user,
        passkeys_available: agent.auth.passkeys_available(),
    })
}

pub async fn setup(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: SetupRequest,
) -> Result<WithCookie<LoginResponse>, ApiError> {
    cx.note(|n| n.actor = Some(crate::auth::claimed_name(&r.name)));
    let display = r.display_name.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| r.name.clone());
    let client = cx.caller.client.clone();
    let (user, session) =
        blocking(&agent, move |a| a.auth.setup_owner(&r.name, &display, &r.password, &client).map_err(ApiError::from))
            .await?;
    cx.note(|n| {
        n.target = Some(format!("user={}", user.name));
        n.detail = Some("first-run setup created the owner".into());
    });
    let id = complete_identity(&agent, &session.token)?;
    Ok(WithCookie { value: signed_in(&agent, &id)?, cookie: session_cookie(&session, &cx.caller) })
}

pub async fn login(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: LoginRequest,
) -> Result<WithCookie<LoginResponse>, ApiError> {
    cx.note(|n| n.actor = Some(crate::auth::claimed_name(&r.name)));
    let client = cx.caller.client.clone();
    let step =
        blocking(&agent, move |a| a.auth.login_password(&r.name, &r.password, &client).map_err(ApiError::from)).await?;
    let complete = step.second_factors.is_empty();
    cx.note(|n| {
        n.detail = Some(if complete { "signed in".into() } else { "password accepted; second factor owed".into() })
    });
    let user = if complete { Some(me(&agent, &*complete_identity(&agent, &step.session.token)?)?) } else { None };
    let value =
        LoginResponse { complete, second_factors: step.second_factors.iter().map(|s| (*s).to_owned()).collect(), user };
    Ok(WithCookie { value, cookie: session_cookie(&step.session, &cx.caller) })
}

async fn second_factor(agent: Arc<Agent>, cx: Cx, r: CodeRequest, recovery: bool) -> Result<LoginResponse, ApiError> {
    let (session, user) = cx.caller.pending.clone().ok_or_else(|| {
        ApiError::new(
            http::StatusCode::CONFLICT,
            "auth.no_pending_sign_in",
            "there is no sign-in waiting for a second factor: sign in with your password first",
        )
    })?;
    cx.note(|n| {
        n.actor = Some(user.name.clone());
        n.detail = Some(if recovery { "second factor: recovery code".into() } else { "second factor: TOTP".into() });
    });
    let client = cx.caller.client.clone();
    let (s, u) = (session.clone(), user.clone());
    blocking(&agent, move |a| a.auth.second_factor_code(&s, &u, &r.code, recovery, &client).map_err(ApiError::from))
        .await?;
    let id = agent.auth.identity_for_session(user.id, session.id)?;
    signed_in(&agent, &id)
}

pub async fn login_totp(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: CodeRequest) -> Result<LoginResponse, ApiError> {
    second_factor(agent, cx, r, false).await
}

pub async fn login_recovery(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: CodeRequest) -> Result<LoginResponse, ApiError> {
    second_factor(agent, cx, r, true).await
}

pub async fn passkey_begin(agent: Arc<Agent>, _: Cx, _: NoQuery, r: NameRequest) -> Result<PasskeyChallenge, ApiError> {
    let (ceremony, options) = agent.auth.passkey_login_begin(&r.name)?;
    Ok(PasskeyChallenge { ceremony, options })
}

pub async fn passkey_finish(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    r: PasskeyAnswer,
) -> Result<WithCookie<LoginResponse>, ApiError> {
    let pending = cx.caller.pending.as_ref().map(|(s, _)| s);
    let (user, session) = agent.auth.passkey_login_finish(&r.ceremony, &r.credential, pending, &cx.caller.client)?;
    cx.note(|n| {
        n.actor = Some(user.name.clone());
        n.detail =
            Some(if session.is_some() { "signed in with a passkey".into() } else { "second factor: passkey".into() })
    });
    let session_id = match (&session, pending) {
        (Some(s), _) => complete_identity(&agent, &s.token)?.session_id,
        (None, Some(p)) => p.id,
        (None, None) => return Err(ApiError::from(AuthError::Internal("no session after passkey sign-in".into()))),
    };
    let id = agent.auth.identity_for_session(user.id, session_id)?;
    let cookie = session.as_ref().and_then(|s| session_cookie(s, &cx.caller));
    Ok(WithCookie { value: signed_in(&agent, &id)?, cookie })
}

pub async fn logout(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<WithCookie<Done>, ApiError> {
    let u = cx.caller.user()?;
    agent.auth.logout(u.session_id)?;
    Ok(WithCookie { value: Done::new("signed out"), cookie: Some(cleared_cookie()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{ClientInfo, Identity};

    fn caller(https: bool) -> Caller {
        Caller {
            identity: Identity::Anonymous,
            pending: None,
            client: ClientInfo::default(),
            https,
            source: String::new(),
        }
    }

    fn cookie(https: bool) -> String {
        let s = NewSession { token: "tok".into(), max_age: std::time::Duration::from_secs(60) };
        session_cookie(&s, &caller(https)).unwrap().to_str().unwrap().to_owned()
    }

    #[test]
    fn the_session_cookie_is_strict_http_only_and_secure_behind_https() {
        let plain = cookie(false);
        assert_eq!(plain, "keepsake_session=tok; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
        assert!(cookie(true).ends_with("; Secure"));
        assert!(cleared_cookie().to_str().unwrap().contains("Max-Age=0"));
    }
}
