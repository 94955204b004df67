//! Checks a channel's settings and secret before they are saved, so a mistake is caught while
//! the person is still at the form, with a stable code and a sentence saying what to do.
//!
//! The API's JSON Schema already bounds lengths and characters; these are the checks a schema
//! cannot make: addresses that parse, a certificate that reads, a webhook address that is really
//! Discord's, a template that is JSON once filled, and secrets that would cross the internet in
//! clear text.

use std::net::IpAddr;
use std::str::FromStr;

use chrono::{TimeZone, Utc};
use keepsake_api::{ChannelSettings, EmailSettings, NtfySettings, Severity, SmtpSecurity, WebhookSettings};
use url::Url;

use crate::{Link, Message, MessageKind, Section, render, tls};

/// Why a channel's settings cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidChannel {
    /// Stable and dotted, for the API's error body: `channel.bad_address`, `channel.bad_ca`,
    /// `channel.bad_url`, `channel.bad_topic`, `channel.bad_discord_url`, `channel.bad_slack_url`,
    /// `channel.bad_template`, `channel.bad_token`, `channel.secret_missing`,
    /// `channel.password_missing`, `channel.username_missing`, `channel.unencrypted_secret`,
    /// `channel.bad_host`, `channel.bad_port`, `channel.no_recipients`.
    pub code: &'static str,
    /// Which setting is wrong: `host`, `port`, `from`, `to`, `extra_ca_pem`, `username`,
    /// `security`, `server`, `topic`, `url`, `template` or `secret`.
    pub field: &'static str,
    /// What is wrong and what to do, for a person.
    pub message: String,
}

fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> InvalidChannel {
    InvalidChannel { code, field, message: message.into() }
}

/// Checks `settings` with the `secret` that will be stored with them (`None` or empty: none).
pub fn validate(settings: &ChannelSettings, secret: Option<&str>) -> Result<(), InvalidChannel> {
    let secret = secret.filter(|s| !s.is_empty());
    match settings {
        ChannelSettings::Email(email) => validate_email(email, secret),
        ChannelSettings::Ntfy(ntfy) => validate_ntfy(ntfy, secret),
        ChannelSettings::Discord(_) => validate_discord(secret),
        ChannelSettings::Slack(_) => validate_slack(secret),
        ChannelSettings::Webhook(hook) => validate_webhook(hook, secret),
    }
}

fn validate_email(email: &EmailSettings, secret: Option<&str>) -> Result<(), InvalidChannel> {
    let host = email.host.trim();
    if host.is_empty() || host.contains(['/', ' ', '@']) || host.starts_with(['.', '-']) {
        return Err(invalid(
            "channel.bad_host",
            "host",
            format!("{:?} is not a server name. Enter only the SMTP server's name, like smtp.example.com.", email.host),
        ));
    }
    if email.port == 0 {
        return Err(invalid("channel.bad_port", "port", "Enter the SMTP server's port: usually 587, 465 or 25."));
    }
    parse_address(&email.from).map_err(|why| {
        invalid(
            "channel.bad_address",
            "from",
            format!("The sender address {:?} {why}. Enter one address, like keepsake@example.com.", email.from),
        )
    })?;
    if email.to.is_empty() {
        return Err(invalid("channel.no_recipients", "to", "Add at least one address to send alerts to."));
    }
    for to in &email.to {
        parse_address(to).map_err(|why| {
            invalid(
                "channel.bad_address",
                "to",
                format!("The recipient address {to:?} {why}. Enter one address per line, like anna@example.com."),
            )
        })?;
    }
    if let Some(pem) = email.extra_ca_pem.as_deref().filter(|p| !p.trim().is_empty()) {
        tls::parse_pem(pem).map_err(|why| {
            invalid(
                "channel.bad_ca",
                "extra_ca_pem",
                format!(
                    "The extra certificate authority cannot be used: {why}. Paste the whole certificate, from \
                     -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----, or leave it empty."
                ),
            )
        })?;
    }
    match (email.username.as_deref().filter(|u| !u.is_empty()), secret) {
        (Some(_), None) => Err(invalid(
            "channel.password_missing",
            "secret",
            "A user name is set but no password. Enter the password, or remove the user name if the server \
             needs no sign-in.",
        )),
        (None, Some(_)) => Err(invalid(
            "channel.username_missing",
            "username",
            "A password is set but no user name. Enter the user name (often the whole email address), or \
             remove the password.",
        )),
        (Some(_), Some(_)) if email.security == SmtpSecurity::None && !is_local_host(host) => Err(invalid(
            "channel.unencrypted_secret",
            "security",
            "Without encryption the password would cross the internet readable by anyone on the way. Choose \
             STARTTLS (port 587) or TLS (port 465).",
        )),
        _ => Ok(()),
    }
}

fn validate_ntfy(ntfy: &NtfySettings, secret: Option<&str>) -> Result<(), InvalidChannel> {
    let url = parse_web_url(&ntfy.server).map_err(|why| {
        invalid(
            "channel.bad_url",
            "server",
            format!("The ntfy server {:?} {why}. Enter its address, like https://ntfy.sh.", ntfy.server),
        )
    })?;
    if ntfy.topic.is_empty()
        || ntfy.topic.len() > 64
        || !ntfy.topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            "channel.bad_topic",
            "topic",
            "An ntfy topic is 1 to 64 letters, digits, - or _. Use the topic your phone's ntfy app subscribes to.",
        ));
    }
    if let Some(token) = secret {
        check_header_token(token, "access token")?;
        check_encrypted(&url, "access token")?;
    }
    Ok(())
}

/// The webhook address of a Discord channel, checked.
pub(crate) fn is_discord_webhook(url: &Url) -> bool {
    let host_ok =
        matches!(url.host_str(), Some("discord.com" | "discordapp.com" | "ptb.discord.com" | "canary.discord.com"));
    let segments: Vec<&str> = url.path_segments().map(|s| s.filter(|p| !p.is_empty()).collect()).unwrap_or_default();
    let rest = match segments.as_slice() {
        ["api", version, rest @ ..] if version.starts_with('v') && version[1..].bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        ["api", rest @ ..] => rest,
        _ => &[][..],
    };
    let path_ok = matches!(rest, ["webhooks", id, token]
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    url.scheme() == "https" && host_ok && path_ok && url.username().is_empty() && url.password().is_none()
}

fn validate_discord(secret: Option<&str>) -> Result<(), InvalidChannel> {
    const HOW: &str = "In Discord, open the server's settings, then Integrations, then Webhooks; create or pick \
                       one and use \"Copy Webhook URL\". It starts with https://discord.com/api/webhooks/.";
    let Some(secret) = secret else {
        return Err(invalid("channel.secret_missing", "secret", format!("Paste the Discord webhook address. {HOW}")));
    };
    match Url::parse(secret.trim()) {
        Ok(url) if is_discord_webhook(&url) => Ok(()),
        _ => Err(invalid("channel.bad_discord_url", "secret", format!("That is not a Discord webhook address. {HOW}"))),
    }
}

pub(crate) fn is_slack_webhook(url: &Url) -> bool {
    let segments: Vec<&str> = url.path_segments().map(|s| s.filter(|p| !p.is_empty()).collect()).unwrap_or_default();
    url.scheme() == "https"
        && url.host_str() == Some("hooks.slack.com")
        && matches!(segments.as_slice(), ["services", a, b, c]
            if [a, b, c].iter().all(|s| s.bytes().all(|b| b.is_ascii_alphanumeric())))
        && url.username().is_empty()
        && url.password().is_none()
}

fn validate_slack(secret: Option<&str>) -> Result<(), InvalidChannel> {
    const HOW: &str = "In Slack, add the \"Incoming Webhooks\" app to the channel and copy its Webhook URL. It \
                       starts with https://hooks.slack.com/services/.";
    let Some(secret) = secret else {
        return Err(invalid("channel.secret_missing", "secret", format!("Paste the Slack webhook address. {HOW}")));
    };
    match Url::parse(secret.trim()) {
        Ok(url) if is_slack_webhook(&url) => Ok(()),
        _ => Err(invalid(
            "channel.bad_slack_url",
            "secret",
            format!("That is not a Slack incoming-webhook address. {HOW}"),
        )),
    }
}

fn validate_webhook(hook: &WebhookSettings, secret: Option<&str>) -> Result<(), InvalidChannel> {
    let url = parse_web_url(&hook.url).map_err(|why| {
        invalid(
            "channel.bad_url",
            "url",
            format!("The address {:?} {why}. Enter the full address, starting with https://.", hook.url),
        )
    })?;
    if let Some(template) = hook.template.as_deref().filter(|t| !t.trim().is_empty()) {
        render::fill_template(template, &sample_message()).map_err(|e| {
            invalid("channel.bad_template", "template", format!("{}.", capitalise_first(&e.to_string())))
        })?;
    }
    if let Some(token) = secret {
        check_header_token(token, "bearer token")?;
        check_encrypted(&url, "bearer token")?;
    }
    Ok(())
}

fn capitalise_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

/// A message with every field set, some with quotes, backslashes, newlines and markup in them,
/// to check that a template stays JSON whatever it is filled with.
pub(crate) fn sample_message() -> Message {
    Message {
        key: "test-1".to_owned(),
        kind: MessageKind::Firing,
        severity: Severity::Warning,
        title: "Container \"immich_server\" restarted 3 times".to_owned(),
        what_happened: "It stopped and started again.\n\nThe last exit code was 1 \\ </script>".to_owned(),
        what_it_means: "Photos may not load for a while.".to_owned(),
        what_to_do: "Nothing yet; if it goes on, restart the box.".to_owned(),
        link: Some(Link { label: "Read more".to_owned(), url: "https://keepsake.local/help/containers".to_owned() }),
        facts: vec![("Container".to_owned(), "immich_server".to_owned())],
        sections: vec![Section { heading: "This week".to_owned(), lines: vec!["3 restarts".to_owned()] }],
        rule: "containers.restarting".to_owned(),
        subject: "immich_server".to_owned(),
        at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap_or_default(),
    }
}

/// A lettre address, or why not.
pub(crate) fn parse_address(s: &str) -> Result<lettre::Address, String> {
    lettre::Address::from_str(s.trim()).map_err(|e| format!("is not an email address ({e})"))
}

/// An `http` or `https` address with a host, no user name or password in it, and no fragment.
pub(crate) fn parse_web_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("is not a web address ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("does not start with https:// or http://".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no server name".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("has a user name or password in it; put a token in the secret instead".to_owned());
    }
    if url.fragment().is_some() {
        return Err("has a # part, which a server never sees".to_owned());
    }
    Ok(url)
}

/// A token that goes in an HTTP header: visible ASCII, no spaces.
fn check_header_token(token: &str, what: &str) -> Result<(), InvalidChannel> {
    if token.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(invalid(
            "channel.bad_token",
            "secret",
            format!("The {what} has spaces or characters a token cannot have. Paste it again, without spaces."),
        ))
    }
}

fn check_encrypted(url: &Url, what: &str) -> Result<(), InvalidChannel> {
    if url.scheme() == "https" || url.host_str().is_some_and(is_local_host) {
        Ok(())
    } else {
        Err(invalid(
            "channel.unencrypted_secret",
            "secret",
            format!(
                "Over http:// the {what} would cross the internet readable by anyone on the way. Use the \
                 https:// address, or remove the {what}."
            ),
        ))
    }
}

/// Whether traffic to `host` stays on this machine or the home network: loopback, private and
/// link-local addresses, single-label names, and `.local`, `.lan`, `.home.arpa`, `.internal`.
pub(crate) fn is_local_host(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00 || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => {
            !host.is_empty()
                && (!host.contains('.')
                    || [".localhost", ".local", ".lan", ".home.arpa", ".internal"].iter().any(|s| host.ends_with(s)))
        }
    }
}

#[cfg(test)]
mod tests;
