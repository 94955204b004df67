//! The request contract end to end: every mutating route refuses bad input without changing the
//! database, every refusal is audited, and the findings of trying to break it stay fixed.

use crate::harness::http::{header, json};
use crate::harness::{Agent, AgentOpts, Browser, PASSWORD, last_audit, open_tempdir, sqlite, stack};

/// The whole database as SQL, less what every mutating request is meant to add: its audit row and
/// the audit chain's head marker (and the event outbox rows that audit may publish).
fn dump(agent: &Agent) -> String {
    sqlite(&agent.state_dir.join("keepsake.db"), ".dump")
        .lines()
        .filter(|l| {
            !l.starts_with("INSERT INTO audit_log")
                && !l.contains("'audit.head'")
                && !l.starts_with("INSERT INTO outbox")
                && !l.starts_with("INSERT INTO sqlite_sequence VALUES('audit_log'")
                && !l.starts_with("INSERT INTO sqlite_sequence VALUES('outbox'")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn audit_rows(agent: &Agent) -> i64 {
    sqlite(&agent.state_dir.join("keepsake.db"), "SELECT count(*) FROM audit_log").trim().parse().unwrap()
}

#[tokio::test]
async fn bad_input_to_any_mutating_route_changes_nothing_and_is_audited() {
    let (_dir, agent, web) = stack().await;
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;
    let vic = owner.create_user("vic", "viewer").await;
    let group = json(
        &owner
            .call("POST", "/api/v1/groups", Some(serde_json::json!({"name": "family", "permissions": ["jobs.view"]})))
            .await,
    );
    let fill = |path: &str, id: i64| {
        path.replace("{id}", &id.to_string()).replace("{name}", "smtp_password").replace("{rule}", "auth.login_spike")
    };
    let doc = json(&owner.call("GET", "/api/v1/openapi.json", None).await);
    let mut walked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            if method == "GET" {
                continue;
            }
            let operation = op["operationId"].as_str().unwrap();
            assert_eq!(op["x-keepsake-audited"], true, "{method} {path} is not marked audited");
            let id = if path.starts_with("/api/v1/groups") {
                group["id"].as_i64().unwrap()
            } else {
                vic["id"].as_i64().unwrap()
            };
            // With a body: a field no request type has. Without: a query string no route takes.
            let (url, body) = if op.get("requestBody").is_some() {
                (fill(path, id), r#"{"surely_not_a_field": 1}"#)
            } else {
                (format!("{}?surely_not_a_parameter=1", fill(path, id)), "")
            };
            let before = dump(&agent);
            let rows = audit_rows(&agent);
            let r = owner.call_raw(&method, &url, body).await;
            let text = String::from_utf8_lossy(&r.2).to_string();
            assert_eq!(r.0, 400, "{method} {path} took bad input: {text}");
            let code = json(&r)["code"].as_str().unwrap_or_default().to_owned();
            assert!(code.starts_with("request."), "{method} {path}: code {code}");
            assert_eq!(dump(&agent), before, "{method} {path} changed the database on bad input");
            assert_eq!(audit_rows(&agent), rows + 1, "{method} {path}: one audit row per request");
            let (action, outcome, actor) = last_audit(&agent);
            assert_eq!(action, operation, "{method} {path}");
            assert_eq!(outcome, format!("error:{code}"), "{method} {path}");
            assert_eq!(actor, "anna", "{method} {path}");
            walked += 1;
        }
    }
    assert!(walked >= 30, "walked only {walked} mutating routes");
}

#[tokio::test]
async fn multi_step_writes_are_all_or_nothing() {
    let (_dir, agent, web) = stack().await;
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;
    let before = dump(&agent);
    let r = owner
        .call(
            "POST",
            "/api/v1/users",
            Some(serde_json::json!({"name": "ghost", "password": PASSWORD, "role": "viewer", "groups": [424242]})),
        )
        .await;
    assert_eq!(json(&r)["code"], "user.unknown_group", "{}", String::from_utf8_lossy(&r.2));
    assert_eq!(dump(&agent), before, "a refused create left something behind");

    let vic = owner.create_user("vic", "viewer").await;
    let before = dump(&agent);
    let r = owner
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", vic["id"]),
            Some(serde_json::json!({"role": "admin", "groups": [424242]})),
        )
        .await;
    assert_eq!(json(&r)["code"], "user.unknown_group", "{}", String::from_utf8_lossy(&r.2));
    assert_eq!(dump(&agent), before, "the role was written before the groups were refused");
}

#[tokio::test]
async fn findings_from_trying_to_break_it_stay_fixed() {
    let (_dir, agent, web) = stack().await;
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;
    for (name, role) in [("adam", "admin"), ("otto", "operator"), ("olga", "owner")] {
        owner.create_user(name, role).await;
    }
    let users = json(&owner.call("GET", "/api/v1/users", None).await);
    let id_of = |n: &str| users["users"].as_array().unwrap().iter().find(|u| u["name"] == n).unwrap()["id"].clone();
    let mut admin = Browser::new(&web);
    assert_eq!(admin.login("adam", PASSWORD).await.0, 200);

    // An admin cannot strip an owner's second factors; an owner can, and an admin can for others.
    let reset = |id: serde_json::Value| format!("/api/v1/users/{id}/reset-second-factor");
    let r = admin.call("POST", &reset(id_of("olga")), Some(serde_json::json!({}))).await;
    assert_eq!(r.0, 403, "{}", String::from_utf8_lossy(&r.2));
    assert_eq!(admin.call("POST", &reset(id_of("otto")), Some(serde_json::json!({}))).await.0, 200);
    assert_eq!(owner.call("POST", &reset(id_of("olga")), Some(serde_json::json!({}))).await.0, 200);

    // A huge claimed name is refused before it is stored anywhere.
    let size = || {
        let db = agent.state_dir.join("keepsake.db");
        let wal = agent.state_dir.join("keepsake.db-wal");
        std::fs::metadata(db).map(|m| m.len()).unwrap_or(0) + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    };
    let grown_from = size();
    let big = "n".repeat(200_000);
    let mut stranger = Browser::new(&web);
    for _ in 0..20 {
        let r = stranger.login(&big, "whatever").await;
        assert_eq!(r.0, 400, "{}", String::from_utf8_lossy(&r.2));
        assert!(r.2.len() < 2000, "the refusal echoes the input: {} bytes", r.2.len());
    }
    assert!(size() < grown_from + 1_000_000, "20 huge sign-ins grew the database by {} bytes", size() - grown_from);
    let (_, _, actor) = last_audit(&agent);
    assert!(actor.len() <= 80, "the audit actor is not bounded: {} bytes", actor.len());

    // Renaming a group onto another's name is a conflict with a code, not a 500.
    let a =
        json(&owner.call("POST", "/api/v1/groups", Some(serde_json::json!({"name": "a", "permissions": []}))).await);
    owner.call("POST", "/api/v1/groups", Some(serde_json::json!({"name": "b", "permissions": []}))).await;
    let r = owner
        .call("PUT", &format!("/api/v1/groups/{}", a["id"]), Some(serde_json::json!({"name": "b", "permissions": []})))
        .await;
    assert_eq!((r.0, json(&r)["code"].clone()), (409, "group.name_taken".into()), "{}", String::from_utf8_lossy(&r.2));

    // Valid by the document but refused by a rule: 422 with the rule's code, never 400.
    let r = owner
        .call(
            "POST",
            "/api/v1/users",
            Some(serde_json::json!({"name": "samesame12", "password": "samesame12", "role": "viewer"})),
        )
        .await;
    assert_eq!((r.0, json(&r)["code"].clone()), (422, "password.is_name".into()), "{}", String::from_utf8_lossy(&r.2));

    // 405 says what is allowed; a JSON array is not an object body.
    let r = owner.call("PUT", "/api/v1/users", Some(serde_json::json!({}))).await;
    assert_eq!(r.0, 405);
    assert_eq!(header(&r, "allow"), Some("GET, POST"));
    let r = owner.call_raw("POST", "/api/v1/host/self-check", "[]").await;
    assert_eq!((r.0, json(&r)["code"].clone()), (400, "request.invalid".into()));

    // A mutating request to no route at all is audited too.
    let r = owner.call("POST", "/api/v1/no/such/route", Some(serde_json::json!({}))).await;
    assert_eq!(r.0, 404);
    assert_eq!(last_audit(&agent).0, "api.unknown_route");

    // Throttled sign-ins say when to come back.
    let mut guesser = Browser::new(&web);
    let mut throttled = None;
    for _ in 0..30 {
        let r = guesser.login("otto", "not the password at all").await;
        if r.0 == 429 {
            throttled = Some(r);
            break;
        }
    }
    let r = throttled.expect("30 wrong passwords were never throttled");
    let wait: u64 = header(&r, "retry-after").expect("429 without Retry-After").parse().unwrap();
    assert!(wait >= 1);
    assert_eq!(json(&r)["code"], "auth.too_many_attempts");
}

#[tokio::test]
async fn oversized_bodies_and_refused_peers_are_audited() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    // Root, straight to the socket: a body over the agent's 1 MiB limit.
    let big = serde_json::json!({"value": "x".repeat(2 << 20)});
    let r = agent
        .client()
        .send(http::Method::PUT, "/api/v1/secrets/smtp_password", Some(&big))
        .await
        .expect("the agent answers");
    assert_eq!(r.status().as_u16(), 413);
    let (action, outcome, actor) = last_audit(&agent);
    assert_eq!((action.as_str(), outcome.as_str()), ("secrets.set", "error:request.too_large"));
    assert_eq!(actor, "root@console");

    // A uid the kernel lets connect (it is in the socket's group) but the agent refuses.
    let out = agent.cli(Some((4244, 4244, &[agent.opts.socket_gid])), &["self-check"]);
    assert!(!out.status.success());
    let (action, outcome, actor) = last_audit(&agent);
    assert_eq!(action, "host.self_check");
    assert_eq!(outcome, "denied:api.peer_not_allowed");
    assert!(actor.starts_with("unix:uid=4244"), "{actor}");
}
