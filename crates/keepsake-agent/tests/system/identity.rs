//! Identity and access end to end, through keepsake-web as a browser would, and the root console.

use std::collections::BTreeSet;

use keepsake_agent::auth::totp;

use crate::harness::http::{header, json, request};
use crate::harness::{Browser, PASSWORD, last_audit, stack};

/// A concrete path for a documented one.
fn fill(path: &str) -> String {
    path.replace("{id}", "1").replace("{name}", "smtp_password").replace("{rule}", "auth.login_spike")
}

#[tokio::test]
async fn every_route_answers_401_without_a_session_and_403_without_its_permission() {
    let (_dir, agent, web) = stack().await;
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;
    let r = owner
        .call("POST", "/api/v1/users", Some(serde_json::json!({"name": "vic", "password": PASSWORD, "role": "viewer"})))
        .await;
    assert_eq!(r.0, 201, "{}", String::from_utf8_lossy(&r.2));
    let mut viewer = Browser::new(&web);
    assert_eq!(viewer.login("vic", PASSWORD).await.0, 200);
    let me = json(&viewer.call("GET", "/api/v1/me", None).await);
    let viewer_perms: BTreeSet<String> =
        me["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();

    let doc = json(&owner.call("GET", "/api/v1/openapi.json", None).await);
    let mut anonymous = Browser::new(&web);
    let (mut checked_401, mut checked_403) = (0, 0);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            let perm = op["x-keepsake-permission"].as_str().unwrap_or_else(|| panic!("{method} {path}: no permission"));
            if perm == "public" {
                continue;
            }
            let body = (method != "GET").then(|| serde_json::json!({}));
            let operation = op["operationId"].as_str().unwrap();
            // Each denied mutating request leaves its own audit row, naming who and what.
            let audited = |who: &str, why: &str| {
                if method == "GET" {
                    return;
                }
                let (action, outcome, actor) = last_audit(&agent);
                assert_eq!((action.as_str(), actor.as_str()), (operation, who), "{method} {path}: audit row");
                assert_eq!(outcome, format!("denied:{why}"), "{method} {path}: audit outcome");
            };
            let r = anonymous.call(&method, &fill(path), body.clone()).await;
            assert_eq!(r.0, 401, "{method} {path} without a session: {}", String::from_utf8_lossy(&r.2));
            audited("anonymous", "auth.unauthenticated");
            checked_401 += 1;
            if perm == "authenticated" || viewer_perms.contains(perm) {
                continue;
            }
            let r = viewer.call(&method, &fill(path), body).await;
            assert_eq!(r.0, 403, "{method} {path} without `{perm}`: {}", String::from_utf8_lossy(&r.2));
            assert!(String::from_utf8_lossy(&r.2).contains(perm), "the 403 names the permission");
            audited("vic", "auth.permission_missing");
            if method != "GET" {
                checked_403 += 1;
            }
        }
    }
    assert!(checked_401 > 30 && checked_403 >= 10, "walked too few routes: {checked_401} / {checked_403}");
    // Denials of mutating routes are audited.
    let audit = json(&owner.call("GET", "/api/v1/audit?outcome=denied&limit=1000", None).await);
    let entries = audit["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["actor"] == "vic" && e["outcome"] == "denied:auth.permission_missing"));
    assert!(entries.iter().any(|e| e["actor"] == "anonymous" && e["outcome"] == "denied:auth.unauthenticated"));
}

#[tokio::test]
async fn setup_happens_once_and_sessions_are_strict_cookies() {
    let (_dir, _agent, web) = stack().await;
    let mut b = Browser::new(&web);
    assert_eq!(json(&b.call("GET", "/api/v1/auth/state", None).await)["setup_required"], true);
    let r = b.call("POST", "/api/v1/auth/setup", Some(serde_json::json!({"name": "anna", "password": PASSWORD}))).await;
    assert_eq!(r.0, 201);
    let cookie = header(&r, "set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http on loopback: no Secure flag");
    let mut other = Browser::new(&web);
    let again =
        other.call("POST", "/api/v1/auth/setup", Some(serde_json::json!({"name": "eve", "password": PASSWORD}))).await;
    assert_eq!(again.0, 409, "setup is only for the first account");
    assert_eq!(json(&b.call("GET", "/api/v1/auth/state", None).await)["user"]["name"], "anna");

    // Sessions list and revoke; logout ends the session.
    let mut second = Browser::new(&web);
    assert_eq!(second.login("anna", PASSWORD).await.0, 200);
    let sessions = json(&b.call("GET", "/api/v1/me/sessions", None).await);
    let list = sessions["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let other_id = list.iter().find(|s| s["current"] == false).unwrap()["id"].as_i64().unwrap();
    assert_eq!(b.call("DELETE", &format!("/api/v1/me/sessions/{other_id}"), None).await.0, 200);
    assert_eq!(second.call("GET", "/api/v1/me", None).await.0, 401);
    assert_eq!(b.call("POST", "/api/v1/auth/logout", Some(serde_json::json!({}))).await.0, 200);
    assert_eq!(b.call("GET", "/api/v1/me", None).await.0, 401);
}

#[tokio::test]
async fn totp_is_required_at_sign_in_once_enabled() {
    let (_dir, _agent, web) = stack().await;
    let mut b = Browser::new(&web);
    b.setup_owner("anna").await;
    let e = json(&b.call("POST", "/api/v1/me/totp/begin", Some(serde_json::json!({}))).await);
    let secret = totp_rs::Secret::try_from_base32(e["secret"].as_str().unwrap()).unwrap().as_bytes().to_vec();
    assert!(e["qr_png"].as_str().unwrap().starts_with("data:image/png;base64,"));
    let code = totp::current(&secret, "anna").unwrap();
    let codes = json(&b.call("POST", "/api/v1/me/totp/confirm", Some(serde_json::json!({"code": code}))).await);
    assert_eq!(codes["codes"].as_array().unwrap().len(), 10);

    let mut fresh = Browser::new(&web);
    let r = json(&fresh.login("anna", PASSWORD).await);
    assert_eq!(r["complete"], false);
    assert_eq!(fresh.call("GET", "/api/v1/status", None).await.0, 401, "a password alone grants nothing");
    let bad = fresh.call("POST", "/api/v1/auth/login/totp", Some(serde_json::json!({"code": "000000"}))).await;
    assert!(bad.0 == 422 || code == "000000", "a wrong code is refused by rule (422): {}", bad.0);
    let replay = fresh.call("POST", "/api/v1/auth/login/totp", Some(serde_json::json!({"code": code}))).await;
    assert_eq!(replay.0, 422, "the enrollment code was accepted a second time");
    let next = totp::next(&secret, "anna").unwrap();
    let ok = fresh.call("POST", "/api/v1/auth/login/totp", Some(serde_json::json!({"code": next}))).await;
    assert_eq!(ok.0, 200, "{}", String::from_utf8_lossy(&ok.2));
    assert_eq!(json(&ok)["user"]["name"], "anna", "the answer names who signed in");
    assert_eq!(fresh.call("GET", "/api/v1/status", None).await.0, 200);
}

#[tokio::test]
async fn twenty_wrong_passwords_hold_back_the_right_one_and_are_audited() {
    let (_dir, _agent, web) = stack().await;
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;
    let mut attacker = Browser::new(&web);
    for i in 0..20 {
        let r = attacker.login("anna", &format!("guess number {i}")).await;
        assert!(r.0 == 401 || r.0 == 429, "attempt {i}: {}", r.0);
    }
    let r = attacker.login("anna", PASSWORD).await;
    assert_eq!(r.0, 429, "the right password got through during the backoff");
    assert!(json(&r)["message"].as_str().unwrap().contains("try again in"));
    assert!(attacker.cookie.is_none());
    let audit = json(&owner.call("GET", "/api/v1/audit?limit=1000", None).await);
    let entries = audit["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["action"] == "security.login_backoff"), "no backoff event");
    assert!(
        entries.iter().filter(|e| e["action"] == "auth.login" && e["actor"] == "anna" && e["outcome"] != "ok").count()
            >= 20
    );
}

#[tokio::test]
async fn an_edited_audit_row_makes_verify_fail_and_name_it() {
    let (_dir, agent, web) = stack().await;
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;
    for _ in 0..3 {
        owner.call("POST", "/api/v1/host/self-check", Some(serde_json::json!({}))).await;
    }
    let out = agent.cli(None, &["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let db = agent.state_dir.join("keepsake.db");
    let edit = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("DROP TRIGGER audit_log_append_only; UPDATE audit_log SET actor = 'someone-else' WHERE id = 3;")
        .output()
        .expect("sqlite3 is installed (tests/install-deps.sh)");
    assert!(edit.status.success(), "{}", String::from_utf8_lossy(&edit.stderr));
    let out = agent.cli(None, &["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("row 3"), "{text}");
}

#[tokio::test]
async fn no_secret_reaches_logs_or_api_responses() {
    let (dir, agent, web) = stack().await;
    let mut owner = Browser::new(&web);
    let mut seen = Vec::new();
    seen.push(owner.setup_owner("anna").await.to_string());
    let secrets: Vec<(String, String)> = ["smtp_password", "immich_api_key", "tunnel_token", "backup_encryption_key"]
        .iter()
        .enumerate()
        .map(|(i, n)| ((*n).to_owned(), format!("S3cret-value-{i}-{}", std::process::id())))
        .collect();
    for (name, value) in &secrets {
        let r = owner.call("PUT", &format!("/api/v1/secrets/{name}"), Some(serde_json::json!({"value": value}))).await;
        assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));
        seen.push(String::from_utf8_lossy(&r.2).into_owned());
    }
    // Exercise everything that touches secrets or passwords, and keep every answer.
    for (m, p, b) in [
        ("GET", "/api/v1/secrets", None),
        ("GET", "/api/v1/audit?limit=1000", None),
        ("GET", "/api/v1/audit?format=csv", None),
        ("GET", "/api/v1/users", None),
        ("GET", "/api/v1/me", None),
        (
            "POST",
            "/api/v1/users",
            Some(serde_json::json!({"name": "bob", "password": "bobs own passphrase", "role": "viewer"})),
        ),
        (
            "POST",
            "/api/v1/me/password",
            Some(serde_json::json!({"current": PASSWORD, "new": "a new owner passphrase"})),
        ),
        ("PUT", "/api/v1/secrets/smtp_password", Some(serde_json::json!({"value": ""}))),
        ("PUT", "/api/v1/secrets/no_such_secret", Some(serde_json::json!({"value": "S3cret-unknown"}))),
    ] {
        let r = owner.call(m, p, b).await;
        seen.push(String::from_utf8_lossy(&r.2).into_owned());
        seen.push(format!("{:?}", r.1));
    }
    let mut bob = Browser::new(&web);
    seen.push(String::from_utf8_lossy(&bob.login("bob", "bobs own passphrase").await.2).into_owned());
    let out = agent.cli(None, &["--json", "audit", "list", "--limit", "1000"]);
    seen.push(String::from_utf8_lossy(&out.stdout).into_owned());
    seen.push(agent.log());
    seen.push(std::fs::read_to_string(&web.log_path).unwrap());
    let everything = seen.join("\n");
    let mut values: Vec<&str> = secrets.iter().map(|(_, v)| v.as_str()).collect();
    values.extend([PASSWORD, "bobs own passphrase", "a new owner passphrase", "S3cret-unknown"]);
    for v in &values {
        assert!(!everything.contains(v), "`{v}` leaked into logs or responses");
    }
    // And at rest: the database holds no secret in the clear.
    let db = std::fs::read(agent.state_dir.join("keepsake.db")).unwrap();
    let wal = std::fs::read(agent.state_dir.join("keepsake.db-wal")).unwrap_or_default();
    for v in &values {
        for file in [&db, &wal] {
            assert!(!file.windows(v.len()).any(|w| w == v.as_bytes()), "`{v}` is stored in the clear");
        }
    }
    let key = std::fs::metadata(agent.state_dir.join("secret.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    drop(dir);
}

#[tokio::test]
async fn the_root_console_creates_users_and_recovers_access_and_is_audited() {
    let (_dir, agent, web) = stack().await;
    let run = |args: &[&str], stdin: &str| {
        let mut c = std::process::Command::new(crate::harness::bin("keepsake"));
        c.arg("--socket").arg(&agent.socket).args(args);
        c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&["user", "create", "anna", "--role", "owner"], &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut b = Browser::new(&web);
    assert_eq!(json(&b.call("GET", "/api/v1/auth/state", None).await)["setup_required"], false);
    assert_eq!(b.login("anna", PASSWORD).await.0, 200);
    // Enable TOTP, then lose the phone: the console resets it.
    let e = json(&b.call("POST", "/api/v1/me/totp/begin", Some(serde_json::json!({}))).await);
    let secret = totp_rs::Secret::try_from_base32(e["secret"].as_str().unwrap()).unwrap().as_bytes().to_vec();
    b.call(
        "POST",
        "/api/v1/me/totp/confirm",
        Some(serde_json::json!({"code": totp::current(&secret, "anna").unwrap()})),
    )
    .await;
    let out = run(&["user", "reset-2fa", "anna", "--yes"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut again = Browser::new(&web);
    assert_eq!(json(&again.login("anna", PASSWORD).await)["complete"], true);
    // Forgot the password: the console sets a new one and prints it.
    let out = run(&["user", "reset-password", "anna"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    let new_pw = text
        .lines()
        .find_map(|l| l.strip_prefix("new password: "))
        .unwrap_or_else(|| panic!("{text}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(again.call("GET", "/api/v1/me", None).await.0, 401, "sessions ended");
    assert_eq!(again.login("anna", new_pw).await.0, 200);
    let audit = json(&again.call("GET", "/api/v1/audit?actor=root@console&limit=100", None).await);
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["users.create", "users.reset_second_factor", "users.set_password"] {
        assert!(actions.contains(&a), "{a} not audited as root@console: {actions:?}");
    }
}

#[tokio::test]
async fn client_addresses_come_from_trusted_proxies_only() {
    let (_dir, _agent, web) = stack().await;
    let mut b = Browser::new(&web);
    b.setup_owner("anna").await;
    let cookie = b.cookie.clone().unwrap();
    let host = web.addr.to_string();
    let origin = format!("http://{host}");
    request(
        "POST",
        &web.url("/api/v1/host/self-check"),
        &[
            ("host", &host),
            ("origin", &origin),
            ("cookie", &cookie),
            ("x-forwarded-for", "203.0.113.66"),
            ("x-keepsake-client-addr", "198.51.100.77"),
        ],
        "{}",
    )
    .await;
    let audit = json(&b.call("GET", "/api/v1/audit?action=host.&limit=5", None).await);
    let source = audit["entries"][0]["source"].as_str().unwrap().to_owned();
    assert_eq!(source, "127.0.0.1 via web", "a client chose its own address");
}
