//! keepsake-web in front of a real agent: proxying, browser guards, streaming, no privileges, and
//! what it does against DNS rebinding, slow clients and too many connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use keepsake_api::{JobState, Status};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::http::{Resp, get, header, json, request};
use crate::harness::{Agent, AgentOpts, Browser, PASSWORD, StalledSocket, Web, open_tempdir, wait_job};

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
    assert_eq!(json(&evil)["code"], "web.origin_refused");
    let fetch_site = request(
        "POST",
        &web.url("/api/v1/host/self-check"),
        &[("sec-fetch-site", "cross-site"), ("content-type", "application/json"), ("cookie", &cookie)],
        "{}",
    )
    .await;
    assert_eq!(fetch_site.0, 403);
    let no_origin = request("POST", &web.url("/api/v1/host/self-check"), &[("cookie", &cookie)], "{}").await;
    assert_eq!(no_origin.0, 403, "a change without Origin is refused");
    assert_eq!(json(&no_origin)["code"], "web.origin_refused");
    // An oversized body is refused from its Content-Length alone, before it is read. (Sent
    // whole, the server's answer and close race the client's writing: a broken pipe on a busy
    // machine, not the answer.)
    let origin = web.url("");
    let addr = web.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/host/self-check HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nOrigin: {origin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        2 * 1024 * 1024
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        // Until the refusal's code has come, or the server closed the connection.
        while !String::from_utf8_lossy(&answer).contains("body_too_large") {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("answered within 10 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("web.body_too_large"), "{answer}");
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
async fn server_sent_events_pass_through_as_they_happen_and_outlive_the_header_timeout() {
    let dir = open_tempdir();
    let stalled = StalledSocket::new(dir.path());
    let opts = AgentOpts { docker_host: stalled.docker_host(), probe_timeout_secs: 120, ..AgentOpts::default() };
    let agent = Agent::start(dir.path(), opts).await;
    let web = Web::start_with(dir.path(), &agent.socket, None, &["--header-timeout", "1"]).await;
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
    let mut read_until = async |what: &str, why: &str| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !seen.contains(what) {
            let frame = tokio::time::timeout_at(deadline, body.frame())
                .await
                .unwrap_or_else(|_| panic!("no `{what}` arrived through the proxy within 10 s: {why}"))
                .expect("stream ended")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
            }
        }
        seen.clone()
    };
    let first = read_until("\"state\":\"running\"", "it is buffering").await;
    assert!(first.starts_with("event:job"), "{first}");
    assert_eq!(client.job(job.id).await.unwrap().state, JobState::Running);

    // Past the 1 s header-read timeout, the stream still carries events.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    client.cancel_job(job.id).await.unwrap();
    read_until("\"state\":\"cancelled\"", "the header timeout cut a live event stream").await;
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
    assert_eq!(e.code, "web.agent_unreachable");
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

/// A request as a page on `host` would send it: that `Host`, and an `Origin` of `http://{host}`.
async fn as_page_on(web: &Web, host: &str, method: &str, path: &str, cookie: Option<&str>, body: &str) -> Resp {
    let origin = format!("http://{host}");
    let mut headers = vec![("host", host), ("origin", origin.as_str()), ("content-type", "application/json")];
    if let Some(c) = cookie {
        headers.push(("cookie", c));
    }
    request(method, &web.url(path), &headers, body).await
}

#[tokio::test]
async fn a_rebound_name_can_neither_set_up_nor_sign_in_nor_read() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let web = Web::start_with(dir.path(), &agent.socket, None, &["--allowed-host", "keepsake.test"]).await;
    let port = web.addr.port();
    // evil.example resolved to this box: the browser sends its own name as Host and as Origin.
    let evil = format!("evil.example:{port}");
    let setup = serde_json::json!({"name": "mallory", "password": PASSWORD}).to_string();
    let r = as_page_on(&web, &evil, "POST", "/api/v1/auth/setup", None, &setup).await;
    assert_eq!(r.0, 421, "{}", String::from_utf8_lossy(&r.2));
    let e = json(&r);
    assert_eq!(e["code"], "web.host_not_allowed");
    assert!(e["message"].as_str().unwrap().contains("evil.example"), "{e}");
    assert!(e["hint"].as_str().unwrap().contains("--allowed-host"), "the hint names the flag: {e}");

    // The owner's own setup still works, so the rebound one changed nothing.
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;
    let cookie = owner.cookie.clone().unwrap();

    // Failed sign-ins from the rebound page never reach the agent, so they cannot lock anna out.
    let wrong = serde_json::json!({"name": "anna", "password": "wrong password, many times"}).to_string();
    for _ in 0..12 {
        let r = as_page_on(&web, &evil, "POST", "/api/v1/auth/login", None, &wrong).await;
        assert_eq!(r.0, 421);
    }
    let mut again = Browser::new(&web);
    let r = again.login("anna", PASSWORD).await;
    assert_eq!(r.0, 200, "anna signs in after the rebound attempts: {}", String::from_utf8_lossy(&r.2));

    // Nor can it read anything, signed in or not.
    for path in ["/", "/api/v1/health", "/api/v1/status", "/api/v1/users"] {
        let r = as_page_on(&web, &evil, "GET", path, Some(&cookie), "").await;
        assert_eq!(r.0, 421, "GET {path}");
        assert_eq!(json(&r)["code"], "web.host_not_allowed", "GET {path}");
        assert_eq!(header(&r, "x-frame-options"), Some("DENY"), "refusals carry the security headers too");
    }

    // A name given with --allowed-host works on any port, reads and writes alike.
    let lan = format!("keepsake.test:{port}");
    let r = as_page_on(&web, &lan, "GET", "/api/v1/status", Some(&cookie), "").await;
    assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));
    let right = serde_json::json!({"name": "anna", "password": PASSWORD}).to_string();
    let r = as_page_on(&web, &lan, "POST", "/api/v1/auth/login", None, &right).await;
    assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));
}

/// A client that opens a connection from `source` and sends a request head one line every
/// `every`, never finishing it. Returns how long the server kept the connection open, counting
/// closed connections in `closed`.
fn slow_loris(
    server: SocketAddr,
    source: &str,
    every: Duration,
    closed: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<Duration> {
    let source: SocketAddr = format!("{source}:0").parse().unwrap();
    tokio::spawn(async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(source).unwrap();
        let mut conn = socket.connect(server).await.unwrap();
        let started = Instant::now();
        let mut line = format!("GET / HTTP/1.1\r\nHost: {server}\r\n").into_bytes();
        let mut buf = [0u8; 1024];
        loop {
            // Write errors are ignored: a closed connection shows as the read's EOF or error.
            let _ = conn.write_all(&line).await;
            line = b"X-Slow: still here\r\n".to_vec();
            let deadline = tokio::time::sleep(every);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    n = conn.read(&mut buf) => match n {
                        Ok(0) | Err(_) => {
                            closed.fetch_add(1, Ordering::SeqCst);
                            return started.elapsed();
                        }
                        Ok(_) => {}
                    },
                    () = &mut deadline => break,
                }
            }
            assert!(started.elapsed() < Duration::from_secs(30), "a slow-loris connection stayed open for 30 s");
        }
    })
}

#[tokio::test]
async fn slow_loris_and_idle_connections_are_closed_within_the_default_header_timeout() {
    let dir = open_tempdir();
    // No flags: the default timeout (10 s) is what is measured.
    let web = Web::start(dir.path(), &dir.path().join("no-agent.sock"), None).await;
    let closed = Arc::new(AtomicUsize::new(0));
    let slow: Vec<_> =
        (0..5).map(|_| slow_loris(web.addr, "127.0.0.1", Duration::from_secs(2), Arc::clone(&closed))).collect();
    // A connection that says nothing, and one kept alive after a complete request.
    let idle = tokio::spawn(held_open(web.addr, b""));
    let kept_alive = tokio::spawn(held_open(web.addr, b"GET /nope.js HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    for s in slow {
        let held = s.await.unwrap();
        assert!(
            held >= Duration::from_secs(9) && held <= Duration::from_secs(13),
            "a slow-loris connection was held {held:?}, not about the 10 s header timeout"
        );
    }
    for (what, t) in [("an idle connection", idle), ("a kept-alive connection", kept_alive)] {
        let held = t.await.unwrap();
        assert!(held <= Duration::from_secs(13), "{what} was held {held:?}");
    }
}

/// Opens a connection, sends `first`, then nothing; returns how long the server kept it open.
async fn held_open(server: SocketAddr, first: &[u8]) -> Duration {
    let mut conn = tokio::net::TcpStream::connect(server).await.unwrap();
    let started = Instant::now();
    conn.write_all(first).await.unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(30), conn.read(&mut buf)).await {
            Err(_) => panic!("the server kept a silent connection open for 30 s"),
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn connections_beyond_the_caps_do_not_starve_a_normal_client() {
    let dir = open_tempdir();
    let args = ["--max-connections", "8", "--max-connections-per-client", "4", "--header-timeout", "3"];
    let web = Web::start_with(dir.path(), &dir.path().join("no-agent.sock"), None, &args).await;
    let closed = Arc::new(AtomicUsize::new(0));
    let every = Duration::from_millis(500);

    // One client (127.0.0.2) opens ten: beyond its four, they are closed at once.
    let started = Instant::now();
    let greedy: Vec<_> = (0..10).map(|_| slow_loris(web.addr, "127.0.0.2", every, Arc::clone(&closed))).collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(closed.load(Ordering::SeqCst), 6, "six of ten closed at once");
    let t = Instant::now();
    let r = get(&web.url("/nope.js")).await;
    assert_eq!(r.0, 404);
    assert!(t.elapsed() < Duration::from_secs(1), "a normal client waited {:?} behind one greedy client", t.elapsed());

    // Many clients together fill the server's cap (8): a new client waits, but only until the
    // header timeout frees places, never for good.
    let crowd: Vec<_> = (0..4).map(|_| slow_loris(web.addr, "127.0.0.3", every, Arc::clone(&closed))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let r = get(&web.url("/nope.js")).await;
    assert_eq!(r.0, 404);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(500), "the cap of 8 did not hold: served in {waited:?}");
    assert!(waited <= Duration::from_secs(5), "a normal client waited {waited:?} at the cap");
    assert!(started.elapsed() < Duration::from_secs(7));
    for s in greedy.into_iter().chain(crowd) {
        assert!(s.await.unwrap() <= Duration::from_secs(6), "the slow connections were all closed by the timeout");
    }
}

#[tokio::test]
async fn a_trickled_body_is_cut_at_the_body_timeout() {
    let dir = open_tempdir();
    let web = Web::start_with(dir.path(), &dir.path().join("no-agent.sock"), None, &["--body-timeout", "2"]).await;
    let mut conn = tokio::net::TcpStream::connect(web.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{",
        a = web.addr
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_millis(400));
    loop {
        tokio::select! {
            n = conn.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            _ = tick.tick() => { let _ = conn.write_all(b" ").await; }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "a trickled body held the request for 10 s");
        if answer.ends_with(b"}") {
            break;
        }
    }
    let held = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"web.body_timeout\""), "{answer}");
    assert!(held >= Duration::from_millis(1800) && held <= Duration::from_secs(4), "cut after {held:?}, not 2 s");
}
