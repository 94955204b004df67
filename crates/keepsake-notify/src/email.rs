//! Email over SMTP with lettre: builds the `multipart/alternative` message, connects with the
//! channel's security (STARTTLS required, TLS from the first byte, or none), signs in, sends, and
//! turns lettre's errors into [`SendError`]s that keep the server's reply code and text.

use std::time::Duration;

use keepsake_api::{EmailSettings, SmtpSecurity};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::error::{ReplyCode, SendError, SendErrorKind, certificate_hint, chain, find_source};
use crate::sender::{Sender, Sent};
use crate::validate::{is_local_host, parse_address};
use crate::{Message, render, tls};

/// The `Message-ID` of a message with this key: `<{key}@keepsake>`, the key written with only
/// letters, digits, `-` and `_`; every other byte becomes `=XX` (hex), so different keys always
/// give different ids and the result is a valid RFC 5322 msg-id.
pub fn message_id(key: &str) -> String {
    let mut local = encode_key(key);
    if local.is_empty() {
        local.push_str("empty");
    }
    format!("<{local}@keepsake>")
}

/// The key with only letters, digits, `-` and `_`; every other byte as `=XX`. Injective.
pub(crate) fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// `Auto-Submitted: auto-generated` (RFC 3834): no vacation replies to an alert.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// The email as it goes on the wire.
pub(crate) fn build(settings: &EmailSettings, msg: &Message) -> Result<lettre::Message, SendError> {
    let from = parse_address(&settings.from).map_err(|why| {
        SendError::config(
            format!("the sender address {:?} {why}", settings.from),
            "Correct the channel's sender address.",
        )
    })?;
    let mut builder = lettre::Message::builder()
        .from(Mailbox::new(Some("Keepsake".to_owned()), from))
        .subject(render::subject(msg))
        .message_id(Some(message_id(&msg.key)))
        .header(AutoSubmitted);
    if settings.to.is_empty() {
        return Err(SendError::config("the channel has no recipient", "Add at least one address to send to."));
    }
    for to in &settings.to {
        let address = parse_address(to).map_err(|why| {
            SendError::config(format!("the recipient address {to:?} {why}"), "Correct the channel's recipients.")
        })?;
        builder = builder.to(Mailbox::new(None, address));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(render::text(msg), render::html(msg)))
        .map_err(|e| SendError::config(format!("the email cannot be built: {e}"), "This is a bug in Keepsake."))
}

/// The name this machine greets the server with (EHLO): its host name if that is a valid
/// domain, else the address literal `[127.0.0.1]`.
fn hello_name() -> ClientId {
    match ClientId::default() {
        ClientId::Domain(name)
            if !name.is_empty()
                && name.len() <= 253
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !name.starts_with(['-', '.']) =>
        {
            ClientId::Domain(name)
        }
        _ => ClientId::Ipv4(std::net::Ipv4Addr::LOCALHOST),
    }
}

/// The TLS parameters for `host`: the system's roots (or Mozilla's) plus the channel's own.
fn tls_parameters(sender: &Sender, settings: &EmailSettings) -> Result<TlsParameters, SendError> {
    let mut builder = TlsParameters::builder(settings.host.clone());
    builder = if sender.roots.is_empty() {
        builder.certificate_store(CertificateStore::WebpkiRoots)
    } else {
        let mut b = builder.certificate_store(CertificateStore::None);
        for der in sender.roots.iter() {
            if let Ok(cert) = Certificate::from_der(der.to_vec()) {
                b = b.add_root_certificate(cert);
            }
        }
        b
    };
    if let Some(pem) = settings.extra_ca_pem.as_deref().filter(|p| !p.trim().is_empty()) {
        let certs = tls::parse_pem(pem).map_err(|why| {
            SendError::config(
                format!("the channel's extra certificate authority cannot be used: {why}"),
                "Paste the authority's certificate in PEM form, or remove it.",
            )
        })?;
        for der in certs {
            let cert = Certificate::from_der(der.to_vec()).map_err(|e| {
                SendError::config(format!("the channel's extra certificate authority cannot be used: {e}"), "")
            })?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build_rustls().map_err(|e| {
        SendError::new(SendErrorKind::Tls, format!("cannot set up TLS for {}: {}", settings.host, chain(&e)), "")
    })
}

fn transport(
    sender: &Sender,
    settings: &EmailSettings,
    secret: Option<&str>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
        .port(settings.port)
        .timeout(Some(sender.timeout))
        .hello_name(hello_name());
    builder = match settings.security {
        SmtpSecurity::None => builder.tls(Tls::None),
        SmtpSecurity::Starttls => builder.tls(Tls::Required(tls_parameters(sender, settings)?)),
        SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls_parameters(sender, settings)?)),
    };
    match (settings.username.as_deref().filter(|u| !u.is_empty()), secret) {
        (Some(user), Some(password)) => {
            if settings.security == SmtpSecurity::None && !is_local_host(&settings.host) {
                return Err(SendError::config(
                    "the password would cross the network unencrypted",
                    "Choose STARTTLS or TLS, or remove the user name if the server needs no sign-in.",
                ));
            }
            builder = builder
                .credentials(Credentials::new(user.to_owned(), password.to_owned()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        (Some(_), None) => {
            return Err(SendError::config(
                "the channel has a user name but no password",
                "Enter the password, or remove the user name if the server needs no sign-in.",
            ));
        }
        (None, Some(_)) => {
            return Err(SendError::config(
                "the channel has a password but no user name",
                "Enter the user name, or remove the password.",
            ));
        }
        (None, None) => {}
    }
    Ok(builder.build())
}

pub(crate) async fn send(
    sender: &Sender,
    settings: &EmailSettings,
    secret: Option<&str>,
    msg: &Message,
) -> Result<Sent, SendError> {
    let email = build(settings, msg)?;
    let transport = transport(sender, settings, secret)?;
    let reply = match tokio::time::timeout(sender.timeout, transport.send(email)).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return Err(map_error(&e, settings, sender.timeout)),
        Err(_) => return Err(timeout_error(settings, sender.timeout)),
    };
    let text: Vec<&str> = reply.message().collect();
    Ok(Sent { detail: format!("{} {}", reply.code(), text.join(" ")).trim_end().to_owned() })
}

fn server(settings: &EmailSettings) -> String {
    if settings.host.contains(':') {
        format!("[{}]:{}", settings.host, settings.port)
    } else {
        format!("{}:{}", settings.host, settings.port)
    }
}

const PORT_HINT: &str = "Check the port and security: port 465 is usually TLS, 587 STARTTLS, and 25 none.";

fn timeout_error(settings: &EmailSettings, timeout: Duration) -> SendError {
    SendError::new(
        SendErrorKind::Timeout,
        format!("the SMTP server {} did not answer within {} seconds", server(settings), timeout.as_secs_f32()),
        format!("{PORT_HINT} If they are right, the server may be down."),
    )
}

/// Turns a lettre error into a [`SendError`], keeping an SMTP reply's code and text verbatim.
fn map_error(e: &lettre::transport::smtp::Error, settings: &EmailSettings, timeout: Duration) -> SendError {
    let detail = std::error::Error::source(e).map_or_else(|| e.to_string(), chain);
    if let Some(code) = e.status() {
        let number: u16 = code.to_string().parse().unwrap_or(0);
        let reply = format!("{code} {detail}").trim_end().to_owned();
        let reply_code = Some(ReplyCode::Smtp(number));
        let lower = detail.to_ascii_lowercase();
        let error = if lower.contains("starttls") {
            SendError::new(
                SendErrorKind::Tls,
                "the SMTP server wants an encrypted connection",
                "Choose STARTTLS (port 587) or TLS (port 465) as the security.",
            )
        } else if number == 535 || number == 534 || (number == 530 && lower.contains("auth")) || number == 538 {
            SendError::new(
                SendErrorKind::Auth,
                "the SMTP server refused to sign in",
                "Check the user name and password. Some providers (Gmail, Outlook, iCloud) need an app password \
                 made for this purpose instead of the account's password.",
            )
        } else if number >= 500 {
            SendError::new(
                SendErrorKind::Rejected,
                "the SMTP server refused the message",
                "Check the sender and recipient addresses, and that this server lets this account send from the \
                 sender address.",
            )
        } else {
            SendError::new(
                SendErrorKind::Rejected,
                "the SMTP server could not take the message now",
                "This is usually temporary.",
            )
        };
        return error.with_reply(reply_code, reply);
    }
    if e.is_timeout() {
        return timeout_error(settings, timeout);
    }
    if e.is_tls() || find_source::<rustls::Error>(e).is_some() {
        let hint = find_source::<rustls::Error>(e).and_then(certificate_hint).unwrap_or(PORT_HINT);
        return SendError::new(
            SendErrorKind::Tls,
            format!("the secure connection to {} failed ({detail})", server(settings)),
            hint,
        );
    }
    if e.is_client() {
        let lower = detail.to_ascii_lowercase();
        if lower.contains("starttls") {
            return SendError::new(
                SendErrorKind::Tls,
                format!("the SMTP server {} does not offer STARTTLS", server(settings)),
                "Choose TLS if the port is 465; choose none only for a relay on this machine or network.",
            );
        }
        if lower.contains("authentication") || lower.contains("credentials") {
            return SendError::new(
                SendErrorKind::Auth,
                format!("cannot sign in to the SMTP server {} ({detail})", server(settings)),
                "The server offers no sign-in method Keepsake knows (PLAIN, LOGIN); remove the user name if it \
                 needs none, or use another server.",
            );
        }
        return SendError::new(
            SendErrorKind::Protocol,
            format!("sending to {} failed ({detail})", server(settings)),
            "",
        );
    }
    if e.is_response() {
        return SendError::new(
            SendErrorKind::Protocol,
            format!("the answer from {} is not SMTP ({detail})", server(settings)),
            PORT_HINT,
        );
    }
    SendError::new(
        SendErrorKind::Connect,
        format!("could not connect to the SMTP server {} ({detail})", server(settings)),
        "Check the server name and port, and that this box can reach the internet.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_keeps_safe_keys_and_encodes_the_rest_injectively() {
        assert_eq!(message_id("alert-17_fired-3"), "<alert-17_fired-3@keepsake>");
        assert_eq!(message_id("a:b c"), "<a=3Ab=20c@keepsake>");
        assert_ne!(message_id("a:b"), message_id("a=3Ab"));
        assert_eq!(message_id("<x>@y"), "<=3Cx=3E=40y@keepsake>");
        assert_eq!(message_id(""), "<empty@keepsake>");
        assert_eq!(message_id("é"), "<=C3=A9@keepsake>");
    }
}
