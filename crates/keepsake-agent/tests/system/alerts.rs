//! Alerts end to end through the real agent binary: failed sign-ins fire the failed-sign-in rule,
//! a real SMTP server (aiosmtpd) receives the message, and delivery is durable: queued while the
//! mail server is down, kept across a killed agent, sent once when the server is back.

use std::time::Duration;

use http::Method;
use keepsake_api::{AlertHistory, AlertList, ChannelInfo, Client, HistoryKind, RuleInfo};
use serde_json::json;

use crate::harness::{Agent, AgentOpts, SmtpSink, header, open_tempdir};

async fn call<T: serde::de::DeserializeOwned>(c: &Client, m: Method, path: &str, body: serde_json::Value) -> T {
    let body = (!body.is_null()).then_some(body);
    match c.call_json(m.clone(), path, body.as_ref()).await {
        Ok(v) => v,
        Err(e) => panic!("{m} {path}: {e}"),
    }
}

/// An email channel to `port` (plain SMTP, no sign-in: a local relay) that hears about everything.
async fn email_channel(c: &Client, port: u16) -> ChannelInfo {
    call(
        c,
        Method::POST,
        "/api/v1/alerts/channels",
        json!({
            "name": "Family mail",
            "settings": {"kind": "email", "host": "127.0.0.1", "port": port, "security": "none",
                         "from": "keepsake@example.org", "to": ["anna@example.org"]},
            "notify_on": "always",
            "weekly_summary": true
        }),
    )
    .await
}

async fn spike_threshold(c: &Client, n: u32) {
    let r: RuleInfo = call(c, Method::PATCH, "/api/v1/alerts/rules/auth.login_spike", json!({"threshold": n})).await;
    assert_eq!(r.threshold.unwrap().value, n);
}

/// `n` failed sign-ins, each for a different unknown name (so no account backoff joins in).
async fn fail_sign_ins(c: &Client, n: usize, tag: &str) {
    for i in 0..n {
        let body = json!({"name": format!("ghost-{tag}-{i}"), "password": "not the password at all"});
        let r = c.send(Method::POST, "/api/v1/auth/login", Some(&body)).await.unwrap();
        assert_eq!(r.status(), http::StatusCode::UNAUTHORIZED, "sign-in {i} should fail");
    }
}

async fn history(c: &Client) -> AlertHistory {
    call(c, Method::GET, "/api/v1/alerts/history?limit=200", serde_json::Value::Null).await
}

async fn wait_history(c: &Client, secs: u64, what: &str, pred: impl Fn(&AlertHistory) -> bool) -> AlertHistory {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let h = history(c).await;
        if pred(&h) {
            return h;
        }
        assert!(std::time::Instant::now() < deadline, "{what} within {secs} s; history: {h:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn body_text(raw: &str) -> String {
    let m = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a parsable message");
    let text = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let html = m.body_html(0).map(|t| t.into_owned()).unwrap_or_default();
    format!("{text}\n---html---\n{html}")
}

#[tokio::test]
async fn repeated_failed_sign_ins_send_one_alert_email_with_its_help_link() {
    let dir = open_tempdir();
    let mut sink = SmtpSink::new(dir.path());
    sink.start();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let c = agent.client();
    email_channel(&c, sink.port).await;
    spike_threshold(&c, 3).await;
    // Over the threshold ten times over (each sign-in costs a password hash, so not a hundred
    // here: the engine's own test repeats a condition a hundred times).
    fail_sign_ins(&c, 30, "a").await;

    let mails = sink.wait_for(1, 30, "the alert email").await;
    // The condition held 28 times; give a second message every chance to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = if sink.messages().len() > mails.len() { sink.messages() } else { mails };
    assert_eq!(mails.len(), 1, "one transition, one email: {mails:#?}");
    let subject = header(&mails[0], "Subject").unwrap();
    assert!(subject.contains("failed sign-ins in 15 minutes"), "{subject}");
    assert!(subject.starts_with("[Keepsake]"), "{subject}");
    let body = body_text(&mails[0]);
    assert!(body.contains("https://keepsake.local/help/sign-in-attacks"), "{body}");
    assert!(body.contains(keepsake_agent::alerts::rules::rule("auth.login_spike").unwrap().todo), "{body}");
    let id = header(&mails[0], "Message-ID").unwrap();
    assert!(id.contains("alert-"), "the Message-ID carries the notification key: {id}");

    let alerts: AlertList = call(&c, Method::GET, "/api/v1/alerts", serde_json::Value::Null).await;
    assert_eq!(alerts.firing, 1, "{alerts:#?}");
    let h = history(&c).await;
    assert_eq!(h.entries.iter().filter(|e| e.kind == HistoryKind::Notified).count(), 1, "{h:#?}");
}

#[tokio::test]
async fn an_alert_raised_while_the_mail_server_is_down_arrives_once_after_a_killed_agent_restarts() {
    let dir = open_tempdir();
    let mut sink = SmtpSink::new(dir.path()); // not started: the mail server is down
    let opts = AgentOpts { extra_args: vec!["--notify-retry-secs".into(), "1".into()], ..AgentOpts::default() };
    let mut agent = Agent::start(dir.path(), opts).await;
    let c = agent.client();
    email_channel(&c, sink.port).await;
    spike_threshold(&c, 3).await;
    fail_sign_ins(&c, 3, "b").await;
    let h = wait_history(&c, 30, "a failed delivery attempt", |h| {
        h.entries.iter().any(|e| e.kind == HistoryKind::DeliveryFailed)
    })
    .await;
    let failure = h.entries.iter().find(|e| e.kind == HistoryKind::DeliveryFailed).unwrap();
    assert!(failure.detail.contains("trying again"), "{}", failure.detail);
    assert!(failure.detail.to_lowercase().contains("connect"), "says why: {}", failure.detail);

    agent.kill_hard();
    sink.start();
    agent.restart().await;
    let c = agent.client();
    let mails = sink.wait_for(1, 30, "the queued alert email after the restart").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), 1, "exactly one email: {mails:#?}");
    assert!(header(&mails[0], "Subject").unwrap().contains("failed sign-ins"));
    wait_history(&c, 10, "the delivery recorded", |h| h.entries.iter().any(|e| e.kind == HistoryKind::Notified)).await;
}

/// Killed after the server accepted a message but before it was marked sent: the message goes
/// again with the same key (the email's Message-ID), so the receiving side can tell it is the
/// same message; the queue itself holds it once.
#[tokio::test]
async fn a_crash_between_send_and_mark_resends_with_the_same_message_id() {
    let dir = open_tempdir();
    let mut sink = SmtpSink::new(dir.path());
    sink.start();
    let faulty =
        AgentOpts { env: vec![("KEEPSAKE_TEST_FAULT".into(), "exit_after_send".into())], ..AgentOpts::default() };
    let mut agent = Agent::start(dir.path(), faulty).await;
    let c = agent.client();
    email_channel(&c, sink.port).await;
    spike_threshold(&c, 3).await;
    fail_sign_ins(&c, 3, "c").await;
    sink.wait_for(1, 30, "the first send").await;
    // The fault makes the agent exit right after the server's "accepted".
    agent.wait_exit(30).await;
    agent.opts.env.clear();
    agent.restart().await;
    let mails = sink.wait_for(2, 30, "the resend").await;
    let ids: Vec<String> = mails.iter().map(|m| header(m, "Message-ID").unwrap()).collect();
    assert_eq!(ids[0], ids[1], "the resend has the same Message-ID");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 2, "sent again once, not again and again");
    let h = wait_history(&agent.client(), 10, "the delivery recorded", |h| {
        h.entries.iter().any(|e| e.kind == HistoryKind::Notified)
    })
    .await;
    assert_eq!(h.entries.iter().filter(|e| e.kind == HistoryKind::Notified).count(), 1);
}

#[tokio::test]
async fn send_test_reports_the_servers_own_error_and_the_weekly_summary_names_the_audit_head() {
    let dir = open_tempdir();
    let mut sink = SmtpSink::new(dir.path());
    sink.start();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let c = agent.client();
    let ch = email_channel(&c, sink.port).await;
    let r: keepsake_api::ChannelTestResult =
        call(&c, Method::POST, &format!("/api/v1/alerts/channels/{}/test", ch.id), json!({})).await;
    assert!(r.delivered, "{r:?}");
    let mails = sink.wait_for(1, 10, "the test message").await;
    assert!(header(&mails[0], "Subject").unwrap().contains("Test message for Family mail"));

    // A channel to a port nobody listens on: the test says so, and nothing is stored.
    let dead = crate::harness::free_port();
    let bad: ChannelInfo = call(
        &c,
        Method::PUT,
        &format!("/api/v1/alerts/channels/{}", ch.id),
        json!({"name": "Family mail", "settings": {"kind": "email", "host": "127.0.0.1", "port": dead,
               "security": "none", "from": "keepsake@example.org", "to": ["anna@example.org"]},
               "notify_on": "always", "weekly_summary": true}),
    )
    .await;
    let r: keepsake_api::ChannelTestResult =
        call(&c, Method::POST, &format!("/api/v1/alerts/channels/{}/test", bad.id), json!({})).await;
    assert!(!r.delivered);
    let err = r.error.unwrap();
    assert!(err.contains(&format!("127.0.0.1:{dead}")) || err.to_lowercase().contains("connect"), "{err}");

    // Back to the sink; send the weekly summary now: it carries the audit chain's head.
    call::<ChannelInfo>(
        &c,
        Method::PUT,
        &format!("/api/v1/alerts/channels/{}", ch.id),
        json!({"name": "Family mail", "settings": {"kind": "email", "host": "127.0.0.1", "port": sink.port,
               "security": "none", "from": "keepsake@example.org", "to": ["anna@example.org"]},
               "notify_on": "always", "weekly_summary": true}),
    )
    .await;
    call::<keepsake_api::Done>(&c, Method::POST, "/api/v1/alerts/summary/send", json!({})).await;
    let mails = sink.wait_for(2, 30, "the weekly summary").await;
    let summary = mails.iter().find(|m| header(m, "Subject").unwrap().contains("Weekly summary")).expect("a summary");
    let head = keepsake_agent::store::Store::open(&agent.state_dir).unwrap().audit_head().unwrap().unwrap();
    let body = body_text(summary);
    // The summary was built before its own send request was audited: it names an earlier entry.
    let named =
        body.split("hash ").nth(1).map(|s| s.chars().take(64).collect::<String>()).expect("a head in the summary");
    assert_eq!(named.len(), 64, "{body}");
    let out = agent.cli(None, &["audit", "verify", "--head", &named]);
    assert!(
        out.status.success(),
        "the summary's head verifies: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(head.id >= 1);
    for section in ["Backups", "Restore points", "Snapshots", "Storage", "Alerts this week", "Updates", "Audit log"] {
        assert!(body.contains(section), "the summary has {section}: {body}");
    }
}

/// ntfy and a templated JSON webhook, both on loopback, get the same alert in their own shapes,
/// each with the notification's key as `Idempotency-Key`.
#[tokio::test]
async fn ntfy_and_a_templated_webhook_receive_the_alert_in_their_shapes() {
    let dir = open_tempdir();
    let hooks = crate::harness::WebhookSink::start().await;
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let c = agent.client();
    let base = format!("http://127.0.0.1:{}", hooks.port);
    let _: ChannelInfo = call(
        &c,
        Method::POST,
        "/api/v1/alerts/channels",
        json!({"name": "Phone", "settings": {"kind": "ntfy", "server": base, "topic": "family-photos"},
               "notify_on": "failure"}),
    )
    .await;
    let template = r#"{"text": "{{title}}", "state": "{{state}}", "more": {"help": "{{link}}", "rule": "{{rule}}"}}"#;
    let _: ChannelInfo = call(
        &c,
        Method::POST,
        "/api/v1/alerts/channels",
        json!({"name": "Home automation", "settings": {"kind": "webhook", "url": format!("{base}/hook"), "template": template},
               "secret": "s3cret-token", "notify_on": "failure"}),
    )
    .await;
    spike_threshold(&c, 3).await;
    fail_sign_ins(&c, 3, "d").await;

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while hooks.requests().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "both hooks called: {:#?}", hooks.requests());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let reqs = hooks.requests();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    let ntfy = reqs.iter().find(|r| r.path == "/").expect("ntfy publishes to the server root");
    assert_eq!(ntfy.method, "POST");
    assert_eq!(ntfy.body["topic"], "family-photos");
    assert!(ntfy.body["title"].as_str().unwrap().contains("failed sign-ins"), "{:?}", ntfy.body);
    assert!(ntfy.body["message"].is_string() && ntfy.body["priority"].is_number(), "{:?}", ntfy.body);
    let hook = reqs.iter().find(|r| r.path == "/hook").expect("the webhook");
    assert_eq!(hook.header("authorization"), Some("Bearer s3cret-token"));
    assert_eq!(hook.body["state"], "firing");
    assert_eq!(hook.body["more"]["rule"], "auth.login_spike");
    assert!(hook.body["more"]["help"].as_str().unwrap().ends_with("/help/sign-in-attacks"));
    for r in &reqs {
        let key = r.header("idempotency-key").expect("an Idempotency-Key");
        assert!(key.starts_with("alert-"), "{key}");
    }
    // The channel list never shows the token.
    let list = c.send(Method::GET, "/api/v1/alerts/channels", None).await.unwrap();
    let bytes = http_body_util::BodyExt::collect(list.into_body()).await.unwrap().to_bytes();
    assert!(!String::from_utf8_lossy(&bytes).contains("s3cret-token"));
}
