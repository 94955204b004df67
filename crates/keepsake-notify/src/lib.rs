//! Delivers one message to one channel: renders it for the channel's kind and sends it, reporting
//! the server's own words when it refuses.
//!
//! **Owns:** the [`Message`] a notification is made of; how it looks in each channel
//! ([`render`], and the payload builders in `email`, `webhook` and `chat`); checking a channel's
//! settings before they are saved ([`validate()`]); one delivery attempt ([`Sender::send`]) and
//! what its failure means ([`SendError`]: what failed, the server's reply verbatim, what to do,
//! whether trying again can help, how long the server asked to wait).
//!
//! **Must not know:** the agent, the store, the rules that decide when to notify, the retry
//! policy, or where and how secrets are kept. The caller hands over the channel's settings
//! (`keepsake_api::ChannelSettings`) and its secret as a plain `&str`, decides whether and when to
//! send, and decides what to do with an error. Nothing here writes to disk, keeps state between
//! sends (besides the HTTP connection pool) or logs a secret: a Discord or Slack address is a
//! secret, so errors name only the host.
//!
//! # What each channel sends
//!
//! - **Email** (SMTP, lettre): one `multipart/alternative` message, plain text ([`render::text`])
//!   and HTML ([`render::html`]: inline styles, no external resources, every value escaped), to
//!   all of `to` at once, from `Keepsake <from>`. Subject: [`render::subject`]. `Message-ID:
//!   <key@keepsake>` (the key made a valid msg-id, see [`message_id`]), `Auto-Submitted:
//!   auto-generated` so vacation responders stay quiet. Security `starttls` requires STARTTLS,
//!   `tls` is TLS from the first byte, `none` is plain SMTP (for a relay on this machine). Trusted
//!   roots: the system's (`/etc/ssl/certs`; Mozilla's built-in list if the system has none) plus
//!   `extra_ca_pem`. Sign-in with `username` and the secret as password (PLAIN or LOGIN). EHLO
//!   name: this machine's host name. A fresh connection per message (no pool).
//! - **ntfy**: ntfy's JSON publish, `POST {server}/` with `{topic, title, message, priority,
//!   tags, click?}`; priority 5 for critical, 4 warning, 3 info and resolved, 2 for the weekly
//!   summary; the message is cut to 4,000 bytes (ntfy turns longer ones into attachments). The
//!   secret, an access token, goes as `Authorization: Bearer`.
//! - **Discord**: `POST` to the webhook address (the secret) with one embed `{title,
//!   description, color, url?, timestamp, fields, footer}` and `allowed_mentions: {parse: []}` so
//!   a name like `@everyone` pings nobody; markdown in system-provided text is escaped; Discord's
//!   limits (title 256, description 4,096, 25 fields, field name 256 and value 1,024, 6,000 in
//!   all) are kept by cutting on character boundaries.
//! - **Slack**: `POST` to the incoming-webhook address (the secret) with `text` (the fallback)
//!   and `blocks`: a header, mrkdwn sections (`&`, `<`, `>` escaped), facts as section fields, a
//!   link, a context line; within Slack's limits (header 150, section 3,000, field 2,000, 10
//!   fields a section, 50 blocks).
//! - **Webhook**: `POST` of the template filled by [`render::fill_template`], or without a
//!   template the whole message as JSON ([`message_json`]); the secret, if any, as
//!   `Authorization: Bearer`.
//!
//! Every HTTP request carries `Idempotency-Key: {key}` and `Content-Type: application/json`, is
//! bounded by [`SenderOptions::timeout`], follows no redirect (a redirect is reported, with where
//! it points), uses no proxy, and reads at most 4 KiB of an error answer.

use chrono::{DateTime, Utc};
use keepsake_api::Severity;
use serde::{Deserialize, Serialize};

mod chat;
mod email;
mod error;
pub mod render;
mod sender;
mod tls;
mod validate;
mod webhook;

pub use email::message_id;
pub use error::{ReplyCode, SendError, SendErrorKind};
pub use render::TemplateError;
pub use sender::{Sender, SenderOptions, Sent};
pub use validate::{InvalidChannel, validate};
pub use webhook::message_json;

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// An alert started firing (or fired again).
    Firing,
    /// An alert's condition no longer holds.
    Resolved,
    /// The weekly summary.
    Summary,
    /// A channel's "send test".
    Test,
    /// A forgotten-password link (email only).
    PasswordReset,
}

impl MessageKind {
    /// The snake_case name, as in JSON (`firing`, `password_reset`).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Firing => "firing",
            MessageKind::Resolved => "resolved",
            MessageKind::Summary => "summary",
            MessageKind::Test => "test",
            MessageKind::PasswordReset => "password_reset",
        }
    }
}

/// A link to follow: a knowledge-base page, the dashboard, or a password-reset link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// A titled list of lines: the weekly summary's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub heading: String,
    pub lines: Vec<String>,
}

/// One notification, ready to render for any channel. Every text is plain text: renderers escape
/// it for their format, so values that come from the system (a container's name) are safe.
/// Plain data: a caller may store it (the agent's delivery queue does) and send it later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Unique per notification, stable across retries: the email's Message-ID and the webhooks'
    /// `Idempotency-Key`.
    pub key: String,
    pub kind: MessageKind,
    pub severity: Severity,
    /// One line: what happened ("Pool tank has checksum errors").
    pub title: String,
    /// Paragraphs of plain text, separated by blank lines.
    pub what_happened: String,
    pub what_it_means: String,
    pub what_to_do: String,
    pub link: Option<Link>,
    /// Label and value rows (pool, device, counts).
    pub facts: Vec<(String, String)>,
    pub sections: Vec<Section>,
    /// The rule's id (`zfs.checksum_errors`), for templates and footers; may be empty.
    pub rule: String,
    /// What the rule is about (`tank`); may be empty.
    pub subject: String,
    pub at: DateTime<Utc>,
}
