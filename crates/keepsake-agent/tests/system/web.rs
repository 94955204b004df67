//! keepsake-web in front of a real agent: proxying, browser guards, streaming, no privileges.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use keepsake_api::{JobState, Status};

use crate::harness::http::{get, header, json, request};
use crate::harness::{Agent, AgentOpts, Browser, StalledSocket, Web, open_tempdir, wait_job};

#[tokio::test]
async fn proxies_the_api_and_refuses_cross_origin_and_oversized_mutations() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let web = Web::start(dir.path(), &agent.socket, None).await;

    assert_eq!(get(&web.url("/api/v1/status")).await.0, 401, "status needs a session");
    let mut browser = Browser::new(&web);
    browser.setup_owner("anna").await;
    let r = browser.call("GET", "/api/v1/status", None).await;
    assert_eq!(r.0, 200);
    let via_web: Status = serde_json::from_slice(&r.2).unwrap();
    let direct = agent.client().status().await.unwrap();
    assert_eq!(via_web.facilities, direct.facilities);
    assert_eq!(via_web.started_at, direct.started_at);
    assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"));

    let host = web.addr.to_string();
    let cookie = browser.cookie.clone().unwrap();
    let evil = request(
        "POST",
        &web.url("/api/v1/host/self-check"),
        &[
            ("host", &host),
            ("origin", "http://evil.example"),
            ("content-type", "application/json"),
            ("cookie", &cookie),
        ],
        "{}",
    )
    .await;
    assert_eq!(evil.0, 403);
    assert!(String::from_utf8_lossy(&evil.2).contains("cross_origin"));
    let fetch_site = request(
        "POST",
        &web.url("/api/v1/host/self-check"),
        &[("sec-fetch-site", "cross-site"), ("content-type", "application/json"), ("cookie", &cookie)],
        "{}",
    )
    .await;
    assert_eq!(fetch_site.0, 403);
    let big = "x".repeat(2 * 1024 * 1024);
    let oversized = request("POST", &web.url("/api/v1/host/self-check"), &[("cookie", &cookie)], &big).await;
    assert_eq!(oversized.0, 413);
    assert!(
        agent.client().jobs(&Default::default()).await.unwrap().jobs.is_empty(),
        "refused requests changed nothing"
    );

    let ok = browser.call("POST", "/api/v1/host/self-check", Some(serde_json::json!({}))).await;
    assert_eq!(ok.0, 202, "{}", String::from_utf8_lossy(&ok.2));
    assert_eq!(json(&ok)["requested_by"], "anna");
    // The agent's own errors pass through unchanged.
    let missing = browser.call("GET", "/api/v1/jobs/424242", None).await;
    assert_eq!(missing.0, 404);
    assert!(String::from_utf8_lossy(&missing.2).contains("no job with id 424242"));
}

#[tokio::test]
async fn server_sent_events_pass_through_as_they_happen() {
    let dir = open_tempdir();
    let stalled = StalledSocket::new(dir.path());
    let opts = AgentOpts { docker_host: stalled.docker_host(), probe_timeout_secs: 120, ..AgentOpts::default() };
    let agent = Agent::start(dir.path(), opts).await;
    let web = Web::start(dir.path(), &agent.socket, None).await;
    let client = agent.client();
    let job = client.start_self_check().await.unwrap();
    wait_job(&client, job.id, 20, "running", |j| j.state == JobState::Running).await;

    // The job stays running (Docker never answers), so its stream never ends: anything we read
    // arrived because the proxy flushed it, not because the body completed.
    let mut browser = Browser::new(&web);
    browser.setup_owner("anna").await;
    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = ::http::Request::get(web.url(&format!("/api/v1/jobs/{}/events", job.id)))
        .header("cookie", browser.cookie.clone().unwrap())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = http.request(req).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("\"state\":\"running\"") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("no event arrived through the proxy within 10 s: it is buffering")
            .expect("stream ended")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.starts_with("event:job"), "{seen}");
    assert_eq!(client.job(job.id).await.unwrap().state, JobState::Running);
    client.cancel_job(job.id).await.unwrap();
}

#[tokio::test]
async fn runs_as_an_unprivileged_user_with_no_capabilities() {
    let dir = open_tempdir();
    let nobody = 65534;
    let opts = AgentOpts { web_uid: nobody, ..AgentOpts::default() };
    let agent = Agent::start(dir.path(), opts.clone()).await;
    let web = Web::start(dir.path(), &agent.socket, Some((nobody, nobody, opts.socket_gid))).await;

    let status = std::fs::read_to_string(format!("/proc/{}/status", web.pid())).unwrap();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).unwrap().split_whitespace().collect::<Vec<_>>()[1..].to_vec()
    };
    assert!(field("Uid:").iter().all(|u| *u == "65534"), "{status}");
    assert_eq!(field("CapEff:"), vec!["0000000000000000"]);
    assert_eq!(field("CapBnd:"), vec!["0000000000000000"]);
    assert_eq!(field("NoNewPrivs:"), vec!["1"]);

    // Sign-in works end to end through the unprivileged server.
    let mut browser = Browser::new(&web);
    browser.setup_owner("anna").await;
    let r = browser.call("GET", "/api/v1/status", None).await;
    assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));
}

#[tokio::test]
async fn says_clearly_when_the_agent_is_down() {
    let dir = open_tempdir();
    let web = Web::start(dir.path(), &dir.path().join("no-agent.sock"), None).await;
    let r = get(&web.url("/api/v1/status")).await;
    assert_eq!(r.0, 502);
    let e: keepsake_api::ApiError = serde_json::from_slice(&r.2).unwrap();
    assert_eq!(e.code, "agent_unreachable");
    assert!(e.hint.is_some());
}

#[tokio::test]
async fn serves_the_dashboard_with_security_headers_and_spa_fallback() {
    let dir = open_tempdir();
    let web = Web::start(dir.path(), &dir.path().join("agent.sock"), None).await;
    let home = get(&web.url("/")).await;
    assert_eq!(home.0, 200, "the dashboard is not built: run `npm --prefix frontend run build` before the tests");
    assert!(header(&home, "content-type").unwrap().starts_with("text/html"));
    assert!(header(&home, "content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(header(&home, "x-frame-options"), Some("DENY"));
    let deep = get(&web.url("/some/app/route")).await;
    assert_eq!(deep.0, 200);
    assert_eq!(deep.2, home.2);
    assert_eq!(get(&web.url("/nope.js")).await.0, 404);
}
