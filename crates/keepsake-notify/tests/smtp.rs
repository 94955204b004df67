//! Email against a real SMTP server (aiosmtpd, see `smtp_server.py`): plain, STARTTLS, TLS from
//! the first byte, sign-in, and refusals, checking what arrives and what errors say.

mod common;

use std::time::{Duration, Instant};

use common::{SmtpMode, SmtpServer, TestCa, message, sender, silent_port};
use keepsake_api::{ChannelSettings, EmailSettings, SmtpSecurity};
use keepsake_notify::{ReplyCode, SendError, SendErrorKind, Sent};

const TIMEOUT: Duration = Duration::from_secs(10);

fn settings(host: &str, port: u16, security: SmtpSecurity) -> EmailSettings {
    EmailSettings {
        host: host.to_owned(),
        port,
        security,
        username: None,
        from: "keepsake@family.example".to_owned(),
        to: vec!["anna@family.example".to_owned(), "ben@family.example".to_owned()],
        extra_ca_pem: None,
    }
}

async fn send(email: EmailSettings, secret: Option<&str>) -> Result<Sent, SendError> {
    sender(TIMEOUT).send(&ChannelSettings::Email(email), secret, &message("alert:42/fired 1")).await
}

fn part<'a>(meta: &'a serde_json::Value, content_type: &str) -> &'a str {
    meta["parts"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["type"] == content_type))
        .and_then(|p| p["text"].as_str())
        .unwrap_or_else(|| panic!("no {content_type} part in {meta:#}"))
}

#[tokio::test]
async fn plain_relay_gets_a_multipart_alternative_message() {
    let server = SmtpServer::start(SmtpMode::default());
    let sent = send(settings("127.0.0.1", server.port, SmtpSecurity::None), None).await.expect("sent");
    assert_eq!(sent.detail, "250 2.0.0 Ok: queued as KS0001");

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let (raw, meta) = &messages[0];
    assert_eq!(meta["mail_from"], "keepsake@family.example");
    assert_eq!(meta["rcpt_tos"], serde_json::json!(["anna@family.example", "ben@family.example"]));
    assert_eq!(meta["encrypted"], false);
    assert!(meta["helo"].as_str().is_some_and(|h| !h.is_empty()));

    let headers = &meta["headers"];
    assert_eq!(headers["subject"], "[Keepsake] Critical: Pool tank has checksum errors");
    assert_eq!(headers["message-id"], "<alert=3A42=2Ffired=201@keepsake>");
    assert_eq!(headers["from"], "Keepsake <keepsake@family.example>");
    assert_eq!(headers["auto-submitted"], "auto-generated");
    assert!(raw.contains("Message-ID: <alert=3A42=2Ffired=201@keepsake>\r\n"), "{raw}");
    assert_eq!(meta["content_type"], "multipart/alternative");

    // Decoded by Python's email package; the wire's CRLF line ends stay.
    let text = part(meta, "text/plain").replace("\r\n", "\n");
    assert!(text.lines().any(|l| l == "https://keepsake.local/help/replace-drive?from=alert&id=7"), "{text:?}");
    assert!(text.contains("What to do\nOrder a replacement drive & keep the box on."), "{text}");
    assert!(text.contains("Device: ata-WDC <sda> \"quoted\""), "{text}");

    let html = part(meta, "text/html").replace("\r\n", "\n");
    assert!(html.contains("href=\"https://keepsake.local/help/replace-drive?from=alert&amp;id=7\""), "{html}");
    assert!(html.contains("ata-WDC &lt;sda&gt; &quot;quoted&quot;"), "{html}");
    assert!(html.contains("Order a replacement drive &amp; keep the box on."), "{html}");
    assert!(!html.contains("<sda>"));
}

#[tokio::test]
async fn starttls_with_sign_in_and_the_channels_own_authority() {
    let ca = TestCa::new();
    let server = SmtpServer::start(SmtpMode {
        security: "starttls",
        ca: Some(&ca),
        auth: Some("anna:s3cret pw"),
        ..Default::default()
    });
    let email = EmailSettings {
        username: Some("anna".to_owned()),
        extra_ca_pem: Some(ca.ca_pem.clone()),
        ..settings("127.0.0.1", server.port, SmtpSecurity::Starttls)
    };
    let sent = send(email, Some("s3cret pw")).await.expect("sent");
    assert!(sent.detail.starts_with("250 2.0.0 Ok: queued as"), "{}", sent.detail);
    let (_, meta) = &server.messages()[0];
    assert_eq!(meta["encrypted"], true);
    assert_eq!(meta["login"], "anna");
}

#[tokio::test]
async fn implicit_tls_by_host_name_with_sign_in() {
    let ca = TestCa::new();
    let server =
        SmtpServer::start(SmtpMode { security: "tls", ca: Some(&ca), auth: Some("anna:pw"), ..Default::default() });
    let email = EmailSettings {
        username: Some("anna".to_owned()),
        extra_ca_pem: Some(ca.ca_pem.clone()),
        ..settings("localhost", server.port, SmtpSecurity::Tls)
    };
    send(email, Some("pw")).await.expect("sent");
    let (_, meta) = &server.messages()[0];
    assert_eq!(meta["encrypted"], true);
    assert_eq!(meta["login"], "anna");
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_is_refused() {
    let ca = TestCa::new();
    let server = SmtpServer::start(SmtpMode { security: "tls", ca: Some(&ca), ..Default::default() });
    let e = send(settings("127.0.0.1", server.port, SmtpSecurity::Tls), None).await.expect_err("untrusted");
    assert_eq!(e.kind, SendErrorKind::Tls, "{e}");
    assert!(e.is_permanent());
    let text = e.to_string();
    assert!(text.contains("UnknownIssuer") && text.contains("paste that authority's certificate (PEM)"), "{text}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_certificate_for_another_name_or_from_another_authority_is_refused() {
    let ca = TestCa::for_names(&["mail.test"]);
    let server = SmtpServer::start(SmtpMode { security: "starttls", ca: Some(&ca), ..Default::default() });
    let email = EmailSettings {
        extra_ca_pem: Some(ca.ca_pem.clone()),
        ..settings("127.0.0.1", server.port, SmtpSecurity::Starttls)
    };
    let e = send(email.clone(), None).await.expect_err("wrong name");
    assert_eq!(e.kind, SendErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("certificate not valid for name \"127.0.0.1\""), "{e}");
    assert!(e.to_string().contains("Enter the name the server's certificate is for"), "{e}");

    let other = TestCa::new();
    let server = SmtpServer::start(SmtpMode { security: "starttls", ca: Some(&other), ..Default::default() });
    let email = EmailSettings { port: server.port, ..email };
    let e = send(email, None).await.expect_err("wrong authority");
    assert_eq!(e.kind, SendErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    assert!(e.to_string().contains("paste that authority's certificate"), "{e}");
}

#[tokio::test]
async fn starttls_required_but_not_offered() {
    let server = SmtpServer::start(SmtpMode::default());
    let e = send(settings("127.0.0.1", server.port, SmtpSecurity::Starttls), None).await.expect_err("no starttls");
    assert_eq!(e.kind, SendErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("does not offer STARTTLS"), "{e}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_server_that_requires_starttls_refuses_plain_smtp() {
    let ca = TestCa::new();
    let server = SmtpServer::start(SmtpMode { security: "starttls", ca: Some(&ca), ..Default::default() });
    let e = send(settings("127.0.0.1", server.port, SmtpSecurity::None), None).await.expect_err("needs tls");
    assert_eq!(e.kind, SendErrorKind::Tls, "{e}");
    assert_eq!(e.server_reply.as_deref(), Some("530 Must issue a STARTTLS command first"));
    assert!(e.to_string().contains("Choose STARTTLS"), "{e}");
}

#[tokio::test]
async fn tls_against_a_plain_server_is_a_tls_error_with_a_port_hint() {
    let server = SmtpServer::start(SmtpMode::default());
    let e = send(settings("127.0.0.1", server.port, SmtpSecurity::Tls), None).await.expect_err("not tls");
    assert_eq!(e.kind, SendErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("port 465 is usually TLS"), "{e}");
}

#[tokio::test]
async fn a_wrong_password_is_an_auth_error_with_the_servers_reply() {
    let ca = TestCa::new();
    let server = SmtpServer::start(SmtpMode {
        security: "starttls",
        ca: Some(&ca),
        auth: Some("anna:right"),
        ..Default::default()
    });
    let email = EmailSettings {
        username: Some("anna".to_owned()),
        extra_ca_pem: Some(ca.ca_pem.clone()),
        ..settings("127.0.0.1", server.port, SmtpSecurity::Starttls)
    };
    let e = send(email, Some("wrong")).await.expect_err("bad password");
    assert_eq!(e.kind, SendErrorKind::Auth, "{e}");
    assert_eq!(e.code, Some(ReplyCode::Smtp(535)));
    assert_eq!(e.server_reply.as_deref(), Some("535 5.7.8 Authentication credentials invalid"));
    assert!(e.is_permanent());
    assert!(
        e.to_string()
            .starts_with("the SMTP server refused to sign in: 535 5.7.8 Authentication credentials invalid. Check"),
        "{e}"
    );
}

#[tokio::test]
async fn sign_in_required_but_no_user_name_given() {
    let ca = TestCa::new();
    let server = SmtpServer::start(SmtpMode {
        security: "starttls",
        ca: Some(&ca),
        auth: Some("anna:pw"),
        ..Default::default()
    });
    let email = EmailSettings {
        extra_ca_pem: Some(ca.ca_pem.clone()),
        ..settings("127.0.0.1", server.port, SmtpSecurity::Starttls)
    };
    let e = send(email, None).await.expect_err("needs auth");
    assert_eq!(e.kind, SendErrorKind::Auth, "{e}");
    assert_eq!(e.server_reply.as_deref(), Some("530 5.7.0 Authentication required"));
}

#[tokio::test]
async fn a_refused_recipient_comes_back_verbatim() {
    let server = SmtpServer::start(SmtpMode { reject_rcpt: Some("550 5.7.1 Relaying denied"), ..Default::default() });
    let e = send(settings("127.0.0.1", server.port, SmtpSecurity::None), None).await.expect_err("refused");
    assert_eq!(e.kind, SendErrorKind::Rejected);
    assert_eq!(e.code, Some(ReplyCode::Smtp(550)));
    assert!(e.is_permanent());
    assert!(e.to_string().starts_with("the SMTP server refused the message: 550 5.7.1 Relaying denied. "), "{e}");
}

#[tokio::test]
async fn a_temporary_refusal_is_worth_retrying() {
    let server = SmtpServer::start(SmtpMode { reject_data: Some("451 4.3.0 Try again later"), ..Default::default() });
    let e = send(settings("127.0.0.1", server.port, SmtpSecurity::None), None).await.expect_err("deferred");
    assert_eq!(e.code, Some(ReplyCode::Smtp(451)));
    assert_eq!(e.server_reply.as_deref(), Some("451 4.3.0 Try again later"));
    assert!(!e.is_permanent());
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_bound() {
    let (_listener, port) = silent_port();
    let started = Instant::now();
    let e = sender(Duration::from_millis(500))
        .send(&ChannelSettings::Email(settings("127.0.0.1", port, SmtpSecurity::None)), None, &message("k"))
        .await
        .expect_err("silent");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(e.kind, SendErrorKind::Timeout, "{e}");
    assert!(!e.is_permanent());
}

#[tokio::test]
async fn nobody_listening_is_a_connect_error() {
    let port = {
        let (listener, port) = silent_port();
        drop(listener);
        port
    };
    let e = send(settings("127.0.0.1", port, SmtpSecurity::None), None).await.expect_err("refused");
    assert_eq!(e.kind, SendErrorKind::Connect, "{e}");
    assert!(!e.is_permanent());
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[tokio::test]
async fn settings_that_cannot_work_fail_before_connecting() {
    let (_listener, port) = silent_port();
    let no_password =
        EmailSettings { username: Some("anna".to_owned()), ..settings("127.0.0.1", port, SmtpSecurity::None) };
    assert_eq!(send(no_password, None).await.expect_err("config").kind, SendErrorKind::Config);
    let clear =
        EmailSettings { username: Some("anna".to_owned()), ..settings("smtp.example.com", port, SmtpSecurity::None) };
    let e = send(clear, Some("pw")).await.expect_err("config");
    assert_eq!(e.kind, SendErrorKind::Config);
    assert!(e.to_string().contains("unencrypted"), "{e}");
    let bad_to = EmailSettings { to: vec!["nobody".to_owned()], ..settings("127.0.0.1", port, SmtpSecurity::None) };
    assert_eq!(send(bad_to, None).await.expect_err("config").kind, SendErrorKind::Config);
}
