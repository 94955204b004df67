//! The agent's HTTP/JSON API: a route table, and the one dispatcher that runs it.
//!
//! Every route is a row in [`routes::ROUTES`]: method, path, the permission it needs, its documented
//! request and response, and its handler. The router, the OpenAPI description and (with the identity
//! work) authorization are all derived from that table, so none of them can drift from the others.
//! The dispatcher audits every mutating request, whatever its outcome; handlers stay thin and call
//! into the subsystems (`jobs`, `host`, `store`).

mod error;
mod host;
mod jobs;
pub mod openapi;
pub mod routes;
mod sse;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use warp::Reply;
use warp::reply::Response;

pub use error::ApiError;
pub use routes::{Permission, ROUTES, Route};

use crate::Agent;
use crate::server::Peer;

/// Largest request body the agent reads. API bodies are small JSON documents.
pub const MAX_BODY: usize = 1024 * 1024;

/// Who is asking, as the API layer sees it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The identity recorded in job and audit rows.
    pub actor: String,
    /// Where the request came from, for the audit log.
    pub source: String,
}

impl Caller {
    fn from_peer(peer: &Peer, web_uid: u32) -> Caller {
        let actor = if peer.uid == 0 {
            "root@console".to_owned()
        } else if peer.uid == web_uid {
            // Until accounts exist (identity issue), the web server speaks for its anonymous user.
            "web".to_owned()
        } else {
            format!("uid:{}", peer.uid)
        };
        Caller { actor, source: format!("unix:uid={},pid={}", peer.uid, peer.pid.unwrap_or(0)) }
    }
}

/// One request, as a handler receives it.
pub struct Req {
    pub params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub body: Bytes,
    pub caller: Caller,
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
        for r in ROUTES {
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
    pub async fn dispatch(
        &self,
        agent: Arc<Agent>,
        method: Method,
        path: &str,
        raw_query: &str,
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
        let query: HashMap<String, String> = match serde_urlencoded::from_str(raw_query) {
            Ok(q) => q,
            Err(e) => return ApiError::bad_request(format!("invalid query string: {e}")).into_response(),
        };
        let caller = Caller::from_peer(peer, agent.config.web_uid);
        let audit = route.mutating().then(|| (caller.clone(), describe_target(&params)));
        let req = Req { params, query, body, caller };
        let result = (route.handler)(Arc::clone(&agent), req).await;
        if let Some((caller, target)) = audit {
            let outcome = match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("error:{}", e.code),
            };
            if let Err(e) =
                agent.store.append_audit(&caller.actor, route.operation_id, target.as_deref(), &outcome, &caller.source)
            {
                tracing::error!(error = %e, "cannot write audit entry");
            }
        }
        result.unwrap_or_else(ApiError::into_response)
    }
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
