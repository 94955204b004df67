//! Handlers for signing in and out: first-run setup, password, second factors, passkeys.

use std::sync::Arc;

use http::{HeaderValue, StatusCode};
use keepsake_api::{
    AuthState, CodeRequest, LoginRequest, LoginResponse, Me, NameRequest, PasskeyAnswer, PasskeyChallenge, SetupRequest,
};
use warp::reply::Response;

use super::{ApiError, Caller, Req, json};
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
        role: u.role.name().to_owned(),
        groups: groups.into_iter().filter(|g| mine.contains(&g.id)).map(|g| g.name).collect(),
        permissions: u.permissions.iter().map(|p| p.name().to_owned()).collect(),
        totp_enabled: u.user.totp_enabled,
        passkeys: agent.store.passkeys_of(u.user.id)?.len() as u32,
        recovery_codes_left: agent.store.unused_recovery_codes(u.user.id)? as u32,
        must_enroll_second_factor: u.must_enroll_second_factor,
    })
}

/// Sets the session cookie: HttpOnly (no script can read it), SameSite=Strict (no other site
/// can send it), Secure when the browser came over HTTPS.
pub fn with_cookie(mut resp: Response, session: &NewSession, caller: &Caller) -> Response {
    let secure = if caller.https { "; Secure" } else { "" };
    let v = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        session.token,
        session.max_age.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&v) {
        resp.headers_mut().append(http::header::SET_COOKIE, v);
    }
    resp
}

pub fn clear_cookie(mut resp: Response) -> Response {
    resp.headers_mut().append(
        http::header::SET_COOKIE,
        HeaderValue::from_static("keepsake_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

fn complete_identity(agent: &Agent, token: &str) -> Result<Box<UserIdentity>, ApiError> {
    match agent.auth.session_state(Some(token))? {
        SessionState::Complete(u) => Ok(u),
        _ => Err(ApiError::from(AuthError::Internal("the new session did not take".into()))),
    }
}

pub async fn state(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let user = match &req.caller.identity {
        crate::auth::Identity::User(u) => Some(me(&agent, u)?),
        _ => None,
    };
    let pending = req.caller.pending.as_ref();
    let second_factors = match pending {
        Some((_, u)) => agent.auth.second_factors_of(u)?.into_iter().map(str::to_owned).collect(),
        None => Vec::new(),
    };
    Ok(json(
        StatusCode::OK,
        &AuthState {
            setup_required: agent.auth.setup_required()?,
            second_factor_pending: pending.is_some(),
            second_factors,
            user,
            passkeys_available: agent.auth.passkeys_available(),
        },
    ))
}

pub async fn setup(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: SetupRequest = req.json()?;
    req.note(|n| n.actor = Some(r.name.clone()));
    let display = r.display_name.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| r.name.clone());
    let (user, session) = agent.auth.setup_owner(&r.name, &display, &r.password, &req.caller.client)?;
    req.note(|n| {
        n.target = Some(format!("user={}", user.name));
        n.detail = Some("first-run setup created the owner".into());
    });
    let id = complete_identity(&agent, &session.token)?;
    let body = LoginResponse { complete: true, second_factors: vec![], user: Some(me(&agent, &id)?) };
    Ok(with_cookie(json(StatusCode::CREATED, &body), &session, &req.caller))
}

pub async fn login(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: LoginRequest = req.json()?;
    req.note(|n| n.actor = Some(r.name.clone()));
    let step = agent.auth.login_password(&r.name, &r.password, &req.caller.client)?;
    let complete = step.second_factors.is_empty();
    req.note(|n| {
        n.detail = Some(if complete { "signed in".into() } else { "password accepted; second factor owed".into() })
    });
    let user = if complete { Some(me(&agent, &*complete_identity(&agent, &step.session.token)?)?) } else { None };
    let body =
        LoginResponse { complete, second_factors: step.second_factors.iter().map(|s| (*s).to_owned()).collect(), user };
    Ok(with_cookie(json(StatusCode::OK, &body), &step.session, &req.caller))
}

async fn second_factor(agent: Arc<Agent>, req: Req, recovery: bool) -> Result<Response, ApiError> {
    let r: CodeRequest = req.json()?;
    let (session, user) = req.caller.pending.clone().ok_or_else(|| {
        ApiError::from(AuthError::bad_request(
            "auth.no_pending_sign_in",
            "there is no sign-in waiting for a second factor: sign in with your password first",
        ))
    })?;
    req.note(|n| {
        n.actor = Some(user.name.clone());
        n.detail = Some(if recovery { "second factor: recovery code".into() } else { "second factor: TOTP".into() });
    });
    agent.auth.second_factor_code(&session, &user, &r.code, recovery, &req.caller.client)?;
    let id = agent.auth.identity_for_session(user.id, session.id)?;
    Ok(json(StatusCode::OK, &LoginResponse { complete: true, second_factors: vec![], user: Some(me(&agent, &id)?) }))
}

pub async fn login_totp(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    second_factor(agent, req, false).await
}

pub async fn login_recovery(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    second_factor(agent, req, true).await
}

pub async fn passkey_begin(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: NameRequest = req.json()?;
    let (ceremony, options) = agent.auth.passkey_login_begin(&r.name)?;
    Ok(json(StatusCode::OK, &PasskeyChallenge { ceremony, options }))
}

pub async fn passkey_finish(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let r: PasskeyAnswer = req.json()?;
    let pending = req.caller.pending.as_ref().map(|(s, _)| s);
    let (user, session) = agent.auth.passkey_login_finish(&r.ceremony, &r.credential, pending, &req.caller.client)?;
    req.note(|n| {
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
    let body = LoginResponse { complete: true, second_factors: vec![], user: Some(me(&agent, &id)?) };
    let resp = json(StatusCode::OK, &body);
    Ok(match session {
        Some(s) => with_cookie(resp, &s, &req.caller),
        None => resp,
    })
}

pub async fn logout(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let u = req.caller.user()?;
    agent.auth.logout(u.session_id)?;
    Ok(clear_cookie(json(StatusCode::OK, &serde_json::json!({"signed_out": true}))))
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
        let r = with_cookie(json(StatusCode::OK, &serde_json::json!({})), &s, &caller(https));
        r.headers()[http::header::SET_COOKIE].to_str().unwrap().to_owned()
    }

    #[test]
    fn the_session_cookie_is_strict_http_only_and_secure_behind_https() {
        let plain = cookie(false);
        assert_eq!(plain, "keepsake_session=tok; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
        assert!(cookie(true).ends_with("; Secure"));
        let cleared = clear_cookie(json(StatusCode::OK, &serde_json::json!({})));
        assert!(cleared.headers()[http::header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    }
}
