//! Wire types of alerts and notifications: channels (where messages go), rules (what is watched),
//! alerts (a rule's state for one subject) and their history, the weekly summary's schedule, and
//! the forgotten-password flow.
//!
//! A channel's secret (an SMTP password, an ntfy token, a Discord or Slack webhook address, a
//! webhook's bearer token) travels only into the agent, in [`ChannelUpsert::secret`]; answers say
//! only whether one is set.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits::{
    ALERT_SUBJECT_MAX_CHARS, CHANNEL_NAME_MAX_CHARS, CHANNEL_RECIPIENTS_MAX, CHANNEL_SECRET_MAX_CHARS, EMAIL_MAX,
    EMAIL_PATTERN, HOSTNAME_MAX, HOSTNAME_PATTERN, NTFY_TOPIC_PATTERN, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS,
    PEM_MAX_CHARS, RESET_TOKEN_PATTERN, SMTP_USERNAME_MAX_CHARS, TEMPLATE_MAX_CHARS, URL_MAX, URL_PATTERN,
    VISIBLE_PATTERN,
};

/// How an SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain SMTP, upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on this machine or the local network (port 25).
    None,
}

/// Email over SMTP. The password, if the server needs one, is the channel's secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The SMTP server's host name or address.
    #[schemars(length(min = 1, max = HOSTNAME_MAX), regex(pattern = HOSTNAME_PATTERN))]
    pub host: String,
    #[schemars(range(min = 1))]
    pub port: u16,
    pub security: SmtpSecurity,
    /// The name to sign in to the server with; none for a server that needs no sign-in.
    #[schemars(length(min = 1, max = SMTP_USERNAME_MAX_CHARS), regex(pattern = VISIBLE_PATTERN))]
    pub username: Option<String>,
    /// The sender address.
    #[schemars(length(max = EMAIL_MAX), regex(pattern = EMAIL_PATTERN))]
    pub from: String,
    /// Who receives alerts.
    #[schemars(length(min = 1, max = CHANNEL_RECIPIENTS_MAX), inner(length(max = EMAIL_MAX), regex(pattern = EMAIL_PATTERN)))]
    pub to: Vec<String>,
    /// A certificate authority (PEM) to trust besides the usual ones, for a local relay with its
    /// own certificate.
    #[schemars(length(max = PEM_MAX_CHARS))]
    pub extra_ca_pem: Option<String>,
}

/// A push notification through ntfy. An access token, if the topic needs one, is the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NtfySettings {
    /// The ntfy server, e.g. `https://ntfy.sh`.
    #[schemars(length(max = URL_MAX), regex(pattern = URL_PATTERN))]
    pub server: String,
    #[schemars(regex(pattern = NTFY_TOPIC_PATTERN))]
    pub topic: String,
}

/// A Discord or Slack incoming webhook: its address is the secret (anyone who has it can post).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatWebhookSettings {}

/// A JSON POST to any address. A bearer token, if set, is the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    #[schemars(length(max = URL_MAX), regex(pattern = URL_PATTERN))]
    pub url: String,
    /// The JSON body, with `{{placeholder}}`s filled in as JSON strings (`{{title}}`, `{{state}}`,
    /// `{{severity}}`, `{{summary}}`, `{{what_to_do}}`, `{{link}}`, `{{rule}}`, `{{subject}}`,
    /// `{{at}}`, `{{key}}`). None sends the whole message as JSON.
    #[schemars(length(max = TEMPLATE_MAX_CHARS))]
    pub template: Option<String>,
}

/// Where a channel delivers, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelSettings {
    Email(EmailSettings),
    Ntfy(NtfySettings),
    Discord(ChatWebhookSettings),
    Slack(ChatWebhookSettings),
    Webhook(WebhookSettings),
}

impl ChannelSettings {
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelSettings::Email(_) => "email",
            ChannelSettings::Ntfy(_) => "ntfy",
            ChannelSettings::Discord(_) => "discord",
            ChannelSettings::Slack(_) => "slack",
            ChannelSettings::Webhook(_) => "webhook",
        }
    }

    /// Whether this kind cannot work without its secret (the webhook address of Discord and Slack).
    pub fn needs_secret(&self) -> bool {
        matches!(self, ChannelSettings::Discord(_) | ChannelSettings::Slack(_))
    }
}

/// Which of a rule's changes a channel hears about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOn {
    /// When something goes wrong (an alert fires).
    Failure,
    /// When it is put right (an alert resolves).
    Success,
    /// Both.
    Always,
    /// Neither.
    Never,
}

/// A channel as the agent keeps it (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelInfo {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub settings: ChannelSettings,
    /// Whether a secret is stored (its value is never returned).
    pub secret_set: bool,
    /// What this channel hears about for rules not listed in `rules`.
    pub notify_on: NotifyOn,
    /// Per rule id, what this channel hears about.
    pub rules: BTreeMap<String, NotifyOn>,
    /// Whether the weekly summary goes to this channel (email channels only).
    pub weekly_summary: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelInfo>,
}

/// A channel to create, or its new state. `secret`: absent keeps the stored one, `""` removes it.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelUpsert {
    #[schemars(length(max = CHANNEL_NAME_MAX_CHARS), regex(pattern = VISIBLE_PATTERN))]
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub settings: ChannelSettings,
    #[schemars(length(max = CHANNEL_SECRET_MAX_CHARS))]
    pub secret: Option<String>,
    pub notify_on: NotifyOn,
    #[serde(default)]
    pub rules: BTreeMap<String, NotifyOn>,
    #[serde(default)]
    pub weekly_summary: bool,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for ChannelUpsert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelUpsert")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("settings", &self.settings)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("notify_on", &self.notify_on)
            .finish_non_exhaustive()
    }
}

/// What a channel's test message did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelTestResult {
    pub delivered: bool,
    /// On failure, what went wrong, with the server's own reply when there was one.
    pub error: Option<String>,
    pub took_ms: u64,
}

/// How bad a rule's alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// A rule's editable threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Threshold {
    pub value: u32,
    pub default: u32,
    pub min: u32,
    pub max: u32,
    /// What the number counts, e.g. `days`, `percent free`.
    pub unit: String,
}

/// A built-in rule and its current configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleInfo {
    /// Stable id, e.g. `zfs.checksum_errors`.
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub threshold: Option<Threshold>,
    /// A muted rule keeps tracking its alerts but sends nothing.
    pub muted: bool,
    /// The least time between two notifications of the same alert firing again.
    pub min_repeat_minutes: u32,
    /// The knowledge-base page its messages link to (`/help/<page>` on the dashboard).
    pub help: Option<String>,
    /// How many of its alerts are firing now.
    pub firing: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleList {
    pub rules: Vec<RuleInfo>,
}

/// Changes to a rule; absent fields stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleUpdate {
    /// Within the rule's threshold bounds (see [`Threshold`]).
    pub threshold: Option<u32>,
    pub muted: Option<bool>,
    #[schemars(range(max = 10_080))]
    pub min_repeat_minutes: Option<u32>,
}

/// Whether an alert's condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// One rule's state for one subject (a pool, a container, a drive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertInfo {
    pub id: i64,
    pub rule: String,
    pub subject: String,
    pub state: AlertState,
    pub severity: Severity,
    /// One line: what happened.
    pub title: String,
    /// What it means and what to do.
    pub message: String,
    /// When it last started firing.
    pub since: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
    pub snoozed_until: Option<DateTime<Utc>>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertList {
    /// Firing alerts first (most severe first), then those resolved in the last week.
    pub alerts: Vec<AlertInfo>,
    /// How many are firing, snoozed or not.
    pub firing: u32,
    /// The most severe firing, not snoozed alert's severity, for the indicator on every page.
    pub worst: Option<Severity>,
}

/// Silences an alert's notifications for a while (`minutes: 0` ends a snooze).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeRequest {
    #[schemars(range(max = 43_200))]
    pub minutes: u32,
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    Fired,
    Resolved,
    /// A message was handed to a channel's server.
    Notified,
    /// A message was not sent: muted, snoozed, too soon after the last one, or the channel does
    /// not want this kind of change.
    Suppressed,
    /// A message could not be delivered; it is retried until `detail` says it gave up.
    DeliveryFailed,
    Snoozed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub alert_id: Option<i64>,
    pub rule: String,
    pub subject: String,
    pub kind: HistoryKind,
    pub channel: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertHistory {
    pub entries: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Entries older than this id (for paging).
    pub before: Option<i64>,
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    #[schemars(length(max = ALERT_SUBJECT_MAX_CHARS))]
    pub rule: Option<String>,
}

/// When the weekly summary goes out (the appliance's local time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummarySettings {
    pub enabled: bool,
    /// 1 = Monday … 7 = Sunday.
    #[schemars(range(min = 1, max = 7))]
    pub weekday: u8,
    #[schemars(range(max = 23))]
    pub hour: u8,
}

/// Whether a forgotten password can be reset by email here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PasswordResetAvailability {
    /// False when no email channel is set up: the page then says to use
    /// `keepsake user reset-password NAME` at the console.
    pub by_email: bool,
}

/// Asks for a reset link. The answer is the same whether or not the account exists.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The account name or its email address.
    #[schemars(length(min = 1, max = EMAIL_MAX), regex(pattern = crate::limits::ASCII_PATTERN))]
    pub name: String,
}

/// Sets a new password with a reset link's token.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    #[schemars(regex(pattern = RESET_TOKEN_PATTERN))]
    pub token: String,
    #[schemars(length(min = PASSWORD_MIN_CHARS, max = PASSWORD_MAX_CHARS))]
    pub password: String,
}

impl std::fmt::Debug for PasswordResetConfirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordResetConfirm(<redacted>)")
    }
}
