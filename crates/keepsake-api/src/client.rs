//! A typed async client for the agent's Unix socket.
//!
//! Used by the root CLI and the tests. It speaks HTTP/1.1 over the socket with hyper, and turns
//! every non-2xx answer into [`ClientError::Api`] carrying the agent's own error message.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use hyperlocal::{UnixConnector, Uri};
use serde::de::DeserializeOwned;

use crate::paths;
use crate::restore_points::{
    ResetRequest, RestorePlan, RestorePoint, RestorePointCreate, RestorePointList, RestorePointPin,
    RestorePointSettings, RestoreRequest,
};
use crate::types::{ApiError, Done, Health, Job, JobList, JobLog, Status};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the Keepsake agent at {socket}: {reason}")]
    Connect { socket: PathBuf, reason: String },
    #[error("{} ({status}){}", .error.message, .error.hint.as_deref().map(|h| format!(". {h}")).unwrap_or_default())]
    Api { status: StatusCode, error: ApiError },
    #[error("the agent answered {status} with a body this client does not understand: {detail}")]
    Decode { status: StatusCode, detail: String },
    #[error("connection to the agent failed: {0}")]
    Http(String),
}

impl ClientError {
    /// The agent's error code, when the agent answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { error, .. } => Some(&error.code),
            _ => None,
        }
    }
}

pub use crate::types::JobQuery;

#[derive(Clone)]
pub struct Client {
    socket: PathBuf,
    http: HyperClient<UnixConnector, Full<Bytes>>,
}

impl Client {
    pub fn new(socket: impl AsRef<Path>) -> Client {
        Client {
            socket: socket.as_ref().to_owned(),
            http: HyperClient::builder(TokioExecutor::new()).build(UnixConnector),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends a request and returns the raw response (status, headers, streaming body).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<http::Response<Incoming>, ClientError> {
        let uri: hyper::Uri = Uri::new(&self.socket, path).into();
        let mut req = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Full::new(Bytes::from(v.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body).map_err(|e| ClientError::Http(e.to_string()))?;
        self.http.request(req).await.map_err(|e| {
            let reason = connect_reason(&self.socket, &e);
            ClientError::Connect { socket: self.socket.clone(), reason }
        })
    }

    /// Sends a request and decodes the JSON answer; a non-2xx answer becomes [`ClientError::Api`].
    pub async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ClientError> {
        let resp = self.send(method, path, body).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.map_err(|e| ClientError::Http(e.to_string()))?.to_bytes();
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(error) => ClientError::Api { status, error },
                Err(e) => ClientError::Decode { status, detail: e.to_string() },
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode { status, detail: e.to_string() })
    }

    pub async fn health(&self) -> Result<Health, ClientError> {
        self.call_json(Method::GET, paths::HEALTH, None).await
    }

    pub async fn status(&self) -> Result<Status, ClientError> {
        self.call_json(Method::GET, paths::STATUS, None).await
    }

    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.call_json(Method::GET, paths::OPENAPI, None).await
    }

    pub async fn jobs(&self, q: &JobQuery) -> Result<JobList, ClientError> {
        let mut params = Vec::new();
        if let Some(l) = q.limit {
            params.push(format!("limit={l}"));
        }
        if let Some(k) = &q.kind {
            params.push(format!("kind={}", url_escape(k)));
        }
        if let Some(s) = q.state {
            params.push(format!("state={}", s.as_str()));
        }
        let path =
            if params.is_empty() { paths::JOBS.to_owned() } else { format!("{}?{}", paths::JOBS, params.join("&")) };
        self.call_json(Method::GET, &path, None).await
    }

    pub async fn job(&self, id: i64) -> Result<Job, ClientError> {
        self.call_json(Method::GET, &paths::fill(paths::JOB, &[("id", &id)]), None).await
    }

    pub async fn job_log(&self, id: i64) -> Result<JobLog, ClientError> {
        self.call_json(Method::GET, &paths::fill(paths::JOB_LOG, &[("id", &id)]), None).await
    }

    pub async fn cancel_job(&self, id: i64) -> Result<Job, ClientError> {
        self.call_json(Method::POST, &paths::fill(paths::JOB_CANCEL, &[("id", &id)]), Some(&serde_json::json!({})))
            .await
    }

    pub async fn start_self_check(&self) -> Result<Job, ClientError> {
        self.call_json(Method::POST, paths::SELF_CHECK, Some(&serde_json::json!({}))).await
    }

    pub async fn restore_points(&self) -> Result<RestorePointList, ClientError> {
        self.call_json(Method::GET, paths::RESTORE_POINTS, None).await
    }

    /// Starts making a restore point; the answer is the queued job.
    pub async fn create_restore_point(&self, r: &RestorePointCreate) -> Result<Job, ClientError> {
        self.call_json(Method::POST, paths::RESTORE_POINTS, Some(&to_json(r)?)).await
    }

    pub async fn pin_restore_point(&self, id: &str, pinned: bool) -> Result<RestorePoint, ClientError> {
        let body = to_json(&RestorePointPin { pinned })?;
        self.call_json(Method::PUT, &paths::fill(paths::RESTORE_POINT_PIN, &[("id", &id)]), Some(&body)).await
    }

    pub async fn delete_restore_point(&self, id: &str) -> Result<Done, ClientError> {
        self.call_json(Method::DELETE, &paths::fill(paths::RESTORE_POINT, &[("id", &id)]), None).await
    }

    /// What restoring from a point would do; changes nothing.
    pub async fn restore_plan(&self, id: &str, r: &RestoreRequest) -> Result<RestorePlan, ClientError> {
        self.call_json(Method::POST, &paths::fill(paths::RESTORE_POINT_PLAN, &[("id", &id)]), Some(&to_json(r)?)).await
    }

    /// Starts a restore (`r.confirm` must be the plan's phrase); the answer is the queued job.
    pub async fn restore(&self, id: &str, r: &RestoreRequest) -> Result<Job, ClientError> {
        self.call_json(Method::POST, &paths::fill(paths::RESTORE_POINT_RESTORE, &[("id", &id)]), Some(&to_json(r)?))
            .await
    }

    pub async fn restore_point_settings(&self) -> Result<RestorePointSettings, ClientError> {
        self.call_json(Method::GET, paths::RESTORE_POINT_SETTINGS, None).await
    }

    pub async fn set_restore_point_settings(
        &self,
        s: &RestorePointSettings,
    ) -> Result<RestorePointSettings, ClientError> {
        self.call_json(Method::PUT, paths::RESTORE_POINT_SETTINGS, Some(&to_json(s)?)).await
    }

    pub async fn start_restore_drill(&self) -> Result<Job, ClientError> {
        self.call_json(Method::POST, paths::RESTORE_DRILL, Some(&serde_json::json!({}))).await
    }

    /// Starts emptying Immich (`confirm`: `reset everything`); the answer is the queued job.
    pub async fn reset_instance(&self, confirm: &str) -> Result<Job, ClientError> {
        let body = to_json(&ResetRequest { confirm: confirm.to_owned() })?;
        self.call_json(Method::POST, paths::INSTANCE_RESET, Some(&body)).await
    }

    /// Starts undoing a reset (`confirm`: `undo reset`); the answer is the queued job.
    pub async fn undo_reset(&self, confirm: &str) -> Result<Job, ClientError> {
        let body = to_json(&ResetRequest { confirm: confirm.to_owned() })?;
        self.call_json(Method::POST, paths::INSTANCE_RESET_UNDO, Some(&body)).await
    }

    /// Opens a server-sent event stream (`/api/v1/jobs/{id}/events` or `/api/v1/events`).
    pub async fn events(&self, path: &str) -> Result<EventStream, ClientError> {
        let resp = self.send(Method::GET, path, None).await?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp.into_body().collect().await.map_err(|e| ClientError::Http(e.to_string()))?.to_bytes();
            return Err(match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(error) => ClientError::Api { status, error },
                Err(e) => ClientError::Decode { status, detail: e.to_string() },
            });
        }
        Ok(EventStream { body: resp.into_body(), parser: SseParser::default() })
    }
}

fn connect_reason(socket: &Path, e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut source: Option<&dyn Error> = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("{} does not exist; is keepsake-agent running?", socket.display())
                }
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied; run as root or as the web server's user".to_owned()
                }
                std::io::ErrorKind::ConnectionRefused => "connection refused; is keepsake-agent running?".to_owned(),
                _ => io.to_string(),
            };
        }
        source = s.source();
    }
    e.to_string()
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, ClientError> {
    serde_json::to_value(v).map_err(|e| ClientError::Http(format!("cannot encode the request: {e}")))
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

impl SseEvent {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.data)
    }
}

/// A live event stream; `next()` returns `None` when the agent ends it.
pub struct EventStream {
    body: Incoming,
    parser: SseParser,
}

impl EventStream {
    pub async fn next(&mut self) -> Result<Option<SseEvent>, ClientError> {
        loop {
            if let Some(ev) = self.parser.pop() {
                return Ok(Some(ev));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(ClientError::Http(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.parser.push(&data);
                    }
                }
            }
        }
    }
}

/// Incremental parser of the `text/event-stream` format.
#[derive(Default)]
pub struct SseParser {
    buf: BytesMut,
    current: SseEvent,
    has_data: bool,
    ready: VecDeque<SseEvent>,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line = self.buf.split_to(pos + 1);
            let line = String::from_utf8_lossy(&line[..pos]);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            self.line(line);
        }
    }

    fn line(&mut self, line: &str) {
        if line.is_empty() {
            if self.has_data {
                let ev = std::mem::take(&mut self.current);
                self.ready
                    .push_back(SseEvent { event: if ev.event.is_empty() { "message".into() } else { ev.event }, ..ev });
            }
            self.current = SseEvent::default();
            self.has_data = false;
            return;
        }
        if line.starts_with(':') {
            return; // comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.current.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "id" => self.current.id = Some(value.to_owned()),
            _ => {}
        }
    }

    pub fn pop(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_across_chunks_and_skips_comments() {
        let mut p = SseParser::default();
        p.push(b": keep-alive\n\nevent: job\nid: 3\ndata: {\"a\":");
        assert!(p.pop().is_none());
        p.push(b"1}\n\ndata: x\ndata: y\r\n\r\n");
        assert_eq!(p.pop(), Some(SseEvent { event: "job".into(), data: "{\"a\":1}".into(), id: Some("3".into()) }));
        assert_eq!(p.pop(), Some(SseEvent { event: "message".into(), data: "x\ny".into(), id: None }));
        assert!(p.pop().is_none());
    }

    #[test]
    fn escapes_query_values() {
        assert_eq!(url_escape("host.self_check"), "host.self_check");
        assert_eq!(url_escape("a b&c"), "a%20b%26c");
    }
}
