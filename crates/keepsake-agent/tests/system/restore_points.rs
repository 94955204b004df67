//! Restore points against real parts: ZFS (the lab's zfs-fuse pool, datasets made per test), a real
//! PostgreSQL 15 *container* standing in for Immich's database container (`tests/lab/pg_container.sh`,
//! reached by `docker exec` exactly as `immich_postgres` is), and the real Docker engine. Immich's
//! server image cannot run here: a busybox container tagged like Immich's server image stands in
//! for it (the agent only stops and starts it, and reads the version from its image tag). The
//! database holds an Immich-shaped schema (`asset`, `"user"`, `album`) with real rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use http::Method;
use keepsake_api::{Client, Job, JobResult, JobState, RestorePlan, RestorePointList, RestorePointState};
use serde_json::json;
use sha2::Digest;

use crate::harness::{Agent, AgentOpts, lab, open_tempdir, wait_state};

fn pg_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lab/pg_container.sh")
}

pub(crate) fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const SCHEMA: &str = r#"
CREATE TABLE "user" (id serial PRIMARY KEY, email text NOT NULL);
CREATE TABLE asset (id uuid PRIMARY KEY, owner int REFERENCES "user"(id), path text NOT NULL, checksum bytea, exif jsonb);
CREATE TABLE album (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO "user"(email) VALUES ('anna@example.org'), ('ben@example.org');
INSERT INTO album(name) VALUES ('Holidays'), (E'two\nlines'), ('SELECT pg_catalog.set_config(''search_path'', '''', false);');
"#;

/// One box: datasets under the lab pool, Immich's database and server stand-ins, an agent.
pub(crate) struct Instance {
    pub(crate) root: String,
    pub(crate) library: PathBuf,
    pub(crate) db: String,
    pub(crate) server: String,
    pub(crate) agent: Agent,
    pub(crate) _dir: tempfile::TempDir,
}

impl Instance {
    async fn new(assets: u32, env: &[(&str, &str)]) -> Instance {
        Instance::with_args(assets, env, &[]).await
    }

    /// [`Instance::new`] with more agent arguments (`{dir}` in them stands for the agent's folder).
    pub(crate) async fn with_args(assets: u32, env: &[(&str, &str)], more: &[&str]) -> Instance {
        let pool = lab("KEEPSAKE_LAB_ZPOOL", "zfs");
        let docker_host = lab("KEEPSAKE_LAB_DOCKER_HOST", "docker");
        lab("KEEPSAKE_LAB_PG_IMAGE", "pgcontainer");
        let tag = format!("rp{}", std::process::id() as u64 * 1000 + rand_suffix());
        let root = format!("{pool}/{tag}");
        for ds in [root.clone(), format!("{root}/library"), format!("{root}/postgres"), format!("{root}/state")] {
            run("zfs", &["create", &ds]);
        }
        let mount = |ds: &str| PathBuf::from(run("zfs", &["get", "-H", "-o", "value", "mountpoint", ds]).trim());
        let library = mount(&format!("{root}/library"));
        let (db, server) = (format!("ks-{tag}-db"), format!("ks-{tag}-server"));
        run(pg_script().to_str().unwrap(), &["start", &db, mount(&format!("{root}/postgres")).to_str().unwrap()]);
        // Immich's server stand-in, tagged like Immich's image so the version is read from it.
        run("docker", &["tag", "keepsake-lab/busybox:1", "keepsake-lab/immich-server:v1.136.0"]);
        run(
            "docker",
            &[
                "run",
                "-d",
                "--name",
                &server,
                "--network",
                "none",
                "keepsake-lab/immich-server:v1.136.0",
                "sh",
                "-c",
                // Stops on SIGTERM at once, as Immich's server does (a bare `sleep` as PID 1 ignores
                // it, and every stop would wait out Docker's timeout).
                "trap 'exit 0' TERM; while :; do sleep 1; done",
            ],
        );
        psql(&db, SCHEMA);
        psql(
            &db,
            &format!(
                "INSERT INTO asset SELECT md5(g::text)::uuid, 1 + g % 2, 'upload/' || g || '.jpg', decode(md5(g::text), 'hex'), \
             jsonb_build_object('iso', g, 'lens', repeat('x', 100)) FROM generate_series(1, {assets}) g"
            ),
        );
        for (rel, body) in
            [("upload/anna/IMG_1.jpg", "first photo"), ("upload/ben/IMG_2.jpg", "second"), ("library/.immich", "")]
        {
            write(&library.join(rel), body.as_bytes());
        }
        let dir = open_tempdir();
        let (options_json, options_nix) = (dir.path().join("options.json"), dir.path().join("options.nix"));
        std::fs::write(&options_json, r#"{"hostName": "immich"}"#).unwrap();
        let opts = AgentOpts {
            docker_host,
            extra_args: [
                "--zfs-root",
                &root,
                "--immich-db-container",
                &db,
                "--immich-server-container",
                &server,
                "--pool-poll-secs",
                "0",
                "--no-container-watch",
                "--config-file",
                options_json.to_str().unwrap(),
                // Missing on this box: left out of the point, not an error.
                "--config-file",
                options_nix.to_str().unwrap(),
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(more.iter().map(|s| s.replace("{dir}", &dir.path().display().to_string())))
            .collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..AgentOpts::default()
        };
        let agent = Agent::start(dir.path(), opts).await;
        Instance { root, library, db, server, agent, _dir: dir }
    }

    pub(crate) fn client(&self) -> Client {
        self.agent.client()
    }

    pub(crate) fn psql(&self, sql: &str) -> String {
        psql(&self.db, sql)
    }

    /// Every row of every table, in a stable order: what "the database is back" means.
    pub(crate) fn db_rows(&self) -> String {
        self.psql(
            "SELECT 'user', count(*), md5(string_agg(u::text, ',' ORDER BY id)) FROM \"user\" u UNION ALL \
             SELECT 'asset', count(*), md5(string_agg(a::text, ',' ORDER BY id)) FROM asset a UNION ALL \
             SELECT 'album', count(*), md5(string_agg(b::text, ',' ORDER BY id)) FROM album b",
        )
    }

    pub(crate) fn server_running(&self) -> bool {
        run("docker", &["inspect", "-f", "{{.State.Running}}", &self.server]).trim() == "true"
    }

    pub(crate) fn server_started_at(&self) -> String {
        run("docker", &["inspect", "-f", "{{.State.StartedAt}}", &self.server]).trim().to_owned()
    }

    pub(crate) async fn list(&self) -> RestorePointList {
        self.client().call_json(Method::GET, "/api/v1/restore-points", None).await.unwrap()
    }

    pub(crate) async fn create(&self, note: &str) -> Job {
        let job: Job = self
            .client()
            .call_json(Method::POST, "/api/v1/restore-points", Some(&json!({"note": note})))
            .await
            .unwrap();
        self.finish(job.id, JobState::Succeeded).await
    }

    pub(crate) async fn finish(&self, id: i64, want: JobState) -> Job {
        let job = wait_state(&self.client(), id, 120, want).await;
        assert_eq!(job.state, want, "job {id}: {job:?}\nagent log:\n{}", self.agent.log());
        job
    }

    pub(crate) async fn restore(&self, point: &str, body: serde_json::Value) -> Result<Job, keepsake_api::ClientError> {
        let path = format!("/api/v1/restore-points/{}/restore", keepsake_api::paths::encode_segment(point));
        self.client().call_json(Method::POST, &path, Some(&body)).await
    }

    fn snapshots(&self) -> Vec<String> {
        run("zfs", &["list", "-H", "-t", "snapshot", "-o", "name", "-r", &self.root])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn psql(container: &str, sql: &str) -> String {
    run(pg_script().to_str().unwrap(), &["psql", container, sql])
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.agent.kill_hard();
        let _ = Command::new("docker").args(["rm", "-f", &self.server]).output();
        let _ = Command::new(pg_script()).args(["stop", &self.db]).output();
        for _ in 0..20 {
            let out = Command::new("zfs").args(["destroy", "-r", &self.root]).output().unwrap();
            if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("does not exist") {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64 % 1000
}

pub(crate) fn write(p: &Path, body: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// Every file under `dir` with the SHA-256 of its bytes.
pub(crate) fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let digest = sha2::Sha256::digest(std::fs::read(&p).unwrap());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                out.insert(p.strip_prefix(base).unwrap().display().to_string(), hex);
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

pub(crate) fn pre_point(job: &Job) -> String {
    match &job.result {
        Some(JobResult::Restored(r)) | Some(JobResult::ResetUndone(r)) | Some(JobResult::Reset(r)) => {
            r.pre_point_id.clone()
        }
        other => panic!("no restore report in {other:?}"),
    }
}

pub(crate) fn created_point(job: &Job) -> String {
    match &job.result {
        Some(JobResult::RestorePointCreated(r)) => r.point_id.clone(),
        other => panic!("no point in {other:?}"),
    }
}

#[tokio::test]
async fn a_whole_instance_comes_back_byte_for_byte_and_the_pre_restore_point_undoes_it() {
    let i = Instance::new(500, &[]).await;
    let (rows_then, files_then) = (i.db_rows(), files(&i.library));
    let point = created_point(&i.create("before tidying").await);

    // The point: complete, with a dump named like Immich's, both snapshots and the configuration.
    let list = i.list().await;
    let p = list.points.iter().find(|p| p.id == point).expect("the new point is listed");
    assert_eq!(p.state, RestorePointState::Complete);
    assert_eq!((p.immich_version.as_deref(), p.note.as_deref()), (Some("1.136.0"), Some("before tidying")));
    let names: Vec<&str> = p.parts.iter().map(|x| x.name.as_str()).collect();
    assert!(
        names[0].starts_with("immich-db-backup-")
            && names[0].contains("-v1.136.0-pg15.")
            && names[0].ends_with(".sql.zst"),
        "{names:?}"
    );
    assert!(
        names.contains(&format!("{}/library@{point}", i.root).as_str())
            && names.contains(&format!("{}/postgres@{point}", i.root).as_str()),
        "{names:?}"
    );
    assert!(names.contains(&"config/agent-settings.json") && names.contains(&"config/options.json"), "{names:?}");
    assert!(!names.contains(&"config/options.nix"), "{names:?}");
    assert!(
        p.parts.iter().all(|x| !x.checksum.is_empty() && (x.size > 0 || x.name.ends_with(".json"))),
        "{:?}",
        p.parts
    );
    assert!(i.snapshots().iter().all(|s| !s.contains("autosnap_")));

    // Change everything: rows added, changed and removed; files added, changed and removed.
    i.psql("DELETE FROM asset WHERE path LIKE 'upload/1%'; UPDATE album SET name = 'renamed'; INSERT INTO \"user\"(email) VALUES ('eve@example.org')");
    write(&i.library.join("upload/anna/IMG_1.jpg"), b"overwritten");
    std::fs::remove_file(i.library.join("upload/ben/IMG_2.jpg")).unwrap();
    write(&i.library.join("upload/eve/new.jpg"), b"added later");
    let (rows_changed, files_changed) = (i.db_rows(), files(&i.library));
    assert_ne!(rows_changed, rows_then);

    // The wizard's plan says what happens, and the restore wants the typed phrase.
    let plan: RestorePlan = i
        .client()
        .call_json(Method::POST, &format!("/api/v1/restore-points/{point}/plan"), Some(&json!({"scope": "instance"})))
        .await
        .unwrap();
    assert!(plan.makes_pre_restore_point && plan.stops_immich && plan.impact.len() >= 3, "{plan:?}");
    let err = i.restore(&point, json!({"scope": "instance", "confirm": "yes"})).await.unwrap_err();
    assert_eq!(err.code(), Some("restore.confirmation"), "{err:?}");

    let job = i.restore(&point, json!({"scope": "instance", "confirm": plan.confirmation})).await.unwrap();
    let job = i.finish(job.id, JobState::Succeeded).await;
    assert_eq!(i.db_rows(), rows_then, "the database rows are back");
    assert_eq!(files(&i.library), files_then, "the files are back byte for byte");
    assert!(i.server_running(), "Immich's server runs again");

    // The pre-restore point holds the changed state: restoring it brings that back.
    let pre = pre_point(&job);
    let job = i.restore(&pre, json!({"scope": "instance", "confirm": "restore"})).await.unwrap();
    i.finish(job.id, JobState::Succeeded).await;
    assert_eq!(i.db_rows(), rows_changed, "the pre-restore point undoes the restore");
    assert_eq!(files(&i.library), files_changed);
}

#[tokio::test]
async fn an_agent_killed_during_a_dump_leaves_no_usable_point_and_the_next_run_succeeds() {
    let mut i = Instance::new(30_000, &[("KEEPSAKE_TEST_FAULT", "slow_dump")]).await;
    let job: Job = i.client().call_json(Method::POST, "/api/v1/restore-points", Some(&json!({}))).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = i.client().job(job.id).await.unwrap();
        if j.progress.phase == "dumping the database" && j.progress.done > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline && !j.state.is_terminal(),
            "the dump never started: {j:?}\n{}",
            i.agent.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Mid-dump: a row says "creating", a temporary dump file is on disk.
    let list = i.list().await;
    assert!(list.points.iter().any(|p| p.state == RestorePointState::Creating && p.scopes.is_empty()), "{list:?}");
    i.agent.kill_hard();

    i.agent.opts.env.clear();
    i.agent.restart().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = i.list().await;
        let points_dir = i.agent.state_dir.join("restore-points");
        let leftovers = std::fs::read_dir(&points_dir).map(|d| d.count()).unwrap_or(0);
        if list.points.iter().all(|p| p.source != keepsake_api::RestorePointSource::Keepsake) && leftovers == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the half-made point was not removed: {list:?}, {leftovers} folders left");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(i.snapshots().is_empty(), "no snapshot of the dead job is left: {:?}", i.snapshots());
    let dead = i.client().job(job.id).await.unwrap();
    assert_eq!(dead.state, JobState::Failed, "{dead:?}");

    let point = created_point(&i.create("after the crash").await);
    let list = i.list().await;
    assert!(list.points.iter().any(|p| p.id == point && p.state == RestorePointState::Complete));
}

#[tokio::test]
async fn a_flipped_byte_in_a_dump_fails_its_check_before_anything_is_stopped_or_replaced() {
    let i = Instance::new(200, &[]).await;
    let point = created_point(&i.create("good").await);
    let list = i.list().await;
    let p = list.points.iter().find(|p| p.id == point).unwrap();
    let dump = i.agent.state_dir.join("restore-points").join(&point).join(&p.parts[0].name);
    let mut bytes = std::fs::read(&dump).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&dump, bytes).unwrap();

    i.psql("INSERT INTO \"user\"(email) VALUES ('after@example.org')");
    let (rows, started) = (i.db_rows(), i.server_started_at());
    let job = i.restore(&point, json!({"scope": "database", "confirm": "restore"})).await.unwrap();
    let job = i.finish(job.id, JobState::Failed).await;
    assert!(job.error.as_deref().unwrap_or("").contains("failed its check"), "{job:?}");
    assert_eq!(i.db_rows(), rows, "the database was not touched");
    assert_eq!(i.server_started_at(), started, "Immich was never stopped");
    let list = i.list().await;
    assert_eq!(
        list.points.iter().filter(|p| p.source == keepsake_api::RestorePointSource::Keepsake).count(),
        1,
        "no pre-restore point was made"
    );

    // The drill catches it too, records it, and the alert rule fires.
    let job: Job = i.client().call_json(Method::POST, "/api/v1/restore-points/drill", Some(&json!({}))).await.unwrap();
    i.finish(job.id, JobState::Failed).await;
    let drill = i.list().await.drill.expect("the drill is recorded");
    assert!(!drill.ok && drill.detail.contains("failed its check"), "{drill:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alerts: keepsake_api::AlertList = i.client().call_json(Method::GET, "/api/v1/alerts", None).await.unwrap();
        let fired = alerts.alerts.iter().find(|a| a.rule == "restore_drill.failed");
        if let Some(a) = fired {
            assert_eq!(a.help.as_deref(), Some("restore-drill-failed"), "{a:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the drill alert did not fire: {alerts:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_drill_loads_the_newest_dump_into_a_throwaway_database() {
    let i = Instance::new(300, &[]).await;
    created_point(&i.create("drill me").await);
    let job: Job = i.client().call_json(Method::POST, "/api/v1/restore-points/drill", Some(&json!({}))).await.unwrap();
    let job = i.finish(job.id, JobState::Succeeded).await;
    let Some(JobResult::Drilled(report)) = &job.result else { panic!("{job:?}") };
    let rows: BTreeMap<&str, u64> = report.tables.iter().map(|t| (t.table.as_str(), t.rows)).collect();
    assert_eq!((rows["public.asset"], rows["public.\"user\""], rows["public.album"]), (300, 2, 3), "{rows:?}");
    let drill = i.list().await.drill.unwrap();
    assert!(drill.ok && drill.next_due.is_some(), "{drill:?}");
    let dbs = i.psql("SELECT string_agg(datname, ',') FROM pg_database");
    assert!(!dbs.contains("keepsake_"), "the throwaway database is gone: {dbs}");
}

#[tokio::test]
async fn sanoid_snapshots_and_immich_dumps_are_listed_read_only_and_restore() {
    let i = Instance::new(100, &[]).await;
    let snap = "autosnap_2026-12-03_18:00:00_hourly";
    run("zfs", &["snapshot", "-r", &format!("{}@{snap}", i.root)]);
    // An Immich dump, made as Immich makes it (pg_dump | gzip, no TTY), in UPLOAD_LOCATION/backups.
    let gz = i.library.join("backups/immich-db-backup-20251203T180000-v2.5.0-pg15.4.sql.gz");
    std::fs::create_dir_all(gz.parent().unwrap()).unwrap();
    let sh = format!("docker exec {} pg_dump --clean --if-exists -U postgres immich | gzip > {}", i.db, gz.display());
    run("sh", &["-c", &sh]);
    let rows_at_dump = i.db_rows();

    let list = i.list().await;
    let s = list.points.iter().find(|p| p.id == format!("sanoid:{snap}")).expect("Sanoid's snapshot is listed");
    assert!(s.read_only && s.scopes.contains(&keepsake_api::RestoreScope::Files), "{s:?}");
    let d = list.points.iter().find(|p| p.id.starts_with("immich:")).expect("Immich's dump is listed");
    assert!(
        d.read_only && d.immich_version.as_deref() == Some("2.5.0") && d.postgres_version.as_deref() == Some("15.4"),
        "{d:?}"
    );
    let err = i
        .client()
        .call_json::<serde_json::Value>(
            Method::PUT,
            &format!("/api/v1/restore-points/sanoid:{snap}/pin"),
            Some(&json!({"pinned": true})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("restore.refused"), "{err:?}");

    // The wizard's file picker reads the snapshot's folders through a clone.
    let top: keepsake_api::RestoreFileList =
        i.client().call_json(Method::GET, &format!("/api/v1/restore-points/sanoid:{snap}/files"), None).await.unwrap();
    let names: Vec<(&str, bool)> = top.entries.iter().map(|e| (e.name.as_str(), e.dir)).collect();
    assert_eq!(
        names,
        vec![("library", true), ("upload", true)],
        "folders first, by name (backups/ came after the snapshot)"
    );
    let anna: keepsake_api::RestoreFileList = i
        .client()
        .call_json(Method::GET, &format!("/api/v1/restore-points/sanoid:{snap}/files?path=upload%2Fanna"), None)
        .await
        .unwrap();
    assert_eq!((anna.entries[0].name.as_str(), anna.entries[0].size), ("IMG_1.jpg", 11));
    let err = i
        .client()
        .call_json::<serde_json::Value>(
            Method::GET,
            &format!("/api/v1/restore-points/sanoid:{snap}/files?path=upload%2F..%2F.."),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("restore.bad_path"), "{err:?}");
    assert!(!run("zfs", &["list", "-H", "-o", "name"]).contains("keepsake-clone-"), "browsing leaves no clone");

    // One file from Sanoid's snapshot; the rest of the library is left alone.
    std::fs::remove_file(i.library.join("upload/anna/IMG_1.jpg")).unwrap();
    write(&i.library.join("upload/ben/IMG_2.jpg"), b"changed, and must stay changed");
    let job = i
        .restore(
            &format!("sanoid:{snap}"),
            json!({"scope": "files", "paths": ["upload/anna/IMG_1.jpg"], "confirm": "restore"}),
        )
        .await
        .unwrap();
    i.finish(job.id, JobState::Succeeded).await;
    assert_eq!(std::fs::read(i.library.join("upload/anna/IMG_1.jpg")).unwrap(), b"first photo");
    assert_eq!(std::fs::read(i.library.join("upload/ben/IMG_2.jpg")).unwrap(), b"changed, and must stay changed");

    // The database from Immich's own dump.
    i.psql("DELETE FROM asset");
    let job = i.restore(&d.id, json!({"scope": "database", "confirm": "restore"})).await.unwrap();
    i.finish(job.id, JobState::Succeeded).await;
    assert_eq!(i.db_rows(), rows_at_dump);

    // A path that leaves the library is refused before anything happens.
    let err = i
        .restore(
            &format!("sanoid:{snap}"),
            json!({"scope": "files", "paths": ["upload/../../etc"], "confirm": "restore"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("restore.bad_path"), "{err:?}");
}

#[tokio::test]
async fn a_reset_empties_immich_and_undo_brings_everything_back() {
    let i = Instance::new(50, &[]).await;
    let (rows, files_then) = (i.db_rows(), files(&i.library));
    let err = i
        .client()
        .call_json::<Job>(Method::POST, "/api/v1/instance/reset", Some(&json!({"confirm": "reset"})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("restore.confirmation"));
    let job: Job = i
        .client()
        .call_json(Method::POST, "/api/v1/instance/reset", Some(&json!({"confirm": "reset everything"})))
        .await
        .unwrap();
    i.finish(job.id, JobState::Succeeded).await;
    assert!(files(&i.library).is_empty(), "the library is empty");
    assert_eq!(
        i.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trim(),
        "0",
        "the database is empty"
    );
    assert!(i.server_running());
    let undo = i.list().await.undo_reset.expect("the reset can be undone");
    assert!(undo.until.is_some());

    let job: Job = i
        .client()
        .call_json(Method::POST, "/api/v1/instance/reset/undo", Some(&json!({"confirm": "undo reset"})))
        .await
        .unwrap();
    i.finish(job.id, JobState::Succeeded).await;
    assert_eq!(i.db_rows(), rows);
    assert_eq!(files(&i.library), files_then);
    assert!(i.list().await.undo_reset.is_none(), "an undone reset is not offered again");
}

#[tokio::test]
async fn only_an_owner_resets_and_only_restore_run_restores() {
    // Roles are checked before anything else, so no ZFS is needed to see who is refused.
    let (_dir, _agent, web) = crate::harness::stack().await;
    let mut owner = crate::harness::Browser::new(&web);
    owner.setup_owner("olga").await;
    owner.create_user("adam", "admin").await;
    owner.create_user("otto", "operator").await;
    owner.create_user("vera", "viewer").await;
    let reset = json!({"confirm": "reset everything"});
    let restore = json!({"scope": "instance", "confirm": "restore"});
    let try_as = |name: &'static str| {
        let web = &web;
        async move {
            let mut b = crate::harness::Browser::new(web);
            let r = b.login(name, crate::harness::PASSWORD).await;
            assert_eq!(r.0, 200, "{name} signs in");
            b
        }
    };
    let mut adam = try_as("adam").await;
    let r = adam.call("POST", "/api/v1/instance/reset", Some(reset.clone())).await;
    assert_eq!(
        (r.0, crate::harness::http::json(&r)["code"].as_str()),
        (403, Some("restore.owner_only")),
        "an admin cannot reset"
    );
    let r = adam.call("POST", "/api/v1/instance/reset/undo", Some(json!({"confirm": "undo reset"}))).await;
    assert_eq!(r.0, 403, "an admin cannot undo a reset either");
    let mut otto = try_as("otto").await;
    let r = otto.call("POST", "/api/v1/restore-points/x/restore", Some(restore.clone())).await;
    assert_eq!(r.0, 403, "an operator cannot restore");
    let r = otto.call("POST", "/api/v1/restore-points", Some(json!({"note": "ok"}))).await;
    assert_eq!(
        (r.0, crate::harness::http::json(&r)["code"].as_str()),
        (409, Some("restore.unavailable")),
        "an operator may make points (none here: no ZFS)"
    );
    let mut vera = try_as("vera").await;
    let r = vera.call("POST", "/api/v1/restore-points", Some(json!({}))).await;
    assert_eq!(r.0, 403, "a viewer cannot make points");
    let r = vera.call("GET", "/api/v1/restore-points", None).await;
    assert_eq!((r.0, crate::harness::http::json(&r)["code"].as_str()), (409, Some("restore.unavailable")));
    // The owner passes the role check and meets the real refusal: no ZFS on this agent.
    let r = owner.call("POST", "/api/v1/instance/reset", Some(reset)).await;
    assert_eq!((r.0, crate::harness::http::json(&r)["code"].as_str()), (409, Some("restore.unavailable")));
    // Oversized and odd fields are refused by the contract before any handler.
    let long = "x".repeat(201);
    let r = owner.call("POST", "/api/v1/restore-points", Some(json!({"note": long}))).await;
    assert_eq!(r.0, 400);
    let r = owner.call("POST", "/api/v1/restore-points", Some(json!({"note": "bell\u{7}"}))).await;
    assert_eq!(r.0, 400);
    let paths: Vec<String> = (0..101).map(|i| format!("f{i}")).collect();
    let r = owner.call("POST", "/api/v1/restore-points/x/plan", Some(json!({"scope": "files", "paths": paths}))).await;
    assert_eq!(r.0, 400);
    let r = owner
        .call("POST", "/api/v1/restore-points/x/plan", Some(json!({"scope": "files", "paths": ["/etc/passwd"]})))
        .await;
    assert_eq!(r.0, 400);
}

#[tokio::test]
async fn the_console_makes_lists_drills_and_restores_points() {
    let i = Instance::new(100, &[]).await;
    let out = |args: &[&str]| {
        let o = i.agent.cli(None, args);
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        (o.status.success(), text)
    };
    let (ok, text) = out(&["restore-point", "create", "--note", "from the console"]);
    assert!(ok, "{text}");
    let (ok, text) = out(&["restore-point", "list"]);
    assert!(ok && text.contains("from the console") && text.contains("manual"), "{text}");
    let (ok, text) = out(&["restore-point", "drill"]);
    assert!(ok, "{text}");
    let id = i.list().await.points.into_iter().find(|p| p.note.as_deref() == Some("from the console")).unwrap().id;
    i.psql("DELETE FROM album");
    // No terminal: the phrase must be given; a wrong one changes nothing.
    let (ok, text) = out(&["restore-point", "restore", &id, "--scope", "database"]);
    assert!(!ok && text.contains("--confirm"), "{text}");
    let (ok, _) = out(&["restore-point", "restore", &id, "--scope", "database", "--confirm", "nope"]);
    assert!(!ok);
    assert_eq!(i.psql("SELECT count(*) FROM album").trim(), "0");
    let (ok, text) = out(&["restore-point", "restore", &id, "--scope", "database", "--confirm", "restore"]);
    assert!(ok, "{text}");
    assert_eq!(i.psql("SELECT count(*) FROM album").trim(), "3");
}

#[tokio::test]
async fn an_agent_killed_mid_restore_leaves_the_live_database_and_immich_running_after_restart() {
    let mut i = Instance::new(3_000, &[("KEEPSAKE_TEST_FAULT", "slow_restore")]).await;
    let point = created_point(&i.create("target").await);
    i.psql("INSERT INTO \"user\"(email) VALUES ('newer@example.org')");
    let rows = i.db_rows();
    let job = i.restore(&point, json!({"scope": "instance", "confirm": "restore"})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = i.client().job(job.id).await.unwrap();
        if j.progress.phase == "loading the database" {
            break;
        }
        assert!(
            Instant::now() < deadline && !j.state.is_terminal(),
            "the load never started: {j:?}\n{}",
            i.agent.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!i.server_running(), "Immich is stopped while the database loads");
    i.agent.kill_hard();

    i.agent.opts.env.clear();
    i.agent.restart().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !i.server_running() {
        assert!(Instant::now() < deadline, "Immich was not started again after the crash:\n{}", i.agent.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dbs = i.psql("SELECT string_agg(datname, ',') FROM pg_database");
        if !dbs.contains("keepsake_") {
            break;
        }
        assert!(Instant::now() < deadline, "the scratch database was not dropped: {dbs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(i.db_rows(), rows, "the live database was never replaced");
    let dead = i.client().job(job.id).await.unwrap();
    assert_eq!(dead.state, JobState::Failed);
    assert!(dead.error.as_deref().unwrap_or("").contains("pre-restore point"), "{dead:?}");
}
