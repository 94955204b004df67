//! Forwarding `/api/` requests to the agent's Unix socket.
//!
//! Requests are read whole up to a size and within a time limit (API bodies are small JSON) and
//! forwarded with their end-to-end headers; responses are streamed back frame by frame, so server-sent events reach the
//! browser the moment the agent writes them.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyDataStream, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;
use keepsake_api::body::{BodyError, collect_limited};
use warp::Buf;
use warp::Reply;
use warp::reply::Response;

use crate::guard;

/// Headers that describe one hop, not the message; never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

pub struct Proxy {
    socket: PathBuf,
    max_body: usize,
    body_timeout: Duration,
    trusted_proxies: Vec<IpAddr>,
    client: Client<UnixConnector, Full<Bytes>>,
}

/// Where the browser is, as far as this server can tell: its own peer, or what a trusted reverse
/// proxy says. A client cannot claim an address by sending `X-Forwarded-For` itself.
pub fn client_address(remote: Option<SocketAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> (Option<String>, bool) {
    let Some(peer) = remote.map(|r| r.ip()) else { return (None, false) };
    if !trusted.contains(&peer) {
        return (Some(peer.to_string()), false);
    }
    // The last address in X-Forwarded-For is the one the trusted proxy saw.
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|s| !s.is_empty())
        .and_then(|s| s.parse::<IpAddr>().ok());
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    (Some(forwarded.unwrap_or(peer).to_string()), https)
}

impl Proxy {
    pub fn new(socket: PathBuf, max_body: usize, body_timeout: Duration, trusted_proxies: Vec<IpAddr>) -> Proxy {
        let client = Client::builder(TokioExecutor::new()).build(UnixConnector);
        Proxy { socket, max_body, body_timeout, trusted_proxies, client }
    }

    pub async fn forward(
        &self,
        method: Method,
        path: &str,
        query: &str,
        headers: HeaderMap,
        remote: Option<SocketAddr>,
        body: impl Stream<Item = Result<impl Buf, warp::Error>>,
    ) -> Response {
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.max_body) {
            return too_large(self.max_body);
        }
        // The header-read timeout ends at the blank line; a body trickled a byte at a time would
        // otherwise hold the connection for ever.
        let body = match tokio::time::timeout(self.body_timeout, collect_limited(body, self.max_body)).await {
            Ok(Ok(b)) => b,
            Ok(Err(BodyError::TooLarge { .. })) => return too_large(self.max_body),
            Ok(Err(e @ BodyError::Read(_))) => {
                return guard::error(StatusCode::BAD_REQUEST, "web.body_unreadable", e.to_string(), None);
            }
            Err(_) => {
                return guard::error(
                    StatusCode::REQUEST_TIMEOUT,
                    "web.body_timeout",
                    format!("the request body did not arrive within {} s", self.body_timeout.as_secs()),
                    Some("Check the network connection and try again."),
                );
            }
        };
        let path_and_query = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
        let uri: hyper::Uri = hyperlocal::Uri::new(&self.socket, &path_and_query).into();
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers.iter() {
            // Never forward a client's own x-keepsake-* headers: only this server sets them.
            if !HOP_BY_HOP.contains(&k.as_str()) && !k.as_str().starts_with("x-keepsake-") {
                req = req.header(k, v);
            }
        }
        let (addr, https) = client_address(remote, &headers, &self.trusted_proxies);
        if let Some(a) = addr {
            req = req.header("x-keepsake-client-addr", a);
        }
        req = req.header("x-keepsake-client-https", if https { "1" } else { "0" }).header("x-keepsake-via", "web");
        let req = match req.body(Full::new(body)) {
            Ok(r) => r,
            Err(e) => {
                return guard::error(
                    StatusCode::BAD_REQUEST,
                    "web.bad_request",
                    format!("cannot forward request: {e}"),
                    None,
                );
            }
        };
        let resp = match self.client.request(req).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, socket = %self.socket.display(), "agent unreachable");
                return guard::error(
                    StatusCode::BAD_GATEWAY,
                    "web.agent_unreachable",
                    "The Keepsake agent is not answering.",
                    Some("It may be restarting; try again in a minute. If this lasts, restart the box."),
                );
            }
        };
        let (parts, incoming) = resp.into_parts();
        let mut out = warp::reply::stream(BodyDataStream::new(incoming)).into_response();
        *out.status_mut() = parts.status;
        for (k, v) in parts.headers.iter() {
            if !HOP_BY_HOP.contains(&k.as_str()) {
                out.headers_mut().append(k, v.clone());
            }
        }
        out
    }
}

fn too_large(limit: usize) -> Response {
    guard::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "web.body_too_large",
        format!("the request body is larger than {limit} bytes"),
        Some("API requests are small JSON documents; this one is too large to be one."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(xff: &str, proto: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("x-forwarded-for", xff.parse().unwrap());
        m.insert("x-forwarded-proto", proto.parse().unwrap());
        m
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let trusted = ["127.0.0.1".parse().unwrap()];
        let (a, https) = client_address(Some(peer), &h("203.0.113.9", "https"), &[]);
        assert_eq!((a.as_deref(), https), (Some("127.0.0.1"), false));
        let (a, https) = client_address(Some(peer), &h("198.51.100.1, 203.0.113.9", "https"), &trusted);
        assert_eq!((a.as_deref(), https), (Some("203.0.113.9"), true));
        let (a, _) = client_address(Some(peer), &h("not-an-ip", "http"), &trusted);
        assert_eq!(a.as_deref(), Some("127.0.0.1"));
    }
}
