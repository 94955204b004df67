//! How a [`Message`] reads: the subject line, the plain text and the HTML of an email (also the
//! text the push and chat channels start from), and the generic webhook's template.
//!
//! Every value is plain text from the caller and may come from the system (a container's name),
//! so each format escapes it: HTML entities here, JSON string escaping in templates, and the chat
//! payloads their own markup (`chat.rs`).

use std::fmt::Write as _;

use keepsake_api::Severity;
use serde_json::Value;

use crate::{Message, MessageKind};

/// The placeholders a webhook template may use, each filled with a JSON string.
pub const PLACEHOLDERS: &[&str] = &[
    "title",
    "state",
    "severity",
    "summary",
    "what_happened",
    "what_it_means",
    "what_to_do",
    "link",
    "link_label",
    "text",
    "rule",
    "subject",
    "at",
    "key",
];

const SUBJECT_MAX_CHARS: usize = 200;

/// The email subject: `[Keepsake] {title}`, with `Resolved: ` for a resolved alert and
/// `Critical: ` for a critical one firing. Always one line.
pub fn subject(msg: &Message) -> String {
    let title = truncate_chars(&one_line(&msg.title), SUBJECT_MAX_CHARS);
    match (msg.kind, msg.severity) {
        (MessageKind::Resolved, _) => format!("[Keepsake] Resolved: {title}"),
        (MessageKind::Firing, Severity::Critical) => format!("[Keepsake] Critical: {title}"),
        _ => format!("[Keepsake] {title}"),
    }
}

/// The subject without `[Keepsake] `: the title line of push and chat messages.
pub fn headline(msg: &Message) -> String {
    subject(msg).trim_start_matches("[Keepsake] ").to_owned()
}

/// The plain-text body: title, what happened, what it means, what to do, the link as a full URL
/// on its own line, the facts, the sections, and a footer.
pub fn text(msg: &Message) -> String {
    let mut out = one_line(&msg.title);
    out.push_str("\n\n");
    out.push_str(&body_text(msg));
    out.push_str("\n-- \n");
    out.push_str(&footer(msg));
    out.push('\n');
    out
}

/// The text between the title and the footer; also the push message and `{{text}}`.
pub(crate) fn body_text(msg: &Message) -> String {
    let mut out = String::new();
    for (heading, body) in prose(msg) {
        let _ = write!(out, "{heading}\n{}\n\n", body.trim());
    }
    if let Some(link) = &msg.link {
        let _ = write!(out, "{}:\n{}\n\n", one_line(&link.label), link.url.trim());
    }
    if !msg.facts.is_empty() {
        out.push_str("Details\n");
        for (label, value) in &msg.facts {
            let _ = writeln!(out, "{}: {}", one_line(label), one_line(value));
        }
        out.push('\n');
    }
    for section in &msg.sections {
        let _ = writeln!(out, "{}", one_line(&section.heading));
        for line in &section.lines {
            let _ = writeln!(out, "- {}", one_line(line));
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// The three prose parts that are not empty, with their headings.
pub(crate) fn prose(msg: &Message) -> Vec<(&'static str, &str)> {
    [("What happened", &msg.what_happened), ("What it means", &msg.what_it_means), ("What to do", &msg.what_to_do)]
        .into_iter()
        .filter(|(_, body)| !body.trim().is_empty())
        .map(|(heading, body)| (heading, body.as_str()))
        .collect()
}

/// One line saying who sent this, when, and for which rule.
pub(crate) fn footer(msg: &Message) -> String {
    let mut out = format!("Sent by Keepsake on {} UTC", msg.at.format("%Y-%m-%d %H:%M"));
    match (one_line(&msg.rule), one_line(&msg.subject)) {
        (rule, subject) if !rule.is_empty() && !subject.is_empty() => {
            let _ = write!(out, " (rule {rule}, {subject})");
        }
        (rule, _) if !rule.is_empty() => {
            let _ = write!(out, " (rule {rule})");
        }
        _ => {}
    }
    out.push('.');
    out
}

/// A word or two above the title: what kind of message this is.
pub(crate) fn badge(msg: &Message) -> &'static str {
    match msg.kind {
        MessageKind::Firing => match msg.severity {
            Severity::Critical => "Critical",
            Severity::Warning => "Warning",
            Severity::Info => "Notice",
        },
        MessageKind::Resolved => "Resolved",
        MessageKind::Summary => "Weekly summary",
        MessageKind::Test => "Test message",
        MessageKind::PasswordReset => "Password reset",
    }
}

/// The accent colour (RGB) of a message: red, amber or blue by severity while firing, green
/// when resolved, blue otherwise.
pub(crate) fn color(msg: &Message) -> u32 {
    match msg.kind {
        MessageKind::Firing => match msg.severity {
            Severity::Critical => 0xB9_1C_1C,
            Severity::Warning => 0xB4_53_09,
            Severity::Info => 0x1D_4E_D8,
        },
        MessageKind::Resolved => 0x15_80_3D,
        _ => 0x1D_4E_D8,
    }
}

/// The HTML body: the same parts as [`text`], every value escaped, inline styles only, no
/// external resources (no images, fonts or style sheets), so it looks the same offline.
pub fn html(msg: &Message) -> String {
    let color = format!("#{:06x}", color(msg));
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{subject}</title></head>\n\
         <body style=\"margin:0;padding:0;background:#f4f4f5;\">\n\
         <div style=\"max-width:600px;margin:0 auto;padding:24px 12px;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#18181b;\">\n\
         <div style=\"background:#ffffff;border-radius:8px;border-top:6px solid {color};padding:24px;\">\n\
         <p style=\"margin:0 0 4px;font-size:13px;font-weight:bold;text-transform:uppercase;letter-spacing:0.05em;color:{color};\">{badge}</p>\n\
         <h1 style=\"margin:0 0 16px;font-size:22px;line-height:1.3;\">{title}</h1>\n",
        subject = escape_html(&subject(msg)),
        badge = badge(msg),
        title = escape_html(&one_line(&msg.title)),
    );
    for (heading, body) in prose(msg) {
        let _ = writeln!(out, "<h2 style=\"{H2}\">{heading}</h2>");
        for paragraph in paragraphs(body) {
            let lines: Vec<String> = paragraph.lines().map(escape_html).collect();
            let _ = writeln!(out, "<p style=\"margin:0 0 12px;\">{}</p>", lines.join("<br>"));
        }
    }
    if let Some(link) = &msg.link {
        let url = link.url.trim();
        let label = escape_html(&one_line(&link.label));
        if is_web_url(url) {
            let _ = writeln!(
                out,
                "<p style=\"margin:20px 0 4px;\"><a href=\"{href}\" style=\"display:inline-block;background:{color};color:#ffffff;padding:10px 16px;border-radius:6px;text-decoration:none;font-weight:bold;\">{label}</a></p>\n\
                 <p style=\"margin:0 0 12px;font-size:13px;color:#52525b;word-break:break-all;\">{text}</p>",
                href = escape_html(url),
                text = escape_html(url),
            );
        } else {
            let _ = writeln!(out, "<p style=\"margin:20px 0 12px;\">{label}: {}</p>", escape_html(url));
        }
    }
    if !msg.facts.is_empty() {
        let _ = writeln!(
            out,
            "<h2 style=\"{H2}\">Details</h2>\n<table style=\"border-collapse:collapse;margin:0 0 12px;\">"
        );
        for (label, value) in &msg.facts {
            let _ = writeln!(
                out,
                "<tr><td style=\"padding:2px 16px 2px 0;color:#52525b;vertical-align:top;\">{}</td>\
                 <td style=\"padding:2px 0;vertical-align:top;word-break:break-word;\">{}</td></tr>",
                escape_html(&one_line(label)),
                escape_html(&one_line(value)),
            );
        }
        out.push_str("</table>\n");
    }
    for section in &msg.sections {
        let _ = writeln!(out, "<h2 style=\"{H2}\">{}</h2>", escape_html(&one_line(&section.heading)));
        if !section.lines.is_empty() {
            out.push_str("<ul style=\"margin:0 0 12px;padding-left:20px;\">\n");
            for line in &section.lines {
                let _ = writeln!(out, "<li>{}</li>", escape_html(&one_line(line)));
            }
            out.push_str("</ul>\n");
        }
    }
    let _ = write!(
        out,
        "</div>\n<p style=\"margin:12px 0 0;font-size:12px;color:#71717a;text-align:center;\">{}</p>\n</div>\n</body></html>\n",
        escape_html(&footer(msg)),
    );
    out
}

const H2: &str = "margin:20px 0 6px;font-size:15px;font-weight:bold;color:#3f3f46;";

/// Fills a webhook template: each `{{name}}` becomes the value as JSON. Inside a JSON string
/// (`"Alert: {{title}}"`) only the escaped characters go in; outside one (`{"t": {{title}}}`) a
/// whole quoted string does. Either way a value cannot end the string it is in, so a `"` or a
/// newline in a container's name cannot add fields. The result must be JSON.
pub fn fill_template(template: &str, msg: &Message) -> Result<Value, TemplateError> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < template.len() {
        let rest = &template[i..];
        if rest.starts_with("{{") {
            let close = rest.find("}}").ok_or(TemplateError::Unclosed { offset: i })?;
            let name = rest[2..close].trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(TemplateError::Unclosed { offset: i });
            }
            if escaped {
                return Err(TemplateError::AfterBackslash { offset: i });
            }
            let value = placeholder(name, msg).ok_or_else(|| TemplateError::Unknown { name: name.to_owned() })?;
            let quoted = Value::String(value).to_string();
            out.push_str(if in_string { &quoted[1..quoted.len() - 1] } else { &quoted });
            i += close + 2;
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8();
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
    }
    serde_json::from_str(&out).map_err(|e| TemplateError::NotJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })
}

/// The value of one template placeholder, or `None` for a name not in [`PLACEHOLDERS`].
fn placeholder(name: &str, msg: &Message) -> Option<String> {
    let joined =
        |parts: &[&str]| parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n");
    Some(match name {
        "title" => one_line(&msg.title),
        "state" => msg.kind.as_str().to_owned(),
        "severity" => severity_str(msg.severity).to_owned(),
        "summary" => joined(&[&msg.what_happened, &msg.what_it_means]),
        "what_happened" => msg.what_happened.trim().to_owned(),
        "what_it_means" => msg.what_it_means.trim().to_owned(),
        "what_to_do" => msg.what_to_do.trim().to_owned(),
        "link" => msg.link.as_ref().map(|l| l.url.trim().to_owned()).unwrap_or_default(),
        "link_label" => msg.link.as_ref().map(|l| one_line(&l.label)).unwrap_or_default(),
        "text" => body_text(msg).trim_end().to_owned(),
        "rule" => msg.rule.clone(),
        "subject" => msg.subject.clone(),
        "at" => msg.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "key" => msg.key.clone(),
        _ => return None,
    })
}

pub(crate) fn severity_str(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// Why a webhook template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template uses {{{{{name}}}}}, which Keepsake does not know; the placeholders are {}", known())]
    Unknown { name: String },
    #[error("the template has a \"{{{{\" at character {offset} that is not a placeholder like {{{{title}}}}")]
    Unclosed { offset: usize },
    #[error("the placeholder at character {offset} follows a backslash; remove the backslash")]
    AfterBackslash { offset: usize },
    #[error("the template is not JSON once filled in (line {line}, column {column}): {reason}")]
    NotJson { line: usize, column: usize, reason: String },
}

fn known() -> String {
    PLACEHOLDERS.iter().map(|p| format!("{{{{{p}}}}}")).collect::<Vec<_>>().join(", ")
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text on one line: control characters (newlines, tabs) become spaces, runs of spaces one,
/// and the ends are trimmed.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if !(c == ' ' && (out.is_empty() || out.ends_with(' '))) {
            out.push(c);
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// At most `max` characters; a cut text ends with `…` (which counts in the `max`).
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let keep = max.saturating_sub(1);
    let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    let mut out = s[..end].trim_end().to_owned();
    if max > 0 {
        out.push('…');
    }
    out
}

/// At most `max` bytes of UTF-8, cut on a character boundary; a cut text ends with `…`.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s[..end].to_owned();
    if max >= '…'.len_utf8() {
        out.push('…');
    }
    out
}

/// Paragraphs of a prose part: split on blank lines, trimmed, empty ones dropped.
pub(crate) fn paragraphs(s: &str) -> impl Iterator<Item = &str> {
    s.split("\n\n").map(str::trim).filter(|p| !p.is_empty())
}

/// Whether a link may be a clickable `href`: only `http` and `https` (never `javascript:`).
pub(crate) fn is_web_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")) && !url.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests;
