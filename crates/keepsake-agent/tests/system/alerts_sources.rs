//! The acceptance for two alert sources, through the real agent binary and a real SMTP
//! server: real ZFS checksum errors (a zfs-fuse mirror damaged and scrubbed) fire exactly one
//! alert and `zpool clear` resolves it with one "resolved" message; a container that exits
//! non-zero on its own fires "crashed", one stopped through the Docker API does not.

use std::time::{Duration, Instant};

use bollard::query_parameters::StopContainerOptions;
use bollard::{API_DEFAULT_VERSION, Docker};
use http::Method;
use keepsake_api::{AlertList, AlertState, ChannelInfo, Client};
use serde_json::json;

use crate::container_watch::{Cleanup, run_container};
use crate::harness::{Agent, AgentOpts, SmtpSink, header, lab, open_tempdir};
use crate::pool_watch::{FaultPool, script};

async fn email_channel(c: &Client, port: u16) {
    let body = json!({
        "name": "Family mail",
        "settings": {"kind": "email", "host": "127.0.0.1", "port": port, "security": "none",
                     "from": "keepsake@example.org", "to": ["anna@example.org"]},
        "notify_on": "always"
    });
    let _: ChannelInfo = c.call_json(Method::POST, "/api/v1/alerts/channels", Some(&body)).await.unwrap();
}

async fn alerts(c: &Client) -> AlertList {
    c.call_json(Method::GET, "/api/v1/alerts", None).await.unwrap()
}

async fn wait_alert(c: &Client, rule: &str, subject: &str, state: AlertState, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let list = alerts(c).await;
        if list.alerts.iter().any(|a| a.rule == rule && a.subject == subject && a.state == state) {
            return;
        }
        assert!(Instant::now() < deadline, "no {state:?} {rule} alert for {subject} within {secs} s: {list:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn subjects_about(sink: &SmtpSink, what: &str) -> Vec<String> {
    sink.messages().iter().filter_map(|m| header(m, "Subject")).filter(|s| s.contains(what)).collect()
}

#[tokio::test]
async fn real_checksum_errors_fire_one_alert_and_zpool_clear_resolves_it_with_one_message() {
    lab("KEEPSAKE_LAB_ZPOOL", "zfs");
    let dir = open_tempdir();
    let mut sink = SmtpSink::new(dir.path());
    sink.start();
    let opts = AgentOpts { extra_args: vec!["--pool-poll-secs".into(), "1".into()], ..AgentOpts::default() };
    let agent = Agent::start(dir.path(), opts).await;
    let c = agent.client();
    email_channel(&c, sink.port).await;

    let pool = FaultPool {
        name: format!("ks-alert-{}", std::process::id()),
        dir: tempfile::Builder::new().prefix("keepsake-alert-pool-").tempdir().unwrap(),
    };
    script(&["create", &pool.name, pool.dir()]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(subjects_about(&sink, &pool.name).is_empty(), "a healthy pool sends nothing: {:?}", sink.messages());

    script(&["corrupt", &pool.name, pool.dir()]);
    wait_alert(&c, "zfs.device_errors", &pool.name, AlertState::Firing, 30).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while subjects_about(&sink, &pool.name).is_empty() {
        assert!(Instant::now() < deadline, "no alert email about {}", pool.name);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Several polls see the same errors: still one message.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let fired = subjects_about(&sink, &pool.name);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].contains("checksum errors"), "{}", fired[0]);

    script(&["clear", &pool.name]);
    wait_alert(&c, "zfs.device_errors", &pool.name, AlertState::Resolved, 30).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while subjects_about(&sink, &pool.name).len() < 2 {
        assert!(Instant::now() < deadline, "no resolved email about {}", pool.name);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = subjects_about(&sink, &pool.name);
    assert_eq!(all.len(), 2, "one alert, one resolution: {all:?}");
    assert!(all[1].contains("Resolved"), "{}", all[1]);
    let body = sink.messages().into_iter().find(|m| header(m, "Subject").is_some_and(|s| s == all[0])).unwrap();
    assert!(body.contains("/help/zfs-checksum-errors"), "the KB link: {body}");
}

#[tokio::test]
async fn a_container_that_crashes_on_its_own_fires_and_one_stopped_through_the_api_does_not() {
    let docker_host = lab("KEEPSAKE_LAB_DOCKER_HOST", "docker");
    let dir = open_tempdir();
    let mut sink = SmtpSink::new(dir.path());
    sink.start();
    let opts = AgentOpts { docker_host: docker_host.clone(), ..AgentOpts::default() };
    let agent = Agent::start(dir.path(), opts).await;
    let c = agent.client();
    email_channel(&c, sink.port).await;
    // The watcher connects in the background; give it a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let tag = std::process::id();
    let crashing = format!("ks-alert-crash-{tag}");
    let stopped = format!("ks-alert-stop-{tag}");
    let _cleanup = Cleanup { docker_host: docker_host.clone(), names: vec![crashing.clone(), stopped.clone()] };
    let path = docker_host.strip_prefix("unix://").unwrap();
    let docker = Docker::connect_with_unix(path, 30, API_DEFAULT_VERSION).unwrap().negotiate_version().await.unwrap();

    run_container(&docker, &stopped, &["sleep", "300"]).await;
    run_container(&docker, &crashing, &["sh", "-c", "sleep 1; exit 3"]).await;
    docker.stop_container(&stopped, Some(StopContainerOptions { t: Some(1), ..Default::default() })).await.unwrap();

    wait_alert(&c, "container.crashed", &crashing, AlertState::Firing, 30).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while subjects_about(&sink, &crashing).is_empty() {
        assert!(Instant::now() < deadline, "no crash email for {crashing}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(subjects_about(&sink, &crashing)[0].contains("exit code 3"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let list = alerts(&c).await;
    assert!(!list.alerts.iter().any(|a| a.subject == stopped), "a stop is not a crash: {list:#?}");
    assert!(subjects_about(&sink, &stopped).is_empty());
}
