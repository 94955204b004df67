//! The Discord and Slack payloads: one embed for Discord, Block Kit blocks for Slack, each escaped
//! for its markup and cut to its documented limits on character boundaries.

use serde_json::{Value, json};

use crate::render::{self, footer, headline, is_web_url, one_line, paragraphs, prose, truncate_chars};
use crate::{Message, MessageKind};

// Discord's embed limits (characters).
const DISCORD_TITLE: usize = 256;
const DISCORD_DESCRIPTION: usize = 4096;
const DISCORD_FIELDS: usize = 25;
const DISCORD_FIELD_NAME: usize = 256;
const DISCORD_FIELD_VALUE: usize = 1024;
const DISCORD_FOOTER: usize = 2048;
const DISCORD_TOTAL: usize = 6000;

// Slack's Block Kit limits (characters).
const SLACK_HEADER: usize = 150;
const SLACK_SECTION: usize = 3000;
const SLACK_FIELD: usize = 2000;
const SLACK_FIELDS_PER_SECTION: usize = 10;
const SLACK_BLOCKS: usize = 50;
const SLACK_FALLBACK: usize = 3000;

/// Escapes Discord markdown (`*`, `_`, `~`, `` ` ``, `|`, `>`, `#`, `-`, `[`, `]`, `(`, `)`, `\`)
/// so a value shows as typed.
pub(crate) fn escape_discord(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '-' | '[' | ']' | '(' | ')' | '<' | '@' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A URL that cannot end a markdown link early.
fn link_url(url: &str) -> String {
    url.replace('(', "%28").replace(')', "%29").replace('<', "%3C").replace('>', "%3E").replace('|', "%7C")
}

/// Discord's webhook execute payload: one embed, no mentions.
pub(crate) fn discord_payload(msg: &Message) -> Value {
    let title = truncate_chars(&headline(msg), DISCORD_TITLE);
    let footer_text = truncate_chars(&footer(msg), DISCORD_FOOTER);

    let mut fields: Vec<(String, String, bool)> = Vec::new();
    for (label, value) in &msg.facts {
        fields.push((
            field_text(&one_line(label), DISCORD_FIELD_NAME),
            field_text(&escape_discord(&one_line(value)), DISCORD_FIELD_VALUE),
            true,
        ));
    }
    for section in &msg.sections {
        let lines: Vec<String> = section.lines.iter().map(|l| format!("• {}", escape_discord(&one_line(l)))).collect();
        fields.push((
            field_text(&one_line(&section.heading), DISCORD_FIELD_NAME),
            field_text(&lines.join("\n"), DISCORD_FIELD_VALUE),
            false,
        ));
    }
    fields.truncate(DISCORD_FIELDS);
    let mut used = title.chars().count() + footer_text.chars().count();
    let mut kept = Vec::new();
    for (name, value, inline) in fields {
        let size = name.chars().count() + value.chars().count();
        // Leave room for at least a short description.
        if used + size > DISCORD_TOTAL - 500 {
            break;
        }
        used += size;
        kept.push(json!({ "name": name, "value": value, "inline": inline }));
    }

    let mut description = String::new();
    for (heading, body) in prose(msg) {
        let text: Vec<String> = paragraphs(body).map(escape_discord).collect();
        if heading == "What to do" {
            description.push_str("**What to do**\n");
        }
        description.push_str(&text.join("\n\n"));
        description.push_str("\n\n");
    }
    if let Some(link) = msg.link.as_ref().filter(|l| is_web_url(l.url.trim())) {
        description.push_str(&format!("[{}]({})", escape_discord(&one_line(&link.label)), link_url(link.url.trim())));
    }
    let description = truncate_chars(description.trim_end(), DISCORD_DESCRIPTION.min(DISCORD_TOTAL - used));

    let mut embed = json!({
        "title": title,
        "color": render::color(msg),
        "timestamp": msg.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "footer": { "text": footer_text },
    });
    if !description.is_empty() {
        embed["description"] = Value::String(description);
    }
    if !kept.is_empty() {
        embed["fields"] = Value::Array(kept);
    }
    if let Some(link) = msg.link.as_ref().filter(|l| is_web_url(l.url.trim())) {
        embed["url"] = Value::String(link.url.trim().to_owned());
    }
    json!({
        "username": "Keepsake",
        "allowed_mentions": { "parse": [] },
        "embeds": [embed],
    })
}

/// A field's name or value: one line... or a few, never empty (Discord refuses empty fields).
fn field_text(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.is_empty() { "-".to_owned() } else { truncate_chars(s, max) }
}

/// Escapes the three characters Slack's mrkdwn and plain text need escaped.
pub(crate) fn escape_slack(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn mrkdwn(text: &str) -> Value {
    json!({ "type": "mrkdwn", "text": truncate_chars(text, SLACK_SECTION) })
}

/// Slack's incoming-webhook payload: `text` as the notification fallback, `blocks` for the
/// message itself.
pub(crate) fn slack_payload(msg: &Message) -> Value {
    let headline = headline(msg);
    let mut blocks: Vec<Value> = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate_chars(&headline, SLACK_HEADER), "emoji": true },
    })];
    if msg.kind != MessageKind::Firing || msg.severity != keepsake_api::Severity::Info {
        blocks.push(json!({ "type": "context", "elements": [mrkdwn(&format!("*{}*", render::badge(msg)))] }));
    }
    for (heading, body) in prose(msg) {
        let text: Vec<String> = paragraphs(body).map(escape_slack).collect();
        blocks.push(json!({ "type": "section", "text": mrkdwn(&format!("*{heading}*\n{}", text.join("\n\n"))) }));
    }
    if let Some(link) = msg.link.as_ref().filter(|l| is_web_url(l.url.trim())) {
        let url = escape_slack(&link_url(link.url.trim()));
        blocks.push(
            json!({ "type": "section", "text": mrkdwn(&format!("<{url}|{}>", escape_slack(&one_line(&link.label)))) }),
        );
    }
    for chunk in msg.facts.chunks(SLACK_FIELDS_PER_SECTION) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|(label, value)| {
                let text = format!("*{}*\n{}", escape_slack(&one_line(label)), escape_slack(&one_line(value)));
                json!({ "type": "mrkdwn", "text": truncate_chars(&text, SLACK_FIELD) })
            })
            .collect();
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    for section in &msg.sections {
        let mut text = format!("*{}*", escape_slack(&one_line(&section.heading)));
        for line in &section.lines {
            text.push_str(&format!("\n• {}", escape_slack(&one_line(line))));
        }
        blocks.push(json!({ "type": "section", "text": mrkdwn(&text) }));
    }
    blocks.truncate(SLACK_BLOCKS - 1);
    blocks.push(json!({ "type": "context", "elements": [mrkdwn(&escape_slack(&footer(msg)))] }));
    json!({
        "text": truncate_chars(&escape_slack(&headline), SLACK_FALLBACK),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::validate::sample_message;

    fn chars(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    #[test]
    fn discord_keeps_every_limit_with_huge_multibyte_input() {
        let mut msg = sample_message();
        msg.title = "é".repeat(1000);
        msg.what_happened = "日本".repeat(5000);
        msg.facts = (0..40).map(|i| (format!("label {i} {}", "ß".repeat(300)), "ü".repeat(2000))).collect();
        let payload = discord_payload(&msg);
        let embed = &payload["embeds"][0];
        assert!(chars(&embed["title"]) <= DISCORD_TITLE);
        assert!(chars(&embed["description"]) <= DISCORD_DESCRIPTION);
        let fields = embed["fields"].as_array().expect("fields");
        assert!(fields.len() <= DISCORD_FIELDS);
        let mut total = chars(&embed["title"]) + chars(&embed["description"]) + chars(&embed["footer"]["text"]);
        for f in fields {
            assert!(chars(&f["name"]) <= DISCORD_FIELD_NAME);
            assert!(chars(&f["value"]) <= DISCORD_FIELD_VALUE);
            assert!(chars(&f["name"]) > 0 && chars(&f["value"]) > 0);
            total += chars(&f["name"]) + chars(&f["value"]);
        }
        assert!(total <= DISCORD_TOTAL, "{total}");
        assert!(embed["title"].as_str().unwrap_or_default().ends_with('…'));
    }

    #[test]
    fn discord_pings_nobody_and_escapes_markdown() {
        let mut msg = sample_message();
        msg.what_happened = "@everyone **bold** [x](https://evil.example)".to_owned();
        let payload = discord_payload(&msg);
        assert_eq!(payload["allowed_mentions"], json!({ "parse": [] }));
        let description = payload["embeds"][0]["description"].as_str().unwrap_or_default();
        assert!(description.contains(r"\@everyone \*\*bold\*\* \[x\]\(https\:"), "{description}");
        assert!(description.contains("[Read more](https://keepsake.local/help/containers)"), "{description}");
    }

    #[test]
    fn slack_escapes_and_stays_within_limits() {
        let mut msg = sample_message();
        msg.title = "<!channel> & <@U123>".to_owned();
        msg.what_happened = "a < b && c > d\n\n".repeat(400);
        msg.facts = (0..23).map(|i| (format!("k{i}"), "<v>".to_owned())).collect();
        msg.sections =
            (0..60).map(|i| crate::Section { heading: format!("s{i}"), lines: vec!["x".to_owned()] }).collect();
        let payload = slack_payload(&msg);
        assert_eq!(payload["text"], "&lt;!channel&gt; &amp; &lt;@U123&gt;");
        let blocks = payload["blocks"].as_array().expect("blocks");
        assert!(blocks.len() <= SLACK_BLOCKS);
        assert_eq!(blocks[0]["type"], "header");
        assert!(chars(&blocks[0]["text"]["text"]) <= SLACK_HEADER);
        for block in blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= SLACK_SECTION);
                if block["type"] == "section" {
                    assert!(!text.contains("<!") && !text.contains("&&"), "{text}");
                }
            }
            if let Some(fields) = block["fields"].as_array() {
                assert!(fields.len() <= SLACK_FIELDS_PER_SECTION);
            }
        }
        assert_eq!(blocks.last().map(|b| b["type"].clone()), Some(json!("context")));
    }

    #[test]
    fn slack_link_cannot_break_out_of_its_brackets() {
        let mut msg = sample_message();
        msg.link = Some(crate::Link { label: "a|b>c".to_owned(), url: "https://x.example/p?a=1&b=<2>|3".to_owned() });
        let payload = slack_payload(&msg);
        let link = payload["blocks"]
            .as_array()
            .and_then(|b| b.iter().find_map(|b| b["text"]["text"].as_str().filter(|t| t.starts_with('<'))))
            .unwrap_or_default()
            .to_owned();
        assert_eq!(link, "<https://x.example/p?a=1&amp;b=%3C2%3E%7C3|a|b&gt;c>");
    }
}
