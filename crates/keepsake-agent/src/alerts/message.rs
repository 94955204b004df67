//! The words of each message: an alert's firing or resolution, a channel's test, the weekly
//! summary. A [`Draft`] is what the delivery queue stores (as JSON) and what the channel crate
//! renders; it carries no secret, because it sits in the database until sent.

use chrono::{DateTime, Utc};
use keepsake_api::{AlertState, Severity};
use serde::{Deserialize, Serialize};

use super::rules::Rule;
use crate::store::AlertRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftKind {
    Firing,
    Resolved,
    Summary,
    Test,
}

/// A message as queued, before a channel renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// The notification's idempotency key (also the email's Message-ID).
    pub key: String,
    pub kind: DraftKind,
    pub severity: Severity,
    pub title: String,
    pub what_happened: String,
    pub what_it_means: String,
    pub what_to_do: String,
    pub link: Option<(String, String)>,
    pub facts: Vec<(String, String)>,
    pub sections: Vec<(String, Vec<String>)>,
    pub rule: String,
    pub subject: String,
    pub at: DateTime<Utc>,
}

/// The dashboard's address for links in messages: its first public origin.
pub fn dashboard(origin: Option<&url::Url>) -> String {
    origin.map(|o| o.as_str().trim_end_matches('/').to_owned()).unwrap_or_else(|| "https://immich.local".into())
}

/// Where the dashboard shows a knowledge-base page (`docs/kb/{page}.md`): `{origin}/help/{page}`.
pub fn help_link(origin: Option<&url::Url>, page: &str) -> (String, String) {
    (format!("Help: {}", page.replace('-', " ")), format!("{}/help/{page}", dashboard(origin)))
}

/// The message for an alert's latest change.
pub fn for_alert(key: String, rule: &Rule, alert: &AlertRow, origin: Option<&url::Url>) -> Draft {
    let resolved = alert.state == AlertState::Resolved;
    Draft {
        key,
        kind: if resolved { DraftKind::Resolved } else { DraftKind::Firing },
        severity: if resolved { Severity::Info } else { alert.severity },
        title: alert.title.clone(),
        what_happened: if resolved { format!("{} {}", alert.title, "— resolved.") } else { alert.message.clone() },
        what_it_means: if resolved { rule.resolved.to_owned() } else { rule.meaning.to_owned() },
        what_to_do: if resolved { "Nothing; this is for your information.".to_owned() } else { rule.todo.to_owned() },
        link: rule.help.map(|p| help_link(origin, p)),
        facts: alert.facts.clone(),
        sections: Vec::new(),
        rule: rule.id.to_owned(),
        subject: alert.subject.clone(),
        at: alert.changed_at,
    }
}

/// The message a channel's "send test" sends.
pub fn test(key: String, channel: &str, origin: Option<&url::Url>) -> Draft {
    Draft {
        key,
        kind: DraftKind::Test,
        severity: Severity::Info,
        title: format!("Test message for {channel}"),
        what_happened: format!("Someone pressed \"Send test\" for the channel {channel} on the Keepsake dashboard."),
        what_it_means: "Alerts sent to this channel will reach you.".into(),
        what_to_do: "Nothing.".into(),
        link: Some(("Keepsake help".into(), format!("{}/help", dashboard(origin)))),
        facts: Vec::new(),
        sections: Vec::new(),
        rule: "test".into(),
        subject: channel.to_owned(),
        at: Utc::now(),
    }
}
