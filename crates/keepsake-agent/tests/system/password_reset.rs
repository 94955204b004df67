//! Forgotten passwords by email, through keepsake-web as a browser uses it, against a real SMTP
//! server: the answer never says whether an account exists, the link works once and only for a
//! while, using it ends every session, and all of it is audited.

use std::time::Duration;

use crate::harness::http::json;
use crate::harness::{Browser, PASSWORD, SmtpSink, header, sqlite, stack};

fn token_of(mail: &str) -> String {
    let m = mail_parser::MessageParser::default().parse(mail.as_bytes()).unwrap();
    let text = m.body_text(0).unwrap().into_owned();
    let at = text.find("/reset-password#token=").unwrap_or_else(|| panic!("no reset link in: {text}"));
    text[at + "/reset-password#token=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn a_reset_link_works_once_ends_every_session_and_never_reveals_an_account() {
    let (dir, agent, web) = stack().await;
    let mut sink = SmtpSink::new(dir.path());
    sink.start();
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;

    // Without an email channel the page is told to use the console.
    let r = owner.call("GET", "/api/v1/auth/password-reset", None).await;
    assert_eq!(json(&r)["by_email"], false);
    let mut stranger = Browser::new(&web);
    let r =
        stranger.call("POST", "/api/v1/auth/password-reset/request", Some(serde_json::json!({"name": "anna"}))).await;
    assert_eq!(r.0, 409);
    assert!(json(&r)["message"].as_str().unwrap().contains("keepsake user reset-password"));

    let channel = serde_json::json!({"name": "Mail", "settings": {"kind": "email", "host": "127.0.0.1", "port": sink.port,
        "security": "none", "from": "keepsake@example.org", "to": ["anna@example.org"]}, "notify_on": "never"});
    assert_eq!(owner.call("POST", "/api/v1/alerts/channels", Some(channel)).await.0, 201);
    let bob = owner.create_user("bob", "viewer").await;
    let r = owner
        .call("PATCH", &format!("/api/v1/users/{}", bob["id"]), Some(serde_json::json!({"email": "bob@example.org"})))
        .await;
    assert_eq!(json(&r)["email"], "bob@example.org");
    let mut bobs_phone = Browser::new(&web);
    assert_eq!(bobs_phone.login("bob", PASSWORD).await.0, 200);

    // The same answer for an account with an address, one without, and none at all.
    let mut answers = Vec::new();
    for who in ["bob", "anna", "nobody", "BOB@example.org"] {
        let r =
            stranger.call("POST", "/api/v1/auth/password-reset/request", Some(serde_json::json!({"name": who}))).await;
        answers.push((r.0, String::from_utf8_lossy(&r.2).into_owned()));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    assert_eq!(answers[0].0, 202);
    let mails = sink.wait_for(1, 20, "the reset email").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // bob asked twice (by name and by address) within two minutes: one link.
    assert_eq!(sink.messages().len(), 1, "{:#?}", sink.messages());
    assert_eq!(header(&mails[0], "To").as_deref(), Some("bob@example.org"));
    let token = token_of(&mails[0]);
    assert_eq!(token.len(), 43);
    let db = agent.state_dir.join("keepsake.db");
    assert_eq!(sqlite(&db, &format!("SELECT count(*) FROM password_resets WHERE token_hash = '{token}'")).trim(), "0");
    assert!(!std::fs::read(&db).unwrap().windows(token.len()).any(|w| w == token.as_bytes()), "stored only as a hash");

    // A weak password is refused and the link still works; then it is used.
    let confirm = |password: &str| serde_json::json!({"token": token, "password": password});
    let r = stranger.call("POST", "/api/v1/auth/password-reset/confirm", Some(confirm("short"))).await;
    assert_eq!(r.0, 400, "{}", String::from_utf8_lossy(&r.2));
    let new_password = "a brand new passphrase for bob";
    let r = stranger.call("POST", "/api/v1/auth/password-reset/confirm", Some(confirm(new_password))).await;
    assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));
    assert_eq!(bobs_phone.call("GET", "/api/v1/me", None).await.0, 401, "bob's other session ended");
    assert_eq!(stranger.login("bob", new_password).await.0, 200);
    let r = stranger
        .call("POST", "/api/v1/auth/password-reset/confirm", Some(confirm("yet another long passphrase")))
        .await;
    assert_eq!((r.0, json(&r)["code"].as_str().unwrap().to_owned()), (422, "auth.reset_link_used".to_owned()));

    // An expired link says so.
    sqlite(&db, "DELETE FROM password_resets");
    let r =
        stranger.call("POST", "/api/v1/auth/password-reset/request", Some(serde_json::json!({"name": "bob"}))).await;
    assert_eq!(r.0, 202);
    let mails = sink.wait_for(2, 20, "the second reset email").await;
    let token = token_of(&mails[1]);
    sqlite(&db, "UPDATE password_resets SET expires_at = '2000-01-01T00:00:00.000000Z'");
    let r = stranger
        .call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            Some(serde_json::json!({"token": token, "password": "whatever long enough"})),
        )
        .await;
    assert_eq!(json(&r)["code"], "auth.reset_link_expired");
    let r = stranger
        .call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            Some(serde_json::json!({"token": "A".repeat(43), "password": "whatever long enough"})),
        )
        .await;
    assert_eq!(json(&r)["code"], "auth.reset_link_invalid");

    // Audited: who asked, for whom, and why no link went out when none did.
    let rows = sqlite(
        &db,
        "SELECT action || '|' || outcome || '|' || coalesce(target,'') || '|' || detail FROM audit_log WHERE action LIKE 'auth.password_reset%' ORDER BY id",
    );
    assert!(rows.contains("auth.password_reset_request|ok|user=bob|reset link sent"), "{rows}");
    assert!(rows.contains("no link sent: the account has no email address"), "{rows}");
    assert!(rows.contains("no link sent: no such account"), "{rows}");
    assert!(rows.contains("no link sent: a link was sent less than two minutes ago"), "{rows}");
    assert!(rows.contains("auth.password_reset_confirm|ok|user=bob"), "{rows}");
    assert!(rows.contains("auth.password_reset_confirm|error:auth.reset_link_used"), "{rows}");
}
