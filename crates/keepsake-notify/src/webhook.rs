//! The HTTP channels: ntfy's JSON publish, Discord and Slack webhooks (payloads in `chat.rs`) and
//! the generic JSON webhook; one POST each, and the server's answer turned into [`Sent`] or
//! [`SendError`].
//!
//! A Discord or Slack address is a secret (anyone who has it can post), so nothing here puts the
//! address in an error: errors name the service and its host only.

use std::time::Duration;

use keepsake_api::{NtfySettings, WebhookSettings};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use serde_json::{Value, json};
use url::Url;

use crate::error::{ReplyCode, SendError, SendErrorKind, certificate_hint, chain, find_source};
use crate::sender::{Sender, Sent};
use crate::validate::{is_local_host, parse_web_url};
use crate::{Message, MessageKind, chat, render};

/// The most of an error answer kept for the message.
const ERROR_BODY_MAX: usize = 4096;
/// ntfy turns a message longer than 4,096 bytes into an attachment; stay under it.
const NTFY_MESSAGE_MAX_BYTES: usize = 4000;

/// ntfy's JSON publish body.
pub(crate) fn ntfy_payload(topic: &str, msg: &Message) -> Value {
    let priority = match msg.kind {
        MessageKind::Firing => match msg.severity {
            keepsake_api::Severity::Critical => 5,
            keepsake_api::Severity::Warning => 4,
            keepsake_api::Severity::Info => 3,
        },
        MessageKind::Resolved | MessageKind::Test => 3,
        MessageKind::Summary => 2,
        MessageKind::PasswordReset => 4,
    };
    let tag = match msg.kind {
        MessageKind::Firing => match msg.severity {
            keepsake_api::Severity::Critical => "rotating_light",
            keepsake_api::Severity::Warning => "warning",
            keepsake_api::Severity::Info => "information_source",
        },
        MessageKind::Resolved => "white_check_mark",
        MessageKind::Summary => "bar_chart",
        MessageKind::Test => "test_tube",
        MessageKind::PasswordReset => "key",
    };
    let mut body = json!({
        "topic": topic,
        "title": render::headline(msg),
        "message": render::truncate_bytes(render::body_text(msg).trim_end(), NTFY_MESSAGE_MAX_BYTES),
        "priority": priority,
        "tags": [tag],
    });
    if let Some(link) = msg.link.as_ref().filter(|l| render::is_web_url(l.url.trim())) {
        body["click"] = Value::String(link.url.trim().to_owned());
    }
    body
}

/// The whole message as JSON, for a webhook without a template.
pub fn message_json(msg: &Message) -> Value {
    json!({
        "key": msg.key,
        "kind": msg.kind,
        "severity": msg.severity,
        "headline": render::headline(msg),
        "title": render::one_line(&msg.title),
        "what_happened": msg.what_happened,
        "what_it_means": msg.what_it_means,
        "what_to_do": msg.what_to_do,
        "link": msg.link,
        "facts": msg.facts.iter().map(|(label, value)| json!({"label": label, "value": value})).collect::<Vec<_>>(),
        "sections": msg.sections,
        "rule": msg.rule,
        "subject": msg.subject,
        "at": msg.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "text": render::body_text(msg).trim_end(),
    })
}

pub(crate) async fn send_ntfy(
    sender: &Sender,
    ntfy: &NtfySettings,
    token: Option<&str>,
    msg: &Message,
) -> Result<Sent, SendError> {
    let mut url = parse_web_url(&ntfy.server).map_err(|why| {
        SendError::config(format!("the ntfy server address {:?} {why}", ntfy.server), "Correct the channel's server.")
    })?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    let target = Target { service: "ntfy", url, secret_url: false };
    post(sender, &target, token, &msg.key, &ntfy_payload(&ntfy.topic, msg)).await
}

pub(crate) async fn send_discord(sender: &Sender, secret: Option<&str>, msg: &Message) -> Result<Sent, SendError> {
    let target = secret_target("Discord", secret)?;
    post(sender, &target, None, &msg.key, &chat::discord_payload(msg)).await
}

pub(crate) async fn send_slack(sender: &Sender, secret: Option<&str>, msg: &Message) -> Result<Sent, SendError> {
    let target = secret_target("Slack", secret)?;
    post(sender, &target, None, &msg.key, &chat::slack_payload(msg)).await
}

pub(crate) async fn send_generic(
    sender: &Sender,
    hook: &WebhookSettings,
    token: Option<&str>,
    msg: &Message,
) -> Result<Sent, SendError> {
    let url = parse_web_url(&hook.url).map_err(|why| {
        SendError::config(format!("the webhook address {:?} {why}", hook.url), "Correct the channel's address.")
    })?;
    let body = match hook.template.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(template) => render::fill_template(template, msg).map_err(|e| {
            SendError::config(format!("the webhook's template cannot be used: {e}"), "Correct the template.")
        })?,
        None => message_json(msg),
    };
    post(sender, &Target { service: "the webhook", url, secret_url: false }, token, &msg.key, &body).await
}

/// Where a request goes, and how to name it in errors.
struct Target {
    /// "Discord", "Slack", "ntfy", "the webhook".
    service: &'static str,
    url: Url,
    /// The address itself is the secret: never show more than its host.
    secret_url: bool,
}

impl Target {
    fn name(&self) -> String {
        let host = self.url.host_str().unwrap_or("?");
        match self.url.port() {
            Some(port) => format!("{} ({host}:{port})", self.service),
            None => format!("{} ({host})", self.service),
        }
    }

    fn shown_url(&self) -> String {
        if self.secret_url { self.name() } else { self.url.to_string() }
    }
}

fn secret_target(service: &'static str, secret: Option<&str>) -> Result<Target, SendError> {
    let hint = format!("Paste the {service} webhook address into the channel again.");
    let secret =
        secret.ok_or_else(|| SendError::config(format!("the {service} webhook address is not set"), hint.clone()))?;
    let url = parse_web_url(secret)
        .map_err(|_| SendError::config(format!("the stored {service} webhook address is not a web address"), hint))?;
    Ok(Target { service, url, secret_url: true })
}

async fn post(
    sender: &Sender,
    target: &Target,
    bearer: Option<&str>,
    key: &str,
    body: &Value,
) -> Result<Sent, SendError> {
    let mut request = sender
        .http
        .post(target.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", idempotency_key(key))
        .body(body.to_string());
    if let Some(token) = bearer {
        if target.url.scheme() != "https" && !target.url.host_str().is_some_and(is_local_host) {
            return Err(SendError::config(
                format!("the token for {} would cross the internet unencrypted", target.name()),
                "Use the https:// address, or remove the token.",
            ));
        }
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = request.send().await.map_err(|e| request_error(e, target, sender.timeout))?;
    let status = response.status();
    if status.is_success() {
        return Ok(Sent { detail: status_line(status) });
    }
    if status.is_redirection() {
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("nowhere").to_owned();
        let shown = if target.secret_url { "another address".to_owned() } else { location };
        return Err(SendError::new(
            SendErrorKind::Rejected,
            format!("{} answered with a redirect to {shown}, which Keepsake does not follow", target.name()),
            "Put the address it redirects to in the channel (often the same with https://).",
        )
        .with_reply(Some(ReplyCode::Http(status.as_u16())), status_line(status)));
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
    let text = read_limited(response, target, sender.timeout).await;
    let reply = if text.trim().is_empty() {
        status_line(status)
    } else {
        format!("{}: {}", status_line(status), text.trim_end())
    };
    let (kind, what, hint) = match status.as_u16() {
        401 | 403 => (
            SendErrorKind::Auth,
            format!("{} refused the credentials", target.name()),
            if target.secret_url {
                format!("The address may be wrong or its webhook deleted: copy it again from {}.", target.service)
            } else {
                "Check the access token: it may be wrong, expired, or not allowed to post here.".to_owned()
            },
        ),
        404 | 410 => (
            SendErrorKind::Rejected,
            format!("{} does not know this address", target.name()),
            if target.secret_url {
                format!(
                    "The webhook was deleted or the address is wrong: make one in {} and paste it again.",
                    target.service
                )
            } else {
                format!("Check the address {}.", target.shown_url())
            },
        ),
        429 => (
            SendErrorKind::Rejected,
            format!("{} asks Keepsake to slow down", target.name()),
            "The server asks to try again later.".to_owned(),
        ),
        s if s >= 500 => (
            SendErrorKind::Rejected,
            format!("{} had a problem of its own", target.name()),
            "This is usually temporary.".to_owned(),
        ),
        _ => (
            SendErrorKind::Rejected,
            format!("{} refused the message", target.name()),
            if target.service == "the webhook" {
                "Check the address and the template against what the receiving service expects.".to_owned()
            } else {
                "If this goes on, please report it: the message may be malformed.".to_owned()
            },
        ),
    };
    let mut error = SendError::new(kind, what, hint).with_reply(Some(ReplyCode::Http(status.as_u16())), reply);
    error.retry_after = retry_after;
    Err(error)
}

/// The key as an HTTP header value: as it is if it is visible ASCII, else encoded like the
/// email's Message-ID (so any key gives a valid, distinct header).
pub(crate) fn idempotency_key(key: &str) -> String {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()) {
        key.to_owned()
    } else {
        crate::email::encode_key(key)
    }
}

fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// Up to [`ERROR_BODY_MAX`] bytes of the body, as text, within the time left.
async fn read_limited(mut response: reqwest::Response, target: &Target, timeout: Duration) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    let read = async {
        while bytes.len() < ERROR_BODY_MAX {
            match response.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk[..chunk.len().min(ERROR_BODY_MAX - bytes.len())]),
                Ok(None) | Err(_) => break,
            }
        }
    };
    let _ = tokio::time::timeout(timeout, read).await;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if target.secret_url {
        // A server may echo the address; never let the secret into an error.
        let secret = target.url.as_str();
        text = text.replace(secret, "<webhook address>");
        if let Some(path) = Some(target.url.path()).filter(|p| p.len() > 8) {
            text = text.replace(path, "<webhook address>");
        }
    }
    text
}

fn request_error(e: reqwest::Error, target: &Target, timeout: Duration) -> SendError {
    if e.is_builder() {
        return SendError::config(
            format!("the request to {} cannot be made ({})", target.name(), chain(&e.without_url())),
            "Check the channel's token: it may hold spaces or line breaks.",
        );
    }
    let is_timeout = e.is_timeout();
    let is_connect = e.is_connect();
    let tls = find_source::<rustls::Error>(&e).cloned();
    let e = e.without_url();
    let detail = chain(&e);
    if let Some(tls) = tls {
        let hint = certificate_hint(&tls).unwrap_or("Check that the address is right and the server speaks https.");
        return SendError::new(
            SendErrorKind::Tls,
            format!("the secure connection to {} failed ({detail})", target.name()),
            hint,
        );
    }
    if is_timeout {
        return SendError::new(
            SendErrorKind::Timeout,
            format!("{} did not answer within {} seconds", target.name(), timeout.as_secs_f32()),
            "The server may be slow or down.",
        );
    }
    if is_connect {
        return SendError::new(
            SendErrorKind::Connect,
            format!("could not connect to {} ({detail})", target.name()),
            "Check the address, and that this box can reach the internet.",
        );
    }
    // A connection dropped halfway, or an answer that is not HTTP: worth another try.
    SendError::new(
        SendErrorKind::Connect,
        format!("the exchange with {} failed ({detail})", target.name()),
        "Check that the address is right and the server is up.",
    )
}
