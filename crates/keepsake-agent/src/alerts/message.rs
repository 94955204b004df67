//! The words of each message: an alert's firing or resolution, a channel's test, the weekly
//! summary, as the channel crate's [`Message`]. The delivery queue stores that message (as JSON)
//! until it is sent; it carries no secret, because it sits in the database until then.

use chrono::Utc;
use keepsake_api::{AlertState, Severity};
use keepsake_notify::{Link, Message, MessageKind};

use super::rules::Rule;
use crate::store::AlertRow;

/// The dashboard's address for links in messages: its first public origin.
pub fn dashboard(origin: Option<&url::Url>) -> String {
    origin.map(|o| o.as_str().trim_end_matches('/').to_owned()).unwrap_or_else(|| "https://immich.local".into())
}

/// Where the dashboard shows a knowledge-base page (`docs/kb/{page}.md`): `{origin}/help/{page}`.
pub fn help_link(origin: Option<&url::Url>, page: &str) -> Link {
    Link { label: format!("Help: {}", page.replace('-', " ")), url: format!("{}/help/{page}", dashboard(origin)) }
}

/// The message for an alert's latest change.
pub fn for_alert(key: String, rule: &Rule, alert: &AlertRow, origin: Option<&url::Url>) -> Message {
    let resolved = alert.state == AlertState::Resolved;
    Message {
        key,
        kind: if resolved { MessageKind::Resolved } else { MessageKind::Firing },
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
pub fn test(key: String, channel: &str, origin: Option<&url::Url>) -> Message {
    Message {
        key,
        kind: MessageKind::Test,
        severity: Severity::Info,
        title: format!("Test message for {channel}"),
        what_happened: format!("Someone pressed \"Send test\" for the channel {channel} on the Keepsake dashboard."),
        what_it_means: "Alerts sent to this channel will reach you.".into(),
        what_to_do: "Nothing.".into(),
        link: Some(Link { label: "Keepsake help".into(), url: format!("{}/help", dashboard(origin)) }),
        facts: Vec::new(),
        sections: Vec::new(),
        rule: "test".into(),
        subject: channel.to_owned(),
        at: Utc::now(),
    }
}
