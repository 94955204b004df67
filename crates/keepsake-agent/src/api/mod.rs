//! The agent's HTTP/JSON API: a route table, and the one dispatcher that runs it.
//!
//! Every route is a row in [`routes::ROUTES`]: method, path, the permission it needs, its documented
//! request and response, and its handler. The router, the OpenAPI description and (with the identity
//! work) authorization are all derived from that table, so none of them can drift from the others.
//! The dispatcher audits every mutating request, whatever its outcome; handlers stay thin and call
//! into the subsystems (`jobs`, `host`, `store`).

mod account;
mod admin;
mod error;
mod host;
mod jobs;
pub mod openapi;
pub mod routes;
mod session;
mod sse;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use warp::Reply;
use warp::reply::Response;

pub use error::ApiError;
pub use routes::{ROUTES, Route};

use crate::Agent;
use crate::auth::{AuthError, ClientInfo, Identity, SessionState, UserIdentity};
use crate::server::Peer;
use crate::store::{NewAudit, SessionRow, UserRow};

/// Largest request body the agent reads. API bodies are small JSON documents.
pub const MAX_BODY: usize = 1024 * 1024;

/// Headers only keepsake-web may set (the agent ignores them from anyone else): the browser's
/// address as the web server determined it, and whether the browser used HTTPS.
pub const HEADER_CLIENT_ADDR: &str = "x-keepsake-client-addr";
pub const HEADER_CLIENT_HTTPS: &str = "x-keepsake-client-https";
/// Marks a request as coming through the web server when the web server runs as root (local
/// trials), so root's console requests and browser requests can still be told apart.
pub const HEADER_VIA_WEB: &str = "x-keepsake-via";

/// Who is asking, as the API layer sees it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    /// Set when the request carried a session whose second factor is still owed.
    pub pending: Option<(SessionRow, UserRow)>,
    pub client: ClientInfo,
    /// Whether the browser reached the web server over HTTPS (cookies then get `Secure`).
    pub https: bool,
    /// Where the request came from, for the audit log.
    pub source: String,
}

impl Caller {
    pub fn actor(&self) -> String {
        self.identity.actor()
    }

    /// The signed-in user, or 401.
    pub fn user(&self) -> Result<&UserIdentity, ApiError> {
        match &self.identity {
            Identity::User(u) => Ok(u),
            _ => Err(ApiError::from(AuthError::Unauthenticated)),
        }
    }
}

/// What a handler may add to the audit row the dispatcher writes for its request.
#[derive(Debug, Default, Clone)]
pub struct AuditNote {
    /// Who acted when the caller was not yet signed in (the name tried at sign-in).
    pub actor: Option<String>,
    pub target: Option<String>,
    pub detail: Option<String>,
}

/// One request, as a handler receives it.
pub struct Req {
    pub params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub body: Bytes,
    pub caller: Caller,
    pub note: Arc<Mutex<AuditNote>>,
}

impl Req {
    pub fn id_param(&self, name: &str) -> Result<i64, ApiError> {
        let raw = self.params.get(name).map(String::as_str).unwrap_or("");
        raw.parse()
            .map_err(|_| ApiError::bad_request(format!("`{raw}` is not a valid {name}: expected a whole number")))
    }

    /// Parses the JSON body; an empty body counts as `{}`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &self.body };
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
    }

    pub fn query_u32(&self, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.query.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(format!("`{name}` must be a whole number from 1 to {max}, not `{v}`"))),
            },
        }
    }

    /// Adds to this request's audit row.
    pub fn note(&self, f: impl FnOnce(&mut AuditNote)) {
        f(&mut self.note.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

/// The route table compiled for matching.
pub struct Router {
    by_path: matchit::Router<Vec<&'static Route>>,
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
    #[allow(clippy::too_many_arguments)]
    pub async fn dispatch(
        &self,
        agent: Arc<Agent>,
        method: Method,
        path: &str,
        raw_query: &str,
        headers: &HeaderMap,
        peer: &Peer,
        body: Bytes,
    ) -> Response {
        let Ok(matched) = self.by_path.at(path) else {
            return ApiError::not_found_route(path).into_response();
        };
        let Some(route) = matched.value.iter().find(|r| r.method == method) else {
            let allowed = matched.value.iter().map(|r| r.method.as_str()).collect::<Vec<_>>().join(", ");
            return ApiError::method_not_allowed(&method, path, &allowed).into_response();
        };
        let params: HashMap<String, String> =
            matched.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let caller = match identify(&agent, headers, peer) {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        };
        let note = Arc::new(Mutex::new(AuditNote::default()));
        let target = describe_target(&params);
        let result = match authorize(route, &caller) {
            Err(e) => Err(e),
            Ok(()) => match serde_urlencoded::from_str(raw_query) {
                Err(e) => Err(ApiError::bad_request(format!("invalid query string: {e}"))),
                Ok(query) => {
                    let req = Req { params, query, body, caller: caller.clone(), note: Arc::clone(&note) };
                    (route.handler)(Arc::clone(&agent), req).await
                }
            },
        };
        if route.mutating() {
            let note = note.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let outcome = match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) if e.status == StatusCode::UNAUTHORIZED || e.status == StatusCode::FORBIDDEN => {
                    format!("denied:{}", e.code)
                }
                Err(e) => format!("error:{}", e.code),
            };
            let actor = match (&caller.identity, note.actor) {
                (Identity::Anonymous, Some(a)) => a,
                _ => caller.actor(),
            };
            let audit = NewAudit {
                actor: &actor,
                action: route.operation_id,
                target: note.target.as_deref().or(target.as_deref()),
                outcome: &outcome,
                source: &caller.source,
                detail: note.detail.as_deref().unwrap_or(""),
            };
            if let Err(e) = agent.store.append_audit(&audit) {
                tracing::error!(error = %e, "cannot write audit entry");
            }
        }
        result.unwrap_or_else(ApiError::into_response)
    }
}

/// Works out who is calling: root at the console, or a browser user through the web server (by
/// session cookie). Client address and HTTPS headers are believed only from the web server.
fn identify(agent: &Agent, headers: &HeaderMap, peer: &Peer) -> Result<Caller, ApiError> {
    // A request is the web server's if it comes from the web user, or carries the web server's
    // mark (it may run as root in a local trial). Either way it is judged by its session: the
    // root console's trust is never lent to a browser.
    let web_uid = agent.config.web_uid;
    let from_web = (peer.uid == web_uid && web_uid != 0) || headers.contains_key(HEADER_VIA_WEB);
    let console = format!("unix:uid={},pid={}", peer.uid, peer.pid.unwrap_or(0));
    if !from_web {
        return Ok(Caller {
            identity: if peer.uid == 0 { Identity::Root } else { Identity::Anonymous },
            pending: None,
            client: ClientInfo { address: None, user_agent: "keepsake console".into() },
            https: false,
            source: console,
        });
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let address = header(HEADER_CLIENT_ADDR);
    let client = ClientInfo {
        address: address.clone(),
        user_agent: header("user-agent").unwrap_or_default().chars().take(200).collect(),
    };
    let token = cookie_value(headers, crate::auth::COOKIE);
    let (identity, pending) = match agent.auth.session_state(token.as_deref())? {
        SessionState::None => (Identity::Anonymous, None),
        SessionState::Pending { session, user } => (Identity::Anonymous, Some((*session, *user))),
        SessionState::Complete(u) => (Identity::User(u), None),
    };
    Ok(Caller {
        identity,
        pending,
        client,
        https: header(HEADER_CLIENT_HTTPS).as_deref() == Some("1"),
        source: address.map(|a| format!("{a} via web")).unwrap_or_else(|| "web".into()),
    })
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

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').find_map(|pair| {
            let (k, val) = pair.trim().split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
    })
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

fn describe_target(params: &HashMap<String, String>) -> Option<String> {
    let mut parts: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.sort();
    (!parts.is_empty()).then(|| parts.join(","))
}
