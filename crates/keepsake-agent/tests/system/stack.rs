//! The Immich stack on the lab's real Docker engine, with stand-in images from the lab's loopback
//! registry (tests/lab/immich: Immich's images cannot be pulled here). The stand-ins follow Immich's
//! real contract (reference/immich.md): the server answers `/api/server/ping` and
//! `/api/server/version` with the real shapes once it has "migrated" its database (a real
//! PostgreSQL 15 container), Valkey is a real redis-server, and each has the health check of its
//! image or of the stack spec. Every test stack uses host networking on loopback ports of its own
//! and containers named after the test, so tests run side by side.

use std::process::Command;
use std::time::Duration;

use http::Method;
use keepsake_api::paths::{self, fill};
use keepsake_api::{Client, ContainerHealth, ContainerState, Job, JobResult, JobState, StackService, StackStatus};
use serde_json::json;

use crate::harness::{Agent, AgentOpts, free_port, lab, open_tempdir, wait_state};

/// The version a test stack is installed at (not the broken one).
const V1: &str = "v3.1.0";

pub struct Lab {
    pub server_repo: String,
    pub ml_repo: String,
    pub redis: String,
    pub postgres: String,
}

pub fn immich_lab() -> Lab {
    Lab {
        server_repo: lab("KEEPSAKE_LAB_IMMICH_SERVER_REPO", "immich"),
        ml_repo: lab("KEEPSAKE_LAB_IMMICH_ML_REPO", "immich"),
        redis: lab("KEEPSAKE_LAB_IMMICH_REDIS_IMAGE", "immich"),
        postgres: lab("KEEPSAKE_LAB_IMMICH_POSTGRES_IMAGE", "immich"),
    }
}

pub fn docker(args: &[&str]) -> std::process::Output {
    let host = lab("KEEPSAKE_LAB_DOCKER_HOST", "docker");
    Command::new("docker").env("DOCKER_HOST", host).args(args).output().expect("the docker client runs")
}

/// One appliance's stack: an agent whose containers are `<prefix>server`… on ports of their own.
pub struct TestBox {
    pub dir: tempfile::TempDir,
    pub agent: Agent,
    pub prefix: String,
    pub server_port: u16,
    /// The ZFS datasets of a box with restore points (library, postgres), destroyed at the end.
    pub zfs_root: Option<String>,
}

impl TestBox {
    pub async fn new(tag: &str, extra: &[&str]) -> TestBox {
        TestBox::start(tag, extra, false).await
    }

    /// A box whose library and database live on ZFS datasets of the lab pool, with restore
    /// points (what an update needs for its pre-update point).
    pub async fn with_restore_points(tag: &str) -> TestBox {
        TestBox::start(tag, &[], true).await
    }

    async fn start(tag: &str, extra: &[&str], zfs: bool) -> TestBox {
        let l = immich_lab();
        let dir = open_tempdir();
        let prefix = format!("ks{}{tag}_", std::process::id());
        let server_port = free_port();
        let ports = [free_port(), free_port(), free_port()];
        let mut args: Vec<String> = [
            "--immich-version",
            V1,
            "--immich-server-repo",
            &l.server_repo,
            "--immich-ml-repo",
            &l.ml_repo,
            "--immich-redis-image",
            &l.redis,
            "--immich-postgres-image",
            &l.postgres,
            "--stack-network",
            "host",
            "--stack-container-prefix",
            &prefix,
            "--stack-health-timeout-secs",
            if zfs { "45" } else { "120" },
            "--stack-stop-grace-secs",
            "10",
            "--no-container-watch",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (flag, port) in [
            ("--immich-port", server_port),
            ("--immich-db-port", ports[0]),
            ("--immich-redis-port", ports[1]),
            ("--immich-ml-port", ports[2]),
        ] {
            args.extend([flag.to_owned(), port.to_string()]);
        }
        let mut zfs_root = None;
        let pg = if zfs {
            let root = format!("{}/{}", lab("KEEPSAKE_LAB_ZPOOL", "zfs"), prefix.trim_end_matches('_'));
            for ds in [root.clone(), format!("{root}/library"), format!("{root}/postgres")] {
                let out = Command::new("zfs").args(["create", &ds]).output().expect("zfs");
                assert!(out.status.success(), "zfs create {ds}: {}", String::from_utf8_lossy(&out.stderr));
            }
            let mount = |ds: String| {
                let out = Command::new("zfs").args(["get", "-H", "-o", "value", "mountpoint", &ds]).output().unwrap();
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            };
            let library = mount(format!("{root}/library"));
            args.extend(["--immich-library-dir".into(), library, "--zfs-root".into(), root.clone()]);
            for (flag, service) in [("--immich-db-container", "postgres"), ("--immich-server-container", "server")] {
                args.extend([flag.to_owned(), format!("{prefix}{service}")]);
            }
            args.extend(["--pool-poll-secs".into(), "0".into()]);
            zfs_root = Some(root.clone());
            std::path::PathBuf::from(mount(format!("{root}/postgres")))
        } else {
            dir.path().join("postgres")
        };
        std::fs::create_dir_all(&pg).unwrap();
        args.extend(["--immich-postgres-dir".into(), pg.display().to_string()]);
        args.extend(["--immich-model-cache-dir".into(), dir.path().join("models").display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let opts = AgentOpts { extra_args: args, ..AgentOpts::with_lab() };
        let agent = Agent::start(dir.path(), opts).await;
        TestBox { dir, agent, prefix, server_port, zfs_root }
    }

    pub fn client(&self) -> Client {
        self.agent.client()
    }

    pub fn container(&self, service: &str) -> String {
        format!("{}{service}", self.prefix)
    }

    pub async fn status(&self) -> StackStatus {
        self.client().call_json(Method::GET, paths::STACK, None).await.expect("stack status")
    }

    pub async fn install(&self, body: serde_json::Value) -> Job {
        let job: Job = self.client().call_json(Method::POST, paths::STACK_INSTALL, Some(&body)).await.expect("install");
        wait_state(&self.client(), job.id, 240, JobState::Succeeded).await
    }

    pub async fn act(&self, service: &str, action: &str) -> Result<keepsake_api::Done, keepsake_api::ClientError> {
        let path = fill(paths::STACK_SERVICE_ACTION, &[("service", &service)]);
        self.client().call_json(Method::POST, &path, Some(&json!({ "action": action }))).await
    }

    /// The status once every service is healthy (a started container's health check needs a
    /// few seconds), or a failure showing it.
    pub async fn healthy_status(&self) -> StackStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.status().await;
            if s.healthy {
                return s;
            }
            assert!(std::time::Instant::now() < deadline, "not healthy within 60 s: {s:#?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// SQL in the database container (as Immich's role), its output.
    pub fn psql(&self, sql: &str) -> String {
        let out = docker(&[
            "exec",
            &self.container("postgres"),
            "psql",
            "-U",
            "postgres",
            "-d",
            "immich",
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
        ]);
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// What the server itself answers on its port.
    pub async fn server_version(&self) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{}/api/server/version", self.server_port);
        let r = crate::harness::http::get(&url).await;
        assert_eq!(r.0, 200, "GET {url}: {}", String::from_utf8_lossy(&r.2));
        crate::harness::http::json(&r)
    }
}

impl Drop for TestBox {
    fn drop(&mut self) {
        for s in ["server", "machine_learning", "redis", "postgres"] {
            let _ = docker(&["rm", "-f", &self.container(s)]);
        }
        // The database runs as another user inside its container: its files are removed as root here.
        let _ = std::fs::remove_dir_all(self.dir.path().join("postgres"));
        if let Some(root) = &self.zfs_root {
            self.agent.kill_hard();
            for _ in 0..20 {
                let out = Command::new("zfs").args(["destroy", "-r", root]).output().unwrap();
                if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("does not exist") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

pub fn service(s: &StackStatus, which: StackService) -> &keepsake_api::ServiceStatus {
    s.services.iter().find(|v| v.service == which).unwrap_or_else(|| panic!("{which:?} in {s:#?}"))
}

pub fn report(job: &Job) -> &keepsake_api::StackReport {
    match &job.result {
        Some(JobResult::StackInstalled(r)) => r,
        other => panic!("not an install report: {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn install_from_empty_is_healthy_pinned_and_idempotent() {
    let b = TestBox::new("inst", &[]).await;
    let before = b.status().await;
    assert!(!before.installed && !before.healthy, "{before:#?}");
    assert!(before.services.iter().all(|s| s.state == ContainerState::Missing), "{before:#?}");

    let job = b.install(json!({})).await;
    let r = report(&job);
    assert_eq!(r.version, V1);
    assert_eq!(r.created.len(), 4, "{r:?}");
    let s = b.status().await;
    assert!(s.installed && s.healthy, "{s:#?}");
    for v in &s.services {
        assert_eq!(v.state, ContainerState::Running, "{v:?}");
        assert!(v.drift.is_none(), "{v:?}");
    }
    let server = service(&s, StackService::Server);
    assert_eq!(server.health, Some(ContainerHealth::Healthy));
    assert_eq!(server.version.as_deref(), Some(V1));
    // Pinned by tag and digest.
    assert!(server.image.contains(&format!(":{V1}@sha256:")), "{}", server.image);
    assert_eq!(b.server_version().await, json!({"major": 3, "minor": 1, "patch": 0, "prerelease": null}));
    // Published on loopback only (host networking in tests: the server binds 127.0.0.1).
    let env = docker(&["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", &b.container("server")]);
    let env = String::from_utf8_lossy(&env.stdout);
    assert!(env.contains("IMMICH_HOST=127.0.0.1"), "{env}");
    // The database password is in the containers, never on the wire or in the agent's log.
    let pw = env.lines().find_map(|l| l.strip_prefix("DB_PASSWORD=")).expect("DB_PASSWORD").to_owned();
    assert!(pw.len() >= 16 && pw.chars().all(|c| c.is_ascii_alphanumeric()), "{pw}");
    assert!(!serde_json::to_string(&s).unwrap().contains(&pw));
    assert!(!b.agent.log().contains(&pw));

    // Again: nothing to pull, make or start.
    let again = b.install(json!({})).await;
    let r2 = report(&again);
    assert!(
        r2.pulled.is_empty() && r2.created.is_empty() && r2.recreated.is_empty() && r2.started.is_empty(),
        "{r2:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_container_removed_or_replaced_by_hand_is_made_again() {
    let b = TestBox::new("drift", &[]).await;
    b.install(json!({})).await;
    let rm = docker(&["rm", "-f", &b.container("server")]);
    assert!(rm.status.success());
    // Replaced by hand with the same name and image, without Keepsake's labels.
    let redis = immich_lab().redis;
    let out = docker(&["rm", "-f", &b.container("redis")]);
    assert!(out.status.success());
    let out = docker(&["create", "--name", &b.container("redis"), "--network", "none", &redis]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let s = b.status().await;
    assert!(!s.healthy);
    assert_eq!(service(&s, StackService::Server).state, ContainerState::Missing);
    assert!(service(&s, StackService::Server).drift.is_some());
    assert!(service(&s, StackService::Redis).drift.as_deref().unwrap_or("").contains("not made by Keepsake"), "{s:#?}");

    let job = b.install(json!({})).await;
    let r = report(&job);
    assert_eq!(r.created, vec![StackService::Server], "{r:?}");
    assert_eq!(r.recreated, vec![StackService::Redis], "{r:?}");
    let s = b.status().await;
    assert!(s.healthy, "{s:#?}");
    assert!(s.services.iter().all(|v| v.drift.is_none()), "{s:#?}");
}

#[tokio::test(flavor = "current_thread")]
async fn services_start_stop_and_restart_and_a_stopped_one_stays_stopped() {
    let b = TestBox::new("act", &[]).await;
    // Before an install there is nothing to act on.
    let e = b.act("server", "stop").await.unwrap_err();
    assert!(e.to_string().contains("not installed"), "{e}");
    b.install(json!({})).await;

    let started = service(&b.status().await, StackService::Server).started_at;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    b.act("server", "restart").await.expect("restart");
    let after = service(&b.status().await, StackService::Server).started_at;
    assert!(after > started, "restarted: {started:?} -> {after:?}");

    b.act("machine_learning", "stop").await.expect("stop");
    let s = b.status().await;
    assert_eq!(service(&s, StackService::MachineLearning).state, ContainerState::Exited);
    assert!(!s.healthy);
    // A reconcile leaves a service stopped through Keepsake stopped.
    let job = b.install(json!({})).await;
    assert!(report(&job).started.is_empty(), "{:?}", report(&job));
    assert_eq!(service(&b.status().await, StackService::MachineLearning).state, ContainerState::Exited);
    b.act("machine_learning", "start").await.expect("start");
    assert_eq!(service(&b.status().await, StackService::MachineLearning).state, ContainerState::Running);

    // Bad input changes nothing and says what is allowed.
    let path = fill(paths::STACK_SERVICE_ACTION, &[("service", &"nginx")]);
    let e = b.client().call_json::<serde_json::Value>(Method::POST, &path, Some(&json!({"action": "stop"}))).await;
    assert!(e.unwrap_err().to_string().contains("database, redis, machine_learning and server"));
    let path = fill(paths::STACK_SERVICE_ACTION, &[("service", &"server")]);
    let e = b.client().call_json::<serde_json::Value>(Method::POST, &path, Some(&json!({"action": "explode"}))).await;
    assert!(e.is_err());
    let e = b.client().call_json::<Job>(Method::POST, paths::STACK_INSTALL, Some(&json!({"version": "banana"}))).await;
    assert!(e.is_err());
    // Changing the version of an installed stack is an update, not an install.
    let e = b.client().call_json::<Job>(Method::POST, paths::STACK_INSTALL, Some(&json!({"version": "v3.2.0"}))).await;
    assert!(e.unwrap_err().to_string().contains("update"));
    let s = b.healthy_status().await;
    assert_eq!(s.version.as_deref(), Some(V1), "{s:#?}");
}

#[tokio::test(flavor = "current_thread")]
async fn logs_are_paged_filtered_and_followed_live() {
    let b = TestBox::new("logs", &[]).await;
    b.install(json!({})).await;
    b.server_version().await;
    let path = fill(paths::STACK_SERVICE_LOGS, &[("service", &"server")]);
    let all: keepsake_api::ContainerLogs = b.client().call_json(Method::GET, &path, None).await.expect("logs");
    assert!(all.lines.iter().any(|l| l.text.contains("listening")), "{all:#?}");
    assert!(all.lines.windows(2).all(|w| w[0].time <= w[1].time), "oldest first");
    let q = format!("{path}?filter=SERVER%2FVERSION&stream=stdout");
    let hits: keepsake_api::ContainerLogs = b.client().call_json(Method::GET, &q, None).await.expect("filtered");
    assert!(
        !hits.lines.is_empty() && hits.lines.iter().all(|l| l.text.to_lowercase().contains("server/version")),
        "{hits:#?}"
    );
    // The page before the oldest line read is empty: it was the first.
    let oldest = all.oldest.expect("oldest").to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let q = format!("{path}?until={}", oldest.replace('+', "%2B"));
    let before: keepsake_api::ContainerLogs = b.client().call_json(Method::GET, &q, None).await.expect("page before");
    assert!(before.lines.is_empty(), "{before:#?}");
    // Bad queries are refused.
    for bad in ["?tail=0", "?tail=99999", "?stream=stdin", "?since=yesterday"] {
        let e = b.client().call_json::<serde_json::Value>(Method::GET, &format!("{path}{bad}"), None).await;
        assert!(e.is_err(), "{bad} was accepted");
    }

    // Live: a line the server writes reaches the follower.
    let follow = fill(paths::STACK_SERVICE_LOGS_FOLLOW, &[("service", &"server")]);
    let mut events = b.client().events(&format!("{follow}?filter=server%2Fversion")).await.expect("follow");
    let reader = async {
        loop {
            let ev = events.next().await.expect("stream").expect("an event");
            if ev.event == keepsake_api::event::LINE {
                return ev.json::<keepsake_api::ContainerLogLine>().expect("a log line");
            }
        }
    };
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.server_version().await;
    };
    let (line, ()) = tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(reader, writer) })
        .await
        .expect("the line arrived within 20 s");
    assert!(line.text.contains("/api/server/version"), "{line:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_newer_version_is_found_from_the_registry_manifest_without_pulling() {
    let mut b = TestBox::new("check", &[]).await;
    b.install(json!({})).await;
    let check = |b: &TestBox, q: &'static str| {
        let c = b.client();
        async move {
            c.call_json::<keepsake_api::StackUpdateCheck>(Method::GET, &format!("{}{q}", paths::STACK_UPDATES), None)
                .await
                .expect("update check")
        }
    };
    let none = check(&b, "").await;
    assert_eq!((none.current.as_deref(), none.available.as_deref()), (Some(V1), None), "{none:?}");

    // A Keepsake release that runs v3.2.0: the agent offers it, with the registry's digest.
    let args = &mut b.agent.opts.extra_args;
    let at = args.iter().position(|a| a == "--immich-version").expect("flag") + 1;
    args[at] = "v3.2.0".into();
    b.agent.kill_hard();
    b.agent.restart().await;
    let offered = check(&b, "").await;
    assert_eq!(offered.available.as_deref(), Some("v3.2.0"), "{offered:?}");
    assert_eq!(offered.digest, Some(lab("KEEPSAKE_LAB_IMMICH_SERVER_DIGEST_V3_2_0", "immich")), "{offered:?}");
    assert!(offered.release_notes.as_deref().unwrap_or("").ends_with("/tag/v3.2.0"));
    assert!(offered.blocked.is_none() && offered.error.is_none(), "{offered:?}");
    // Cached unless asked to refresh.
    assert_eq!(check(&b, "").await.checked_at, offered.checked_at);
    assert!(check(&b, "?refresh=true").await.checked_at > offered.checked_at);
    // The answer feeds the `immich.update_available` alert.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let alerts: keepsake_api::AlertList =
            b.client().call_json(Method::GET, paths::ALERTS, None).await.expect("alerts");
        if alerts
            .alerts
            .iter()
            .any(|a| a.rule == "immich.update_available" && a.state == keepsake_api::AlertState::Firing)
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no update alert: {alerts:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Still running v3.1.0: a check changes nothing.
    assert_eq!(b.healthy_status().await.version.as_deref(), Some(V1));
}

/// Going back to an earlier version undoes what was added since: it is a restore, which operators
/// may not run (they may update: a failed update undoes itself). Viewers change nothing.
#[tokio::test]
async fn an_operator_may_update_but_not_roll_back_and_a_viewer_neither() {
    let (_dir, agent, web) = crate::harness::stack().await;
    let mut owner = crate::harness::Browser::new(&web);
    owner.setup_owner("olga").await;
    owner.create_user("otto", "operator").await;
    owner.create_user("vera", "viewer").await;
    let mut otto = crate::harness::Browser::new(&web);
    assert_eq!(otto.login("otto", crate::harness::PASSWORD).await.0, 200);
    let r = otto.call("POST", paths::STACK_ROLLBACK, Some(json!({"version": "v3.1.0", "confirm": "roll back"}))).await;
    assert_eq!(r.0, 403, "an operator cannot roll back: {}", String::from_utf8_lossy(&r.2));
    let (action, outcome, actor) = crate::harness::last_audit(&agent);
    assert_eq!(
        (action.as_str(), outcome.as_str(), actor.as_str()),
        ("stack.rollback", "denied:auth.permission_missing", "otto")
    );
    // An update passes the role check and meets the real refusal: nothing is installed here.
    let r = otto.call("POST", paths::STACK_UPDATE, Some(json!({"version": "v3.2.0"}))).await;
    assert_eq!(r.0, 409, "{}", String::from_utf8_lossy(&r.2));
    let mut vera = crate::harness::Browser::new(&web);
    assert_eq!(vera.login("vera", crate::harness::PASSWORD).await.0, 200);
    for (path, body) in [
        (paths::STACK_UPDATE.to_owned(), json!({"version": "v3.2.0"})),
        (paths::STACK_INSTALL.to_owned(), json!({})),
        (fill(paths::STACK_SERVICE_ACTION, &[("service", &"server")]), json!({"action": "stop"})),
    ] {
        let r = vera.call("POST", &path, Some(body)).await;
        assert_eq!(r.0, 403, "a viewer changes nothing: {path}");
    }
    assert_eq!(vera.call("GET", paths::STACK, None).await.0, 200, "but sees the stack");
}

#[tokio::test(flavor = "current_thread")]
async fn the_whole_stack_stops_starts_and_restarts_in_order() {
    let b = TestBox::new("whole", &[]).await;
    let act = |action: &'static str| {
        let c = b.client();
        async move {
            let job: Job = c
                .call_json(Method::POST, paths::STACK_ACTION, Some(&json!({ "action": action })))
                .await
                .expect("accepted");
            wait_state(&c, job.id, 240, JobState::Succeeded).await
        }
    };
    // Nothing to act on before an install.
    let e = b.client().call_json::<Job>(Method::POST, paths::STACK_ACTION, Some(&json!({"action": "stop"}))).await;
    assert!(e.expect_err("refused").to_string().contains("not installed"));
    b.install(json!({})).await;
    let before = b.status().await;

    let stopped = act("stop").await;
    let Some(JobResult::StackActed(r)) = &stopped.result else { panic!("{stopped:#?}") };
    // Down from the server to the database.
    use StackService::*;
    assert_eq!(r.services, vec![Server, MachineLearning, Redis, Database]);
    let s = b.status().await;
    assert!(s.services.iter().all(|v| v.state == ContainerState::Exited), "{s:#?}");
    // A reconcile leaves a stack stopped on purpose stopped.
    let job = b.install(json!({})).await;
    assert!(report(&job).started.is_empty(), "{:?}", report(&job));

    let started = act("start").await;
    let Some(JobResult::StackActed(r)) = &started.result else { panic!("{started:#?}") };
    assert_eq!(r.services, vec![Database, Redis, MachineLearning, Server]);
    assert!(b.status().await.healthy);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mid = b.status().await;
    act("restart").await;
    let after = b.healthy_status().await;
    for v in &after.services {
        let was = mid.services.iter().find(|m| m.service == v.service).unwrap().started_at;
        assert!(v.started_at > was, "{:?} was not restarted", v.service);
    }
    assert!(before.installed && after.installed);
}
