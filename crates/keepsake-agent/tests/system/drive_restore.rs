//! Checking backup drives and restoring from them, against real parts: exFAT images on loop
//! devices (exfat-fuse, found by the real udevd), the real agent mounting them, and the
//! restore-points lab box (ZFS datasets, a PostgreSQL container standing in for Immich's database,
//! a stand-in server container; see `restore_points.rs`).
//!
//! The drives are written by the test with `keepsake-mirror` directly, as the backup job writes
//! them: the library's folders and a `keepsake/` folder holding a restore point's dump. A drive
//! "from another appliance" is one written with another `written_by` and never enrolled here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use http::Method;
use keepsake_api::{DriveFileList, Job, JobResult, JobState};
use serde_json::json;

use crate::harness::lab;
use crate::restore_points::{Instance, created_point, files, run, write};

/// An exFAT image on a loop device; detached and removed when dropped.
struct TestDrive {
    img: PathBuf,
    dev: String,
    uuid: String,
}

impl TestDrive {
    fn new(tag: &str) -> TestDrive {
        lab("KEEPSAKE_LAB_UDEV", "udev");
        lab("KEEPSAKE_LAB_EXFAT", "exfat");
        let dir = std::env::temp_dir();
        let img = dir.join(format!("drestore-{tag}-{}-{}.img", std::process::id(), nanos()));
        run("truncate", &["-s", "64M", img.to_str().unwrap()]);
        run("mkfs.exfat", &["-L", "DRESTORE", img.to_str().unwrap()]);
        let dev = run("losetup", &["-f", "--show", img.to_str().unwrap()]).trim().to_owned();
        let _ = Command::new("udevadm").args(["settle", "-t", "10"]).status();
        let uuid = run("blkid", &["-p", "-s", "UUID", "-o", "value", &dev]).trim().to_owned();
        assert!(!uuid.is_empty(), "mkfs.exfat gave {dev} no UUID");
        TestDrive { img, dev, uuid }
    }

    /// Mounts the drive with exfat-fuse for the test itself, runs `f`, unmounts.
    fn with_mounted<T>(&self, f: impl FnOnce(&Path) -> T) -> T {
        let mnt = tempfile::Builder::new().prefix("drestore-mnt-").tempdir().unwrap();
        run("mount.exfat-fuse", &[&self.dev, mnt.path().to_str().unwrap()]);
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(mnt.path())));
        run("umount", &[mnt.path().to_str().unwrap()]);
        wait_unmounted(mnt.path());
        out.unwrap_or_else(|p| std::panic::resume_unwind(p))
    }

    /// Writes a backup onto the drive as an appliance named `by` would: Immich's folders of
    /// `library` and a `keepsake/` folder (the newest point's dump).
    fn back_up(&self, library: &Path, keepsake: &Path, by: &str) {
        self.with_mounted(|drive| {
            let mut sources: Vec<keepsake_mirror::Source> = ["library", "upload"]
                .iter()
                .filter(|s| library.join(s).is_dir())
                .map(|s| keepsake_mirror::Source { name: (*s).into(), root: library.join(s) })
                .collect();
            sources.push(keepsake_mirror::Source { name: "keepsake".into(), root: keepsake.to_owned() });
            let opts =
                keepsake_mirror::MirrorOptions { written_by: by.into(), verify_written: true, ..Default::default() };
            let cancel = AtomicBool::new(false);
            keepsake_mirror::mirror(drive, &sources, &opts, &keepsake_mirror::NoProgress, &cancel)
                .expect("the test's backup onto the drive");
        })
    }
}

impl Drop for TestDrive {
    fn drop(&mut self) {
        // Whatever still has it mounted (a failed test's agent) lets go first.
        if let Ok(out) = Command::new("findmnt").args(["-n", "-o", "TARGET", "-S", &self.dev]).output() {
            for target in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = Command::new("umount").args(["-l", target]).status();
            }
        }
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
        let _ = std::fs::remove_file(&self.img);
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

fn wait_unmounted(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(&format!(" {} ", dir.display())) {
        assert!(Instant::now() < deadline, "{} stayed mounted", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A box with drive support: its drives mounted under its own folder, no hotplug (the test's
/// loop devices must not start anything), a restore point made and its dump put into a
/// `keepsake/` folder, as a backup would copy it.
async fn instance() -> (Instance, PathBuf) {
    instance_with(200, &[]).await
}

async fn instance_with(assets: u32, env: &[(&str, &str)]) -> (Instance, PathBuf) {
    let i = Instance::with_args(assets, env, &["--drives-dir", "{dir}/drives", "--no-drive-hotplug"]).await;
    let point = created_point(&i.create("for the drive").await);
    let points = i.agent.state_dir.join("restore-points").join(&point);
    let dump = std::fs::read_dir(&points)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".sql.zst"))
        .expect("the point has a dump");
    let keepsake = i.agent.dir.join("keepsake-staged");
    std::fs::create_dir_all(&keepsake).unwrap();
    std::fs::copy(&dump, keepsake.join(dump.file_name().unwrap())).unwrap();
    (i, keepsake)
}

async fn enroll(i: &Instance, d: &TestDrive) {
    let body = json!({"uuid": d.uuid, "config": {"name": "Blue drive", "trigger": "manual"}});
    let _: serde_json::Value = i
        .client()
        .call_json(Method::POST, "/api/v1/drives", Some(&body))
        .await
        .unwrap_or_else(|e| panic!("enrolling {}: {e:?}\n{}", d.uuid, i.agent.log()));
}

async fn drive_restore(i: &Instance, uuid: &str, body: serde_json::Value) -> Result<Job, keepsake_api::ClientError> {
    i.client().call_json(Method::POST, &format!("/api/v1/drives/{uuid}/restore"), Some(&body)).await
}

async fn browse(i: &Instance, uuid: &str, path: &str) -> DriveFileList {
    let q = if path.is_empty() { String::new() } else { format!("?path={}", path.replace('/', "%2F")) };
    i.client()
        .call_json(Method::GET, &format!("/api/v1/drives/{uuid}/files{q}"), None)
        .await
        .unwrap_or_else(|e| panic!("browsing {uuid}/{path}: {e:?}\n{}", i.agent.log()))
}

fn drive_report(job: &Job) -> &keepsake_api::DriveRestoreReport {
    match &job.result {
        Some(JobResult::DriveRestored(r)) => r,
        other => panic!("no drive restore report in {other:?}"),
    }
}

fn not_mounted_by_agent(i: &Instance, d: &TestDrive) {
    let dir = i.agent.dir.join("drives").join(&d.uuid);
    assert!(
        !std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(&format!(" {} ", dir.display())),
        "the agent left {} mounted",
        dir.display()
    );
}

#[tokio::test]
async fn a_check_finds_a_flipped_byte_on_the_drive_and_alerts() {
    let (i, keepsake) = instance().await;
    let d = TestDrive::new("verify");
    d.back_up(&i.library, &keepsake, "this-box");
    enroll(&i, &d).await;

    // A clean drive passes a full check, and is unmounted afterwards.
    let job: Job = i
        .client()
        .call_json(Method::POST, &format!("/api/v1/drives/{}/verify", d.uuid), Some(&json!({"full": true})))
        .await
        .unwrap();
    let job = i.finish(job.id, JobState::Succeeded).await;
    let Some(JobResult::DriveVerified(r)) = &job.result else { panic!("{job:?}") };
    assert!(r.full && r.problem_count == 0 && r.files_checked >= 4, "{r:?}");
    not_mounted_by_agent(&i, &d);

    // One byte of one photo changes on the drive behind the backup's back.
    d.with_mounted(|m| {
        let p = m.join("upload/anna/IMG_1.jpg");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[3] ^= 0x20;
        std::fs::write(&p, bytes).unwrap();
    });
    let job: Job = i
        .client()
        .call_json(Method::POST, &format!("/api/v1/drives/{}/verify", d.uuid), Some(&json!({"full": true})))
        .await
        .unwrap();
    let job = wait_terminal(&i, job.id).await;
    let log =
        i.client().call_json::<keepsake_api::JobLog>(Method::GET, &format!("/api/v1/jobs/{}/log", job.id), None).await;
    let text = format!("{job:?} {log:?}");
    assert!(text.contains("upload/anna/IMG_1.jpg"), "the damaged file is named: {text}");
    not_mounted_by_agent(&i, &d);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alerts: keepsake_api::AlertList = i.client().call_json(Method::GET, "/api/v1/alerts", None).await.unwrap();
        if let Some(a) = alerts.alerts.iter().find(|a| a.rule == "backup.verify_failed") {
            assert_eq!(a.help.as_deref(), Some("backup-verify-failed"), "{a:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the verification alert did not fire: {alerts:?}\n{}", i.agent.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_terminal(i: &Instance, id: i64) -> Job {
    crate::harness::wait_job(&i.client(), id, 120, "finished", |j| j.state.is_terminal()).await
}

#[tokio::test]
async fn chosen_files_come_back_from_an_enrolled_drive_and_a_differing_file_is_kept() {
    let (i, keepsake) = instance().await;
    let d = TestDrive::new("files");
    d.back_up(&i.library, &keepsake, "this-box");
    enroll(&i, &d).await;
    let photo = i.library.join("upload/anna/IMG_1.jpg");
    let original = std::fs::read(&photo).unwrap();
    std::fs::remove_file(&photo).unwrap();
    write(&i.library.join("upload/ben/IMG_2.jpg"), b"edited since the backup");

    // The typed confirmation, and paths inside Immich's folders, are checked first.
    let err = drive_restore(&i, &d.uuid, json!({"scope": "files", "paths": ["upload/anna"], "confirm": "yes"}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("restore.confirmation"), "{err:?}");
    let err = drive_restore(&i, &d.uuid, json!({"scope": "files", "paths": ["keepsake"], "confirm": "restore"}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("restore.bad_path"), "{err:?}");

    let job =
        drive_restore(&i, &d.uuid, json!({"scope": "files", "paths": ["upload"], "confirm": "restore"})).await.unwrap();
    let job = i.finish(job.id, JobState::Succeeded).await;
    let r = drive_report(&job);
    assert_eq!(std::fs::read(&photo).unwrap(), original, "the deleted photo is back byte for byte");
    assert_eq!(
        std::fs::read(i.library.join("upload/ben/IMG_2.jpg")).unwrap(),
        b"edited since the backup",
        "a differing file is never overwritten"
    );
    assert_eq!(r.conflicts, vec!["upload/ben/IMG_2.jpg".to_owned()], "{r:?}");
    assert!(r.files_restored >= 1 && r.pre_point_id.is_some(), "{r:?}");
    let points = i.list().await;
    assert!(points.points.iter().any(|p| Some(&p.id) == r.pre_point_id.as_ref()), "the pre-restore point exists");
    not_mounted_by_agent(&i, &d);
}

#[tokio::test]
async fn a_drive_from_another_appliance_is_browsed_and_restores_the_whole_instance_undoably() {
    let (i, keepsake) = instance().await;
    let (rows_then, files_then) = (i.db_rows(), files(&i.library));
    let d = TestDrive::new("other");
    d.back_up(&i.library, &keepsake, "the-old-box");

    // Not enrolled here: browsed by its filesystem UUID, naming the appliance that wrote it.
    let top = browse(&i, &d.uuid, "").await;
    assert_eq!(top.written_by.as_deref(), Some("the-old-box"), "{top:?}");
    let names: Vec<(&str, bool)> = top.entries.iter().map(|e| (e.name.as_str(), e.dir)).collect();
    assert_eq!(names, [("keepsake", true), ("library", true), ("upload", true)], "{top:?}");
    let anna = browse(&i, &d.uuid, "upload/anna").await;
    assert_eq!((anna.entries[0].name.as_str(), anna.entries[0].size, anna.entries[0].dir), ("IMG_1.jpg", 11, false));
    not_mounted_by_agent(&i, &d);

    // Everything changes after the backup.
    i.psql("DELETE FROM asset WHERE path LIKE 'upload/1%'; UPDATE album SET name = 'renamed'; INSERT INTO \"user\"(email) VALUES ('eve@example.org')");
    write(&i.library.join("upload/anna/IMG_1.jpg"), b"overwritten");
    std::fs::remove_file(i.library.join("upload/ben/IMG_2.jpg")).unwrap();
    write(&i.library.join("upload/eve/new.jpg"), b"added later");
    let (rows_changed, files_changed) = (i.db_rows(), files(&i.library));
    assert_ne!(rows_changed, rows_then);

    let job = drive_restore(&i, &d.uuid, json!({"scope": "instance", "confirm": "restore"})).await.unwrap();
    let job = i.finish(job.id, JobState::Succeeded).await;
    let r = drive_report(&job).clone();
    assert!(r.dump.as_deref().is_some_and(|n| n.ends_with(".sql.zst")), "{r:?}");
    assert_eq!(i.db_rows(), rows_then, "the database rows are back");
    assert_eq!(files(&i.library), files_then, "the library is back byte for byte");
    assert!(i.server_running(), "Immich's server runs again");
    not_mounted_by_agent(&i, &d);
    let dbs = i.psql("SELECT string_agg(datname, ',') FROM pg_database");
    assert!(!dbs.contains("keepsake_"), "no scratch database is left: {dbs}");

    // The pre-restore point undoes it.
    let pre = r.pre_point_id.expect("a pre-restore point");
    let job = i.restore(&pre, json!({"scope": "instance", "confirm": "restore"})).await.unwrap();
    i.finish(job.id, JobState::Succeeded).await;
    assert_eq!(i.db_rows(), rows_changed, "the pre-restore point undoes the drive restore");
    assert_eq!(files(&i.library), files_changed);
}

#[tokio::test]
async fn the_agents_own_backup_restores_the_whole_instance() {
    let (mut i, _) = instance().await;
    // The backup copies Immich's UPLOAD_LOCATION (the agent's --data-dir); here it is the library
    // dataset, as on the appliance.
    let data = i.agent.data_dir.clone();
    run("zfs", &["set", &format!("mountpoint={}", data.display()), &format!("{}/library", i.root)]);
    i.library = data;
    let (rows_then, files_then) = (i.db_rows(), files(&i.library));
    let d = TestDrive::new("own");
    enroll(&i, &d).await;
    let job: Job = i
        .client()
        .call_json(Method::POST, &format!("/api/v1/drives/{}/backup", d.uuid), Some(&json!({})))
        .await
        .unwrap();
    i.finish(job.id, JobState::Succeeded).await;
    let top = browse(&i, &d.uuid, "").await;
    assert!(top.written_by.is_some() && top.entries.iter().any(|e| e.name == "keepsake"), "{top:?}");

    i.psql("DELETE FROM album; INSERT INTO \"user\"(email) VALUES ('eve@example.org')");
    std::fs::remove_file(i.library.join("upload/anna/IMG_1.jpg")).unwrap();
    write(&i.library.join("upload/eve/new.jpg"), b"added later");
    let job = drive_restore(&i, &d.uuid, json!({"scope": "instance", "confirm": "restore"})).await.unwrap();
    i.finish(job.id, JobState::Succeeded).await;
    assert_eq!(i.db_rows(), rows_then, "the database rows are back");
    assert_eq!(files(&i.library), files_then, "the library is back byte for byte");
    assert!(i.server_running());
    not_mounted_by_agent(&i, &d);
}

#[tokio::test]
async fn a_damaged_dump_on_the_drive_stops_a_restore_before_anything_changes() {
    let (i, keepsake) = instance().await;
    let d = TestDrive::new("baddump");
    d.back_up(&i.library, &keepsake, "this-box");
    d.with_mounted(|m| {
        let dump = std::fs::read_dir(m.join("keepsake")).unwrap().flatten().next().unwrap().path();
        let mut bytes = std::fs::read(&dump).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(&dump, bytes).unwrap();
    });
    i.psql("INSERT INTO \"user\"(email) VALUES ('after@example.org')");
    let (rows, started) = (i.db_rows(), i.server_started_at());
    let job = drive_restore(&i, &d.uuid, json!({"scope": "instance", "confirm": "restore"})).await.unwrap();
    let job = i.finish(job.id, JobState::Failed).await;
    assert!(job.error.as_deref().unwrap_or("").contains("keepsake/"), "the damaged dump is named: {job:?}");
    assert_eq!(i.db_rows(), rows, "the database was not touched");
    assert_eq!(i.server_started_at(), started, "Immich was never stopped");
    not_mounted_by_agent(&i, &d);
}

#[tokio::test]
async fn an_agent_killed_mid_drive_restore_leaves_the_live_database_and_immich_running_after_restart() {
    let (mut i, keepsake) = instance_with(3_000, &[("KEEPSAKE_TEST_FAULT", "slow_restore")]).await;
    let d = TestDrive::new("killed");
    d.back_up(&i.library, &keepsake, "this-box");
    i.psql("INSERT INTO \"user\"(email) VALUES ('newer@example.org')");
    let (rows, files_now) = (i.db_rows(), files(&i.library));
    let job = drive_restore(&i, &d.uuid, json!({"scope": "instance", "confirm": "restore"})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
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
        let staged = std::fs::read_dir(i.agent.state_dir.join("restore-points"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".drive-restore-"));
        if !dbs.contains("keepsake_") && !staged {
            break;
        }
        assert!(Instant::now() < deadline, "the scratch database ({dbs}) or the staged dump ({staged}) is left");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(i.db_rows(), rows, "the live database was never replaced");
    assert_eq!(files(&i.library), files_now, "the library was not touched before the swap");
    let dead = i.client().job(job.id).await.unwrap();
    assert_eq!(dead.state, JobState::Failed, "{dead:?}");
    not_mounted_by_agent(&i, &d);
}

#[tokio::test]
async fn an_operator_cannot_restore_from_a_drive() {
    let (_dir, _agent, web) = crate::harness::stack().await;
    let mut owner = crate::harness::Browser::new(&web);
    owner.setup_owner("olga").await;
    owner.create_user("otto", "operator").await;
    let mut otto = crate::harness::Browser::new(&web);
    assert_eq!(otto.login("otto", crate::harness::PASSWORD).await.0, 200);
    let body = json!({"scope": "instance", "confirm": "restore"});
    let r = otto.call("POST", "/api/v1/drives/ABCD-1234/restore", Some(body.clone())).await;
    assert_eq!(r.0, 403, "an operator cannot restore: {}", String::from_utf8_lossy(&r.2));
    let r = otto.call("GET", "/api/v1/drives/ABCD-1234/files", None).await;
    assert_eq!(r.0, 403, "nor browse a drive's files to restore them");
    let (action, outcome, actor) = crate::harness::last_audit(&_agent);
    assert_eq!(
        (action.as_str(), outcome.as_str(), actor.as_str()),
        ("drives.restore", "denied:auth.permission_missing", "otto"),
        "the refusal is audited"
    );
    // The owner passes the role check and meets the real refusal: no drive with that UUID here.
    let r = owner.call("POST", "/api/v1/drives/ABCD-1234/restore", Some(body)).await;
    assert!(r.0 == 404 || r.0 == 409, "{}: {}", r.0, String::from_utf8_lossy(&r.2));
}
