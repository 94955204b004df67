//! Forwarding `/api/` requests to the agent's Unix socket.
//!
//! Requests are read whole up to a limit (API bodies are small JSON) and forwarded with their
//! end-to-end headers; responses are streamed back frame by frame, so server-sent events reach the
//! browser the moment the agent writes them.

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyDataStream, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;
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
    client: Client<UnixConnector, Full<Bytes>>,
}

impl Proxy {
    pub fn new(socket: PathBuf, max_body: usize) -> Proxy {
        Proxy { socket, max_body, client: Client::builder(TokioExecutor::new()).build(UnixConnector) }
    }

    pub async fn forward(
        &self,
        method: Method,
        path: &str,
        query: &str,
        headers: HeaderMap,
        body: impl Stream<Item = Result<impl Buf, warp::Error>>,
    ) -> Response {
        if let Some(why) = guard::cross_origin_refusal(&method, &headers) {
            return guard::cross_origin_response(&method, &why);
        }
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.max_body) {
            return too_large(self.max_body);
        }
        let body = match read_limited(body, self.max_body).await {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        let path_and_query = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
        let uri: hyper::Uri = hyperlocal::Uri::new(&self.socket, &path_and_query).into();
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers.iter() {
            if !HOP_BY_HOP.contains(&k.as_str()) {
                req = req.header(k, v);
            }
        }
        let req = match req.body(Full::new(body)) {
            Ok(r) => r,
            Err(e) => {
                return guard::error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
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
                    "agent_unreachable",
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
        "payload_too_large",
        format!("the request body is larger than {limit} bytes"),
        None,
    )
}

async fn read_limited(
    body: impl Stream<Item = Result<impl Buf, warp::Error>>,
    limit: usize,
) -> Result<Bytes, Response> {
    let mut out = BytesMut::new();
    futures_util::pin_mut!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            guard::error(StatusCode::BAD_REQUEST, "bad_request", format!("cannot read the request body: {e}"), None)
        })?;
        if out.len() + chunk.remaining() > limit {
            return Err(too_large(limit));
        }
        while chunk.has_remaining() {
            let n = chunk.chunk().len();
            out.extend_from_slice(chunk.chunk());
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}
