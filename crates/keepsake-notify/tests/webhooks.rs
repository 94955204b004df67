//! ntfy, Discord, Slack and the generic webhook against a real HTTP server on loopback that
//! records each request and answers as the real services do, checking the payloads' documented
//! shapes, the headers, and that a refusal's exact words reach the error.

mod common;

use std::time::{Duration, Instant};

use common::{Receiver, Reply, SmtpMode, SmtpServer, TestCa, message, sender, silent_port};
use keepsake_api::{ChannelSettings, ChatWebhookSettings, NtfySettings, WebhookSettings};
use keepsake_notify::{Message, ReplyCode, SendError, SendErrorKind, Sent};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(10);
const KEY: &str = "alert-42-fired-1";

async fn send(settings: &ChannelSettings, secret: Option<&str>) -> Result<Sent, SendError> {
    sender(TIMEOUT).send(settings, secret, &message(KEY)).await
}

fn ntfy(server: &str) -> ChannelSettings {
    ChannelSettings::Ntfy(NtfySettings { server: server.to_owned(), topic: "family-photos".to_owned() })
}

fn discord() -> ChannelSettings {
    ChannelSettings::Discord(ChatWebhookSettings {})
}

fn slack() -> ChannelSettings {
    ChannelSettings::Slack(ChatWebhookSettings {})
}

fn webhook(url: &str, template: Option<&str>) -> ChannelSettings {
    ChannelSettings::Webhook(WebhookSettings { url: url.to_owned(), template: template.map(str::to_owned) })
}

fn assert_string(v: &Value, what: &str) -> String {
    v.as_str().unwrap_or_else(|| panic!("{what} is not a string: {v}")).to_owned()
}

#[tokio::test]
async fn ntfy_json_publish_with_token_and_idempotency_key() {
    let server = Receiver::start(Reply::with_body(200, r#"{"id":"x1","event":"message"}"#)).await;
    let sent = send(&ntfy(&format!("{}/ntfy", server.base)), Some("tk_abc123")).await.expect("sent");
    assert_eq!(sent.detail, "HTTP 200 OK");

    let request = server.only();
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/ntfy/"));
    assert_eq!(request.header("authorization"), Some("Bearer tk_abc123"));
    assert_eq!(request.header("idempotency-key"), Some(KEY));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("user-agent"), Some("Keepsake-test/1"));

    let body = request.json();
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["click", "message", "priority", "tags", "title", "topic"]);
    assert_eq!(body["topic"], "family-photos");
    assert_eq!(body["title"], "Critical: Pool tank has checksum errors");
    assert_eq!(body["priority"], 5);
    assert_eq!(body["tags"], json!(["rotating_light"]));
    assert_eq!(body["click"], "https://keepsake.local/help/replace-drive?from=alert&id=7");
    let text = assert_string(&body["message"], "message");
    assert!(text.contains("What to do\nOrder a replacement drive & keep the box on."), "{text}");
    assert!(text.contains("Device: ata-WDC <sda> \"quoted\""), "{text}");
}

#[tokio::test]
async fn ntfy_without_a_token_sends_no_authorization_and_reuses_the_connection() {
    let server = Receiver::start(Reply::with_body(200, "{}")).await;
    let sender = sender(TIMEOUT);
    for key in ["a", "b"] {
        sender.send(&ntfy(&server.base), None, &message(key)).await.expect("sent");
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/");
    assert!(requests.iter().all(|r| r.header("authorization").is_none()));
    assert_eq!(requests[1].header("idempotency-key"), Some("b"));
    assert_eq!(server.connections(), 1, "the second message should reuse the connection");
}

#[tokio::test]
async fn ntfy_refusal_comes_back_verbatim() {
    let body = r#"{"code":40301,"http":403,"error":"forbidden","link":"https://ntfy.sh/docs/publish/#authentication"}"#;
    let server = Receiver::start(Reply::with_body(403, body)).await;
    let e = send(&ntfy(&server.base), Some("tk_wrong")).await.expect_err("forbidden");
    assert_eq!(e.kind, SendErrorKind::Auth);
    assert_eq!(e.code, Some(ReplyCode::Http(403)));
    assert!(e.is_permanent());
    assert_eq!(e.server_reply.as_deref(), Some(format!("HTTP 403 Forbidden: {body}").as_str()));
    assert!(
        e.to_string().contains(&format!(
            "ntfy (127.0.0.1:{}) refused the credentials: HTTP 403 Forbidden: {body}",
            server.base.rsplit(':').next().unwrap_or_default()
        )),
        "{e}"
    );
}

#[tokio::test]
async fn discord_embed_follows_the_execute_webhook_payload() {
    let server = Receiver::start(Reply::status(204)).await;
    let url = format!("{}/api/webhooks/123456/secret-token_x", server.base);
    let sent = send(&discord(), Some(&url)).await.expect("sent");
    assert_eq!(sent.detail, "HTTP 204 No Content");

    let request = server.only();
    assert_eq!(request.path, "/api/webhooks/123456/secret-token_x");
    assert_eq!(request.header("idempotency-key"), Some(KEY));
    assert!(request.header("authorization").is_none());
    let body = request.json();
    assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
    assert_eq!(body["username"], "Keepsake");
    let embeds = body["embeds"].as_array().expect("embeds");
    assert_eq!(embeds.len(), 1);
    let embed = &embeds[0];
    assert_eq!(embed["title"], "Critical: Pool tank has checksum errors");
    assert_eq!(embed["color"], 0xB9_1C_1C);
    assert!(embed["color"].is_u64());
    assert_eq!(embed["url"], "https://keepsake.local/help/replace-drive?from=alert&id=7");
    assert_eq!(embed["timestamp"], "2026-12-03T15:04:05Z");
    assert!(embed["footer"]["text"].is_string());
    let description = assert_string(&embed["description"], "description");
    assert!(description.contains("**What to do**\nOrder a replacement drive & keep the box on."), "{description}");
    assert!(
        description.contains("[How to replace a drive](https://keepsake.local/help/replace-drive?from=alert&id=7)"),
        "{description}"
    );
    let fields = embed["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 4);
    for field in fields {
        assert!(field["name"].is_string() && field["value"].is_string() && field["inline"].is_boolean(), "{field}");
    }
    assert_eq!(fields[1], json!({ "name": "Device", "value": "ata\\-WDC \\<sda\\> \"quoted\"", "inline": true }));
    assert_eq!(fields[3], json!({ "name": "Drives", "value": "• sda\\: 3 errors", "inline": false }));
}

#[tokio::test]
async fn discord_refusal_is_verbatim_and_never_shows_the_address() {
    let body = r#"{"message": "Invalid Webhook Token", "code": 50027}"#;
    for (status, kind) in [(401, SendErrorKind::Auth), (400, SendErrorKind::Rejected)] {
        let server = Receiver::start(Reply::with_body(status, body)).await;
        let url = format!("{}/api/webhooks/123456/secret-token_x", server.base);
        let e = send(&discord(), Some(&url)).await.expect_err("refused");
        assert_eq!(e.kind, kind);
        assert!(e.is_permanent());
        let text = e.to_string();
        assert!(text.contains(body), "{text}");
        assert!(text.starts_with("Discord (127.0.0.1:"), "{text}");
        assert!(!text.contains("secret-token_x") && !text.contains("123456"), "{text}");
    }
}

#[tokio::test]
async fn discord_rate_limit_gives_retry_after() {
    let mut reply =
        Reply::with_body(429, r#"{"message": "You are being rate limited.", "retry_after": 6.5, "global": false}"#);
    reply.headers.push(("retry-after", "7".to_owned()));
    let server = Receiver::start(reply).await;
    let e = send(&discord(), Some(&format!("{}/api/webhooks/1/t", server.base))).await.expect_err("429");
    assert_eq!(e.code, Some(ReplyCode::Http(429)));
    assert!(!e.is_permanent());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.to_string().contains("You are being rate limited."), "{e}");
}

#[tokio::test]
async fn slack_incoming_webhook_text_and_blocks() {
    let server = Receiver::start(Reply {
        status: 200,
        headers: vec![("content-type", "text/plain".to_owned())],
        body: "ok".to_owned(),
    })
    .await;
    let url = format!("{}/services/T000/B000/XXXX", server.base);
    send(&slack(), Some(&url)).await.expect("sent");
    let request = server.only();
    assert_eq!(request.path, "/services/T000/B000/XXXX");
    let body = request.json();
    assert_eq!(body["text"], "Critical: Pool tank has checksum errors");
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(blocks[0]["text"]["text"], "Critical: Pool tank has checksum errors");
    for block in blocks {
        let kind = assert_string(&block["type"], "type");
        assert!(["header", "section", "context"].contains(&kind.as_str()), "{block}");
        if kind == "section" {
            let text_or_fields = block["text"]["type"] == "mrkdwn" || block["fields"].is_array();
            assert!(text_or_fields, "{block}");
        }
        if kind == "context" {
            assert!(block["elements"].as_array().is_some_and(|e| e.iter().all(|e| e["type"] == "mrkdwn")), "{block}");
        }
    }
    let all = serde_json::to_string(blocks).expect("json");
    assert!(all.contains("Order a replacement drive &amp; keep the box on."), "{all}");
    assert!(
        all.contains("<https://keepsake.local/help/replace-drive?from=alert&amp;id=7|How to replace a drive>"),
        "{all}"
    );
    assert!(all.contains(r#"*Device*\nata-WDC &lt;sda&gt; \"quoted\""#), "{all}");
    assert!(!all.contains("<sda>"));
}

#[tokio::test]
async fn slack_refusal_is_verbatim() {
    let server = Receiver::start(Reply {
        status: 404,
        headers: vec![("content-type", "text/plain".to_owned())],
        body: "no_service".to_owned(),
    })
    .await;
    let e = send(&slack(), Some(&format!("{}/services/T/B/X", server.base))).await.expect_err("404");
    assert!(e.is_permanent());
    assert_eq!(e.server_reply.as_deref(), Some("HTTP 404 Not Found: no_service"));
    assert!(e.to_string().contains("Slack (127.0.0.1:") && e.to_string().contains("make one in Slack"), "{e}");
}

#[tokio::test]
async fn generic_template_cannot_be_broken_out_of() {
    let server = Receiver::start(Reply::status(202)).await;
    let mut msg: Message = message(KEY);
    msg.title = "\"}, \"admin\": true, \"x\": {\"y\": \"\n</script>\\".to_owned();
    msg.what_happened = "line one\n\"two\"\t</script>".to_owned();
    let template = r#"{"text": "{{title}}", "body": "{{what_happened}}", "raw": {{title}}, "severity": "{{severity}}", "link": {{link}}, "key": "{{key}}"}"#;
    let settings = webhook(&format!("{}/hook?x=1", server.base), Some(template));
    let sent = sender(TIMEOUT).send(&settings, Some("s3cret"), &msg).await.expect("sent");
    assert_eq!(sent.detail, "HTTP 202 Accepted");
    let request = server.only();
    assert_eq!(request.path, "/hook?x=1");
    assert_eq!(request.header("authorization"), Some("Bearer s3cret"));
    assert_eq!(request.header("idempotency-key"), Some(KEY));
    let body = request.json();
    let title = "\"}, \"admin\": true, \"x\": {\"y\": \" </script>\\";
    assert_eq!(
        body,
        json!({
            "text": title,
            "body": "line one\n\"two\"\t</script>",
            "raw": title,
            "severity": "critical",
            "link": "https://keepsake.local/help/replace-drive?from=alert&id=7",
            "key": KEY,
        })
    );
}

#[tokio::test]
async fn generic_without_template_sends_the_whole_message() {
    let server = Receiver::start(Reply::status(200)).await;
    send(&webhook(&server.base, None), None).await.expect("sent");
    let request = server.only();
    assert!(request.header("authorization").is_none());
    let body = request.json();
    assert_eq!(body["key"], KEY);
    assert_eq!(body["kind"], "firing");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["title"], "Pool tank has checksum errors");
    assert_eq!(body["headline"], "Critical: Pool tank has checksum errors");
    assert_eq!(
        body["link"],
        json!({ "label": "How to replace a drive", "url": "https://keepsake.local/help/replace-drive?from=alert&id=7" })
    );
    assert_eq!(body["facts"][1], json!({ "label": "Device", "value": "ata-WDC <sda> \"quoted\"" }));
    assert_eq!(body["sections"], json!([{ "heading": "Drives", "lines": ["sda: 3 errors"] }]));
    assert_eq!(body["rule"], "zfs.checksum_errors");
    assert_eq!(body["subject"], "tank");
    assert_eq!(body["at"], "2026-12-03T15:04:05Z");
    assert!(body["text"].as_str().is_some_and(|t| t.contains("What happened")));
}

#[tokio::test]
async fn server_errors_are_transient_and_long_bodies_are_cut() {
    let long = "x".repeat(10_000);
    let server = Receiver::start(Reply::with_body(503, &long)).await;
    let e = send(&webhook(&server.base, None), None).await.expect_err("503");
    assert!(!e.is_permanent());
    let reply = e.server_reply.clone().unwrap_or_default();
    assert_eq!(reply.len(), "HTTP 503 Service Unavailable: ".len() + 4096, "{}", reply.len());
}

#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let mut reply = Reply::status(301);
    reply.headers.push(("location", "https://elsewhere.example/hook".to_owned()));
    let server = Receiver::start(reply).await;
    let e = send(&webhook(&server.base, None), None).await.expect_err("301");
    assert!(e.is_permanent());
    assert!(e.to_string().contains("redirect to https://elsewhere.example/hook"), "{e}");
    assert_eq!(server.requests().len(), 1);

    let e = send(&discord(), Some(&format!("{}/api/webhooks/1/secret", server.base))).await.expect_err("301");
    assert!(!e.to_string().contains("secret"), "{e}");
}

#[tokio::test]
async fn silent_server_times_out_within_the_bound() {
    let (_listener, port) = silent_port();
    let started = Instant::now();
    let e = sender(Duration::from_millis(500))
        .send(&webhook(&format!("http://127.0.0.1:{port}/"), None), None, &message(KEY))
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
    let e = send(&ntfy(&format!("http://127.0.0.1:{port}")), None).await.expect_err("refused");
    assert_eq!(e.kind, SendErrorKind::Connect, "{e}");
    assert!(!e.is_permanent());
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    // Any TLS server will do: the handshake fails before HTTP starts.
    let ca = TestCa::new();
    let tls = SmtpServer::start(SmtpMode { security: "tls", ca: Some(&ca), ..Default::default() });
    let e = send(&ntfy(&format!("https://127.0.0.1:{}", tls.port)), None).await.expect_err("untrusted");
    assert_eq!(e.kind, SendErrorKind::Tls, "{e}");
    assert!(e.is_permanent());
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
}

#[tokio::test]
async fn a_token_never_goes_unencrypted_over_the_internet() {
    let e = send(&webhook("http://hooks.example.com/x", None), Some("s3cret")).await.expect_err("refused");
    assert_eq!(e.kind, SendErrorKind::Config, "{e}");
    let e = send(&ntfy("http://ntfy.example.com"), Some("tk_x")).await.expect_err("refused");
    assert_eq!(e.kind, SendErrorKind::Config, "{e}");
}

#[tokio::test]
async fn any_key_makes_a_valid_idempotency_key_and_a_bad_token_is_a_config_error() {
    let server = Receiver::start(Reply::status(200)).await;
    sender(TIMEOUT).send(&webhook(&server.base, None), None, &message("clé 1\n")).await.expect("sent");
    assert_eq!(server.only().header("idempotency-key"), Some("cl=C3=A9=201=0A"));
    let e = send(&webhook(&server.base, None), Some("line\nbreak")).await.expect_err("bad token");
    assert_eq!(e.kind, SendErrorKind::Config, "{e}");
    assert!(e.is_permanent());
    assert_eq!(server.requests().len(), 1);
}
