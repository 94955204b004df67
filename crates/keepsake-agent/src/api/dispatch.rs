//! The one dispatcher: every request to the agent passes here, in this order.
//!
//! 1. the peer check (the kernel's uid: root or the web server's user, nobody else);
//! 2. route matching (404, or 405 with `Allow`);
//! 3. who is calling (session cookie for the web server's requests);
//! 4. authorization against the route's declared permission (401/403);
//! 5. the body limit, then the typed query and body, checked against the route's schemas;
//! 6. the handler.
//!
//! Whatever happens at any step, a mutating request (anything but GET/HEAD/OPTIONS) leaves exactly
//! one audit row, attributed as far as the failed step allows. Each request runs in one tracing span
//! with its method, route, user, status and duration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use tracing::Instrument;
use warp::reply::Response;

use super::caller::{Caller, Peer, identify, peer_allowed};
use super::contract::{AuditNote, Cx, Route, is_mutating};
use super::error::{ApiError, clip};
use super::routes::ROUTES;
use crate::Agent;
use crate::auth::{AuthError, Identity};
use crate::store::NewAudit;

/// Largest request body the agent reads. API bodies are small JSON documents.
pub const MAX_BODY: usize = 1024 * 1024;

/// One request as the socket server hands it over. The body has already been read up to
/// [`MAX_BODY`] (or failed to read): either way, the dispatcher decides what to do with it.
pub struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub peer: Peer,
    pub body: Result<Bytes, keepsake_api::body::BodyError>,
}

/// The route table compiled for matching.
pub struct Router {
    by_path: matchit::Router<Vec<&'static Route>>,
}

/// What the audit row of a request says, filled in as the request gets further.
struct Trail {
    action: String,
    actor: String,
    target: Option<String>,
    source: String,
}

impl Router {
    pub fn new() -> Router {
        let mut grouped: Vec<(&'static str, Vec<&'static Route>)> = Vec::new();
        for r in ROUTES.iter() {
            match grouped.iter_mut().find(|(p, _)| *p == r.path) {
                Some((_, v)) => v.push(r),
                None => grouped.push((r.path, vec![r])),
            }
        }
        let mut by_path = matchit::Router::new();
        for (path, routes) in grouped {
            by_path.insert(path, routes).expect("route paths in ROUTES are valid and distinct");
        }
        Router { by_path }
    }

    /// Answers one request. Never fails: every error becomes a JSON error response.
    pub async fn dispatch(&self, agent: Arc<Agent>, req: Request<'_>) -> Response {
        let span = tracing::info_span!(
            "request",
            method = %req.method,
            route = tracing::field::Empty,
            user = tracing::field::Empty,
            status = tracing::field::Empty,
            ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let resp = self.dispatch_inner(agent, req).instrument(span.clone()).await;
        span.record("status", resp.status().as_u16());
        span.record("ms", started.elapsed().as_secs_f64() * 1000.0);
        span.in_scope(|| tracing::debug!("answered"));
        resp
    }

    async fn dispatch_inner(&self, agent: Arc<Agent>, req: Request<'_>) -> Response {
        let span = tracing::Span::current();
        let mutating = is_mutating(&req.method);
        let mut trail = Trail {
            action: "api.request".into(),
            actor: req.peer.describe(),
            target: Some(format!("path={}", clip(req.path, 200))),
            source: req.peer.describe(),
        };
        let (result, detail) = 'answer: {
            let matched = self.by_path.at(req.path);
            if !peer_allowed(&agent, &req.peer) {
                tracing::warn!(uid = req.peer.uid, pid = ?req.peer.pid, "refused a connection from a uid that is not allowed");
                // Name what it tried, as far as the route table can tell.
                trail.action = matched
                    .as_ref()
                    .ok()
                    .and_then(|m| m.value.iter().find(|r| r.method == req.method))
                    .map_or("api.peer_refused", |r| r.operation_id)
                    .into();
                break 'answer (Err(refusal(&req.peer, agent.config.web_uid)), String::new());
            }
            let Ok(matched) = matched else {
                trail.action = "api.unknown_route".into();
                break 'answer (Err(ApiError::not_found_route(req.path)), String::new());
            };
            let Some(route) = matched.value.iter().find(|r| r.method == req.method) else {
                trail.action = "api.method_not_allowed".into();
                let allowed = matched.value.iter().map(|r| r.method.as_str()).collect::<Vec<_>>().join(", ");
                break 'answer (Err(ApiError::method_not_allowed(&req.method, req.path, &allowed)), String::new());
            };
            span.record("route", route.path);
            trail.action = route.operation_id.into();
            let params: HashMap<String, String> =
                matched.params.iter().map(|(k, v)| (k.to_owned(), clip(&decode_segment(v), 200))).collect();
            trail.target = describe_target(&params);
            let caller = match identify(&agent, req.headers, &req.peer) {
                Ok(c) => c,
                Err(e) => break 'answer (Err(e), "the caller could not be identified".into()),
            };
            trail.actor = caller.actor();
            trail.source = caller.source.clone();
            if let Identity::User(u) = &caller.identity {
                span.record("user", u.user.name.as_str());
            }
            if let Err(e) = authorize(route, &caller) {
                break 'answer (Err(e), String::new());
            }
            let body = match req.body {
                Ok(b) => b,
                Err(e) => break 'answer (Err(ApiError::from(e)), String::new()),
            };
            let note = Arc::new(Mutex::new(AuditNote::default()));
            let cx = Cx { params, caller: caller.clone(), note: Arc::clone(&note) };
            let result = (route.handler)(Arc::clone(&agent), cx, req.query, &body).await;
            let note = note.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let (Identity::Anonymous, Some(a)) = (&caller.identity, note.actor) {
                trail.actor = clip(&a, 64);
            }
            if let Some(t) = note.target {
                trail.target = Some(t);
            }
            (result, note.detail.unwrap_or_default())
        };
        if mutating {
            audit(&agent, &trail, &result, &detail);
        }
        result.unwrap_or_else(ApiError::into_response)
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

fn audit(agent: &Agent, trail: &Trail, result: &Result<Response, ApiError>, detail: &str) {
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED || e.status == StatusCode::FORBIDDEN => {
            format!("denied:{}", e.code)
        }
        Err(e) => format!("error:{}", e.code),
    };
    let audit = NewAudit {
        actor: &trail.actor,
        action: &trail.action,
        target: trail.target.as_deref(),
        outcome: &outcome,
        source: &trail.source,
        detail,
    };
    if let Err(e) = agent.store.append_audit(&audit) {
        tracing::error!(error = %e, "cannot write audit entry");
    }
}

/// 401 when a route needs a signed-in caller and there is none; 403 when the caller lacks the
/// route's permission.
fn authorize(route: &Route, caller: &Caller) -> Result<(), ApiError> {
    let p = route.permission;
    if caller.identity.allows(p) {
        return Ok(());
    }
    if !caller.identity.is_signed_in() {
        return Err(AuthError::Unauthenticated.into());
    }
    let err = match &caller.identity {
        Identity::User(u) if u.must_enroll_second_factor => AuthError::forbidden(
            "auth.second_factor_enrollment_required",
            "admins must set up a second factor first: add an authenticator app or a passkey on your account page",
        ),
        _ => AuthError::forbidden(
            "auth.permission_missing",
            format!("you do not have the `{}` permission; ask an owner or admin", p.name()),
        ),
    };
    Err(err.into())
}

fn refusal(peer: &Peer, web_uid: u32) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "api.peer_not_allowed",
        format!(
            "uid {} may not use the Keepsake agent: only root (uid 0) and the web server's user (uid {web_uid}) may connect",
            peer.uid
        ),
    )
    .with_hint("Use the dashboard, or run `keepsake` as root.")
}

fn describe_target(params: &HashMap<String, String>) -> Option<String> {
    let mut parts: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.sort();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// A path segment as the client meant it: clients percent-encode segments (`sanoid:a` arrives as
/// `sanoid%3Aa`). Bytes that do not decode to UTF-8 are kept as sent, and will match nothing.
fn decode_segment(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw).decode_utf8().map(|s| s.into_owned()).unwrap_or_else(|_| raw.to_owned())
}

#[cfg(test)]
mod segment_tests {
    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(super::decode_segment("sanoid%3Aautosnap_x%3A00"), "sanoid:autosnap_x:00");
        assert_eq!(super::decode_segment("plain-7"), "plain-7");
        assert_eq!(super::decode_segment("bad%FF"), "bad%FF");
    }
}
