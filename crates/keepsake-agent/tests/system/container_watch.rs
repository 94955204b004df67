//! The container watcher against the lab's real Docker engine: a container that exits 3 on its own
//! is a crash, published once; one stopped through the Docker API is not.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions, StopContainerOptions};
use bollard::{API_DEFAULT_VERSION, Docker};
use keepsake_agent::events::{Consumer, Event, Events};
use keepsake_agent::host::container_watch;
use keepsake_agent::store::Store;

use crate::harness::lab;

pub(crate) const IMAGE: &str = "keepsake-lab/busybox:1";

/// Removes the test's containers, whatever happened.
pub(crate) struct Cleanup {
    pub(crate) docker_host: String,
    pub(crate) names: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["-H", &self.docker_host, "rm", "-f"])
            .args(&self.names)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

pub(crate) async fn run_container(docker: &Docker, name: &str, cmd: &[&str]) {
    let body = ContainerCreateBody {
        image: Some(IMAGE.to_owned()),
        cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
        host_config: Some(HostConfig { network_mode: Some("none".to_owned()), ..Default::default() }),
        ..Default::default()
    };
    let options = CreateContainerOptions { name: Some(name.to_owned()), ..Default::default() };
    docker.create_container(Some(options), body).await.unwrap_or_else(|e| panic!("create {name}: {e}"));
    docker.start_container(name, None).await.unwrap_or_else(|e| panic!("start {name}: {e}"));
}

/// Reads the outbox until `done` holds for what was read so far (within 30 s); returns it all.
async fn read_until(consumer: &mut Consumer, seen: &mut Vec<Event>, what: &str, done: impl Fn(&[Event]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = consumer.pending(100).unwrap();
        if let Some(last) = got.last() {
            consumer.ack(last.seq).unwrap();
        }
        seen.extend(got.into_iter().map(|d| d.event));
        if done(seen) {
            return;
        }
        assert!(Instant::now() < deadline, "no {what} within 30 s; the outbox has: {seen:#?}");
        let _ = tokio::time::timeout(Duration::from_millis(500), consumer.wait()).await;
    }
}

fn crashes_of<'a>(seen: &'a [Event], name: &str) -> Vec<&'a Event> {
    seen.iter().filter(|e| matches!(e, Event::ContainerCrashed { container, .. } if container == name)).collect()
}

#[tokio::test]
async fn a_crash_is_published_once_and_a_stop_through_the_api_is_not_a_crash() {
    let docker_host = lab("KEEPSAKE_LAB_DOCKER_HOST", "docker");
    let path = docker_host.strip_prefix("unix://").expect("a unix:// docker host");
    let docker = Docker::connect_with_unix(path, 30, API_DEFAULT_VERSION).unwrap().negotiate_version().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let events = Events::new(Arc::new(Store::open(dir.path()).unwrap()));
    let mut consumer = events.consumer("test.container_watch").unwrap();

    let id = std::process::id();
    let crashy = format!("ks-watch-crash-{id}");
    let sleeper = format!("ks-watch-stopped-{id}");
    let marker = format!("ks-watch-marker-{id}");
    let _cleanup =
        Cleanup { docker_host: docker_host.clone(), names: vec![crashy.clone(), sleeper.clone(), marker.clone()] };
    let watcher = tokio::spawn(container_watch::run(docker_host.clone(), events.clone()));
    let mut seen = Vec::new();

    // Exits 3 on its own: a crash.
    run_container(&docker, &crashy, &["sh", "-c", "exit 3"]).await;
    read_until(&mut consumer, &mut seen, "crash of the container that exits 3", |s| !crashes_of(s, &crashy).is_empty())
        .await;
    assert_eq!(
        crashes_of(&seen, &crashy),
        [&Event::ContainerCrashed { container: crashy.clone(), exit_code: 3, out_of_memory: false }]
    );
    assert!(seen.contains(&Event::ContainerRunning { container: crashy.clone() }), "{seen:#?}");

    // Stopped through the API as the agent would: not a crash. As PID 1, `sleep` ignores SIGTERM,
    // so the engine sends SIGTERM, then SIGKILL after the 1 s grace, and the exit code is 137.
    run_container(&docker, &sleeper, &["sleep", "600"]).await;
    let running = Event::ContainerRunning { container: sleeper.clone() };
    read_until(&mut consumer, &mut seen, "start of the sleeping container", |s| s.contains(&running)).await;
    docker.stop_container(&sleeper, Some(StopContainerOptions { t: Some(1), signal: None })).await.unwrap();
    let exit = docker.inspect_container(&sleeper, None).await.unwrap().state.and_then(|s| s.exit_code);
    assert_eq!(exit, Some(137), "the stopped container was killed, with a non-zero code");

    // Events come in order: once a later crash is published, the stop has been handled.
    run_container(&docker, &marker, &["sh", "-c", "exit 5"]).await;
    read_until(&mut consumer, &mut seen, "crash of the marker container", |s| !crashes_of(s, &marker).is_empty()).await;
    assert_eq!(crashes_of(&seen, &sleeper), Vec::<&Event>::new(), "a stop is not a crash: {seen:#?}");
    assert_eq!(crashes_of(&seen, &crashy).len(), 1, "the crash was published exactly once: {seen:#?}");
    assert_eq!(
        crashes_of(&seen, &marker),
        [&Event::ContainerCrashed { container: marker.clone(), exit_code: 5, out_of_memory: false }]
    );

    watcher.abort();
    for name in [&crashy, &sleeper, &marker] {
        let options = RemoveContainerOptions { force: true, ..Default::default() };
        docker.remove_container(name, Some(options)).await.unwrap();
    }
}
