//! USB-drive backups against real parts: the lab's udevd, loop devices holding exFAT images
//! (`mkfs.exfat`), exFAT mounted through exfat-fuse (the lab kernel has no exfat driver), and the
//! real agent binary. Attaching an image with `losetup` is what plugging a drive in looks like to
//! udev; `losetup -d` (after killing the FUSE server) is pulling it out.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use http::Method;
use keepsake_api::paths::{self, fill};
use keepsake_api::{BackupHistory, BackupOutcome, Client, DriveList, Job, JobResult, JobState};
use serde_json::json;

use crate::harness::{Agent, AgentOpts, Browser, SmtpSink, Web, header, lab, open_tempdir, wait_state};

/// Generous but bounded: udev, the agent's reaction and a small backup through FUSE.
const HOTPLUG_SECS: u64 = 60;

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn need_lab() {
    lab("KEEPSAKE_LAB_UDEV", "udev");
    lab("KEEPSAKE_LAB_EXFAT", "exfat");
}

/// An exFAT image file and, while attached, its loop device. Detached and removed on drop.
struct Image {
    path: PathBuf,
    device: Option<String>,
}

impl Image {
    fn new(dir: &Path, name: &str, mb: u64, label: &str) -> Image {
        let path = dir.join(format!("drives-{name}-{}.img", std::process::id()));
        run("truncate", &["-s", &format!("{mb}M"), path.to_str().unwrap()]);
        run("mkfs.exfat", &["-L", label, path.to_str().unwrap()]);
        Image { path, device: None }
    }

    fn uuid(&self) -> String {
        run("blkid", &["-p", "-o", "value", "-s", "UUID", self.path.to_str().unwrap()]).trim().to_owned()
    }

    fn attach(&mut self) -> String {
        assert!(self.device.is_none(), "already attached");
        let dev = run("losetup", &["-f", "--show", self.path.to_str().unwrap()]).trim().to_owned();
        self.device = Some(dev.clone());
        // Until udev has probed it, the device shows no filesystem (as a drive just plugged in).
        // Wait for this device only: the udev queue is shared with whatever else runs here.
        let want = format!("ID_FS_UUID={}", self.uuid());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("udevadm").args(["info", "--query=property", "--name", &dev]).output().unwrap();
            if String::from_utf8_lossy(&out.stdout).lines().any(|l| l == want) {
                break;
            }
            assert!(Instant::now() < deadline, "udev did not probe {dev} within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        dev
    }

    /// Pulls the drive out: detaches the loop device (deferred by the kernel while it is open)
    /// and kills whatever FUSE server has it mounted (as a yanked USB drive leaves its mount
    /// dead), which lets the detach happen.
    fn pull(&mut self) {
        let Some(dev) = self.device.take() else { return };
        let _ = Command::new("losetup").args(["-d", &dev]).status();
        for pid in fuse_servers(&dev) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        // Until the detach is done, the next `losetup -f` could not reuse the device.
        let sys = format!("/sys/block/{}/size", dev.trim_start_matches("/dev/"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&sys).is_ok_and(|s| s.trim() != "0") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Mounts the attached drive read-only, after the agent unmounted it, to look at what it
    /// holds (udev sees the same filesystem on the same device: no new plug-in).
    fn look(&self, at: &Path) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let dev = self.device.as_deref().expect("attached");
        run("mount.exfat-fuse", &["-o", "ro", dev, at.to_str().unwrap()]);
        Mount(at.to_owned())
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        self.pull();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A mount made by the test; unmounted on drop.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Pids of exfat-fuse processes serving `device`.
fn fuse_servers(device: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        if args.first().is_some_and(|a| a.ends_with(b"exfat-fuse")) && args.contains(&device.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

fn is_mounted(dir: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(dir.to_str().unwrap()))
}

/// An agent whose photos folder holds a small Immich-like tree, with drives mounted in its folder.
struct Appliance {
    agent: Agent,
    drives_dir: PathBuf,
    dir: tempfile::TempDir,
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

impl Appliance {
    async fn start(web_uid_root: bool) -> Appliance {
        need_lab();
        let dir = open_tempdir();
        let drives_dir = dir.path().join("drives");
        let data = dir.path().join("data");
        write(&data.join("library/admin/2024/IMG_0001.jpg"), &vec![1u8; 300_000]);
        write(&data.join("library/admin/2024/IMG_0002.jpg"), &vec![2u8; 200_000]);
        write(&data.join("upload/upload/ab/cd/x.heic"), b"upload");
        write(&data.join("profile/admin/face.jpg"), b"face");
        write(&data.join("backups/immich-db-backup-1.sql.gz"), b"dump");
        write(&data.join("thumbs/admin/t.webp"), b"thumb (not copied by default)");
        let mut opts = AgentOpts {
            extra_args: vec![
                "--drives-dir".into(),
                drives_dir.to_str().unwrap().into(),
                "--drive-schedule-tick-secs".into(),
                "1".into(),
            ],
            ..AgentOpts::default()
        };
        if web_uid_root {
            opts.web_uid = 0;
            opts.socket_gid = 0;
        }
        let agent = Agent::start(dir.path(), opts).await;
        Appliance { agent, drives_dir, dir }
    }

    fn client(&self) -> Client {
        self.agent.client()
    }

    fn data(&self) -> PathBuf {
        self.agent.data_dir.clone()
    }

    async fn enroll(&self, uuid: &str, name: &str, trigger: &str) {
        let body = json!({"uuid": uuid, "config": {"name": name, "trigger": trigger}});
        let d: keepsake_api::Drive =
            self.client().call_json(Method::POST, paths::DRIVES, Some(&body)).await.expect("enroll");
        assert_eq!(d.uuid, uuid);
    }

    async fn history(&self, uuid: &str) -> BackupHistory {
        self.client().call_json(Method::GET, &fill(paths::DRIVE_HISTORY, &[("uuid", &uuid)]), None).await.unwrap()
    }

    async fn list(&self) -> DriveList {
        self.client().call_json(Method::GET, paths::DRIVES, None).await.unwrap()
    }

    /// Waits for a `drive.backup` job on `uuid` that nobody asked for through the API.
    async fn wait_backup_job(&self, uuid: &str, not: &[i64]) -> Job {
        let deadline = Instant::now() + Duration::from_secs(HOTPLUG_SECS);
        loop {
            let jobs = self.client().jobs(&Default::default()).await.unwrap();
            if let Some(j) = jobs
                .jobs
                .into_iter()
                .find(|j| j.kind == "drive.backup" && j.target.as_deref() == Some(uuid) && !not.contains(&j.id))
            {
                return j;
            }
            assert!(
                Instant::now() < deadline,
                "no backup started within {HOTPLUG_SECS} s of plugging the drive in; log:\n{}",
                self.agent.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn alert(&self, rule: &str, subject: &str) -> Option<serde_json::Value> {
        let list: serde_json::Value = self.client().call_json(Method::GET, paths::ALERTS, None).await.unwrap();
        list["alerts"].as_array().unwrap().iter().find(|a| a["rule"] == rule && a["subject"] == subject).cloned()
    }

    /// Waits until the alert engine shows `rule` for `subject` in `state`.
    async fn wait_alert(&self, rule: &str, subject: &str, state: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(a) = self.alert(rule, subject).await
                && a["state"] == state
            {
                return a;
            }
            assert!(Instant::now() < deadline, "no {state} alert {rule} for {subject}; log:\n{}", self.agent.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test]
async fn plugging_an_enrolled_drive_in_backs_it_up_unmounts_it_and_says_it_is_safe_to_remove() {
    let b = Appliance::start(false).await;
    // The family's mail: "safe to remove" is a notification, through the real alert engine.
    let mut sink = SmtpSink::new(b.dir.path());
    sink.start();
    let channel = json!({"name": "Family mail", "notify_on": "always",
        "settings": {"kind": "email", "host": "127.0.0.1", "port": sink.port, "security": "none",
                     "from": "keepsake@example.org", "to": ["anna@example.org"]}});
    let _: serde_json::Value = b.client().call_json(Method::POST, paths::ALERT_CHANNELS, Some(&channel)).await.unwrap();
    let mut img = Image::new(b.dir.path(), "plug", 128, "KSPLUG");
    let uuid = img.uuid();
    // Enrolling needs the drive plugged in once; then it is pulled and plugged in again.
    img.attach();
    b.enroll(&uuid, "Blue drive", "plug_in").await;
    img.pull();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(b.history(&uuid).await.runs.is_empty(), "nothing ran before the plug-in");

    img.attach();
    let job = b.wait_backup_job(&uuid, &[]).await;
    assert_eq!(job.requested_by, "plug-in");
    let job = wait_state(&b.client(), job.id, 120, JobState::Succeeded).await;
    let Some(JobResult::BackedUp(report)) = job.result else { panic!("no backup report: {job:?}") };
    assert!(report.safe_to_remove, "{report:?}");
    assert_eq!(report.run.outcome, BackupOutcome::Succeeded);
    assert!(report.run.files_copied >= 6, "{report:?}");
    assert!(report.skipped.iter().any(|s| s.contains("config-bundle")), "no passphrase set: {:?}", report.skipped);
    assert!(!is_mounted(&b.drives_dir.join(&uuid)), "the drive is unmounted at the end");
    assert!(fuse_servers(img.device.as_ref().unwrap()).is_empty(), "the FUSE server has exited");

    // "Safe to remove" reached the alert engine (the dashboard and the notifications).
    let a = b.wait_alert("drive.safe_to_remove", &uuid, "firing").await;
    assert!(a["title"].as_str().unwrap().contains("Blue drive"), "{a}");
    let mails = sink.wait_for(1, 60, "the safe-to-remove email").await;
    assert!(
        mails.iter().any(|m| header(m, "Subject").is_some_and(|s| s.contains("Blue drive can be removed"))),
        "{mails:#?}"
    );

    // The files are on the drive, with the manifest, and the keepsake folder with the witness.
    let list = b.list().await;
    let d = list.drives.iter().find(|d| d.uuid == uuid).unwrap();
    assert!(d.last_success_at.is_some() && d.last_verify_ok == Some(true), "{d:?}");
    let history = b.history(&uuid).await;
    assert!(history.runs.iter().any(|r| r.files_verified > 0), "verified after the backup: {history:?}");
    // One backup and the check of what it wrote: two rows that say which is which.
    let kinds: Vec<_> = history.runs.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [keepsake_api::drives::DriveRunKind::Verify, keepsake_api::drives::DriveRunKind::Backup],
        "{history:?}"
    );
    let look = img.look(&b.dir.path().join("look"));
    let on_drive = |p: &str| look.0.join(p);
    assert_eq!(std::fs::read(on_drive("library/admin/2024/IMG_0001.jpg")).unwrap(), vec![1u8; 300_000]);
    assert_eq!(std::fs::read(on_drive("upload/upload/ab/cd/x.heic")).unwrap(), b"upload");
    assert!(on_drive(".keepsake/manifest.v1").is_file());
    assert!(!on_drive("thumbs").exists(), "thumbs are not copied unless asked for");
    let head = std::fs::read_to_string(on_drive("keepsake/audit-head.txt")).unwrap();
    assert!(head.contains("audit chain head"), "{head}");
    assert!(std::fs::read_to_string(on_drive("keepsake/audit-log.jsonl")).unwrap().contains("drives.enroll"));
    // Unplugged: the notice has done its job.
    drop(look);
    img.pull();
    b.wait_alert("drive.safe_to_remove", &uuid, "resolved").await;
}

#[tokio::test]
async fn a_drive_pulled_mid_run_fails_the_job_with_an_alert_and_a_rerun_completes_and_verifies() {
    let b = Appliance::start(false).await;
    // Enough data that the copy is still running when the drive is pulled.
    for i in 0..80 {
        let bytes: Vec<u8> = (0..4_000_000u32).map(|j| (j.wrapping_mul(31).wrapping_add(i)) as u8).collect();
        write(&b.data().join(format!("library/admin/big/{i:03}.mp4")), &bytes);
    }
    let mut img = Image::new(b.dir.path(), "pull", 600, "KSPULL");
    let uuid = img.uuid();
    img.attach();
    b.enroll(&uuid, "Pulled drive", "plug_in").await;
    img.pull();
    tokio::time::sleep(Duration::from_millis(500)).await;
    img.attach();
    let job = b.wait_backup_job(&uuid, &[]).await;
    // Pull it as soon as files are being copied.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = b.client().job(job.id).await.unwrap();
        assert!(!j.state.is_terminal(), "the backup ended before it could be pulled: {j:?}");
        if j.progress.phase.starts_with("Copying") && j.progress.done > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the copy never started: {j:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    img.pull();
    let failed = wait_state(&b.client(), job.id, 120, JobState::Failed).await;
    let error = failed.error.unwrap_or_default();
    assert!(error.contains("Pulled drive"), "the error names the drive: {error}");
    let a = b.wait_alert("backup.failed", &uuid, "firing").await;
    assert!(a["message"].as_str().unwrap().contains("Pulled drive"), "{a}");
    assert!(!is_mounted(&b.drives_dir.join(&uuid)), "the dead mount was cleaned up");
    assert!(b.alert("drive.safe_to_remove", &uuid).await.is_none(), "a pulled drive is not announced as removable");
    let runs = b.history(&uuid).await.runs;
    assert_eq!(runs.iter().find(|r| r.job_id == Some(job.id)).unwrap().outcome, BackupOutcome::Failed);

    // Plugged in again: the backup runs by itself, completes and verifies; the alert resolves.
    img.attach();
    let rerun = b.wait_backup_job(&uuid, &[job.id]).await;
    let rerun = wait_state(&b.client(), rerun.id, 240, JobState::Succeeded).await;
    let Some(JobResult::BackedUp(report)) = rerun.result else { panic!("{rerun:?}") };
    assert!(report.run.files_verified > 0, "{report:?}");
    b.wait_alert("backup.failed", &uuid, "resolved").await;
    let look = img.look(&b.dir.path().join("look"));
    for i in [0, 41, 79] {
        let got = std::fs::read(look.0.join(format!("library/admin/big/{i:03}.mp4"))).unwrap();
        let want = std::fs::read(b.data().join(format!("library/admin/big/{i:03}.mp4"))).unwrap();
        assert!(got == want, "file {i} differs on the drive");
    }
}

#[tokio::test]
async fn formatting_refuses_data_without_the_typed_confirmation_and_system_devices_always() {
    let b = Appliance::start(false).await;
    let mut img = Image::new(b.dir.path(), "fmt", 64, "KSDATA");
    let before = img.uuid();
    let dev = img.attach();
    let list = b.list().await;
    let seen = list.attached.iter().find(|d| d.device == dev).unwrap_or_else(|| panic!("{dev} not listed: {list:?}"));
    assert!(seen.has_data && !seen.system, "{seen:?}");
    assert_eq!(seen.format_confirmation.as_deref(), Some("erase KSDATA"));
    assert_eq!(seen.fs_uuid.as_deref(), Some(before.as_str()));

    for confirm in [None, Some("erase something else")] {
        let body = json!({"device": dev, "label": "NEW", "confirm": confirm});
        let e = b.client().call_json::<Job>(Method::POST, paths::DRIVES_FORMAT, Some(&body)).await.unwrap_err();
        assert_eq!(e.code(), Some("drive.confirmation"), "{e:?}");
        assert_eq!(img.uuid(), before, "nothing changed");
    }
    // A device mounted outside the drives folder belongs to the system: refused even confirmed.
    let mut sys = Image::new(b.dir.path(), "sys", 64, "KSSYS");
    let sys_dev = sys.attach();
    let mnt = b.dir.path().join("sys-mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    run("mount.exfat-fuse", &[&sys_dev, mnt.to_str().unwrap()]);
    let _sys_mount = Mount(mnt);
    let sys_uuid = sys.uuid();
    let body = json!({"device": sys_dev, "label": "NEW", "confirm": "erase KSSYS"});
    let e = b.client().call_json::<Job>(Method::POST, paths::DRIVES_FORMAT, Some(&body)).await.unwrap_err();
    assert_eq!(e.code(), Some("drive.system_device"), "{e:?}");
    assert_eq!(sys.uuid(), sys_uuid);
    let e = b
        .client()
        .call_json::<keepsake_api::Drive>(
            Method::POST,
            paths::DRIVES,
            Some(&json!({"uuid": sys_uuid, "config": {"name": "x", "trigger": "manual"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("drive.system_device"), "a system device cannot be enrolled either: {e:?}");

    // A drive that is not exFAT cannot be enrolled (it must be formatted first).
    let ext4 = b.dir.path().join(format!("drives-ext4-{}.img", std::process::id()));
    run("truncate", &["-s", "64M", ext4.to_str().unwrap()]);
    run("mkfs.ext4", &["-q", "-F", ext4.to_str().unwrap()]);
    let mut ext4_img = Image { path: ext4, device: None };
    let ext4_uuid = ext4_img.uuid();
    ext4_img.attach();
    let e = b
        .client()
        .call_json::<keepsake_api::Drive>(
            Method::POST,
            paths::DRIVES,
            Some(&json!({"uuid": ext4_uuid, "config": {"name": "x", "trigger": "manual"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("drive.refused"), "{e:?}");
    assert!(e.to_string().contains("exFAT"), "{e}");

    // With the typed confirmation: formatted, a new filesystem, enrolled at once.
    let body = json!({"device": dev, "label": "KSNEW", "expect_uuid": before, "confirm": "erase KSDATA",
                      "enroll": {"name": "Fresh", "trigger": "manual"}});
    let job: Job = b.client().call_json(Method::POST, paths::DRIVES_FORMAT, Some(&body)).await.unwrap();
    let job = wait_state(&b.client(), job.id, 60, JobState::Succeeded).await;
    let Some(JobResult::DriveFormatted(r)) = job.result else { panic!("{job:?}") };
    assert_ne!(r.uuid, before);
    assert_eq!(r.uuid, img.uuid());
    assert!(r.enrolled);
    assert_eq!(run("blkid", &["-p", "-o", "value", "-s", "LABEL", &dev]).trim(), "KSNEW");
    assert!(b.list().await.drives.iter().any(|d| d.uuid == r.uuid && d.name == "Fresh"));
}

#[tokio::test]
async fn viewers_and_operators_cannot_enroll_format_or_run_and_every_change_is_audited() {
    let b = Appliance::start(true).await;
    let web = Web::start(b.dir.path(), &b.agent.socket, None).await;
    let mut owner = Browser::new(&web);
    owner.setup_owner("anna").await;
    owner.create_user("vic", "viewer").await;
    owner.create_user("otto", "operator").await;
    let mut img = Image::new(b.dir.path(), "perm", 64, "KSPERM");
    let uuid = img.uuid();
    let dev = img.attach();
    let enroll = json!({"uuid": uuid, "config": {"name": "Perm", "trigger": "manual"}});
    for user in ["vic", "otto"] {
        let mut u = Browser::new(&web);
        assert_eq!(u.login(user, crate::harness::PASSWORD).await.0, 200);
        assert_eq!(u.call("GET", "/api/v1/drives", None).await.0, 200, "{user} may look");
        let r = u.call("POST", "/api/v1/drives", Some(enroll.clone())).await;
        assert_eq!(r.0, 403, "{user} enroll: {}", String::from_utf8_lossy(&r.2));
        let r = u.call("POST", "/api/v1/drives/format", Some(json!({"device": dev, "label": "X"}))).await;
        assert_eq!(r.0, 403, "{user} format");
        let r = u.call("POST", &format!("/api/v1/drives/{uuid}/backup"), Some(json!({}))).await;
        assert_eq!(r.0, 403, "{user} run");
        let r = u.call("PUT", "/api/v1/drives/settings", Some(json!({}))).await;
        assert_eq!(r.0, 403, "{user} settings");
    }
    // The owner may; each change is in the audit log with its target, the passphrase never.
    let r = owner.call("POST", "/api/v1/drives", Some(enroll.clone())).await;
    assert_eq!(r.0, 201, "{}", String::from_utf8_lossy(&r.2));
    let settings = json!({"keep_deleted_days": 10, "verify_after_backup": true, "verify_every_days": 7,
                          "verify_depth": "sample", "verify_sample_percent": 5,
                          "bundle_passphrase": "a very secret passphrase"});
    let r = owner.call("PUT", "/api/v1/drives/settings", Some(settings)).await;
    assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));
    let got = crate::harness::http::json(&r);
    assert_eq!(got["bundle_passphrase_set"], true);
    assert!(got.get("bundle_passphrase").is_none(), "never returned: {got}");
    let r = owner
        .call("PUT", &format!("/api/v1/drives/{uuid}"), Some(json!({"name": "Renamed", "trigger": "manual"})))
        .await;
    assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));
    let r = owner.call("POST", &format!("/api/v1/drives/{uuid}/backup"), Some(json!({}))).await;
    assert_eq!(r.0, 202, "{}", String::from_utf8_lossy(&r.2));
    let job = crate::harness::http::json(&r)["id"].as_i64().unwrap();
    wait_state(&b.client(), job, 120, JobState::Succeeded).await;
    let r = owner.call("POST", &format!("/api/v1/drives/{uuid}/eject"), Some(json!({}))).await;
    assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));
    let r = owner.call("DELETE", &format!("/api/v1/drives/{uuid}"), None).await;
    assert_eq!(r.0, 200, "{}", String::from_utf8_lossy(&r.2));

    let store = keepsake_agent::store::Store::open(&b.agent.state_dir).unwrap();
    let entries =
        store.audit_entries(&keepsake_agent::store::AuditFilter { limit: 500, ..Default::default() }).unwrap();
    let target = format!("drive={uuid}");
    for action in ["drives.enroll", "drives.update", "drives.backup", "drives.eject", "drives.forget"] {
        assert!(
            entries.iter().any(|e| e.action == action && e.actor == "anna" && e.target.as_deref() == Some(&target)),
            "{action} by anna is audited: {entries:?}"
        );
    }
    assert!(entries.iter().any(|e| e.action == "drives.settings_set" && e.actor == "anna"));
    for denied in ["drives.enroll", "drives.format", "drives.backup", "drives.settings_set"] {
        for user in ["vic", "otto"] {
            assert!(
                entries.iter().any(|e| e.action == denied && e.actor == user && e.outcome.starts_with("denied")),
                "{denied} denied to {user} is audited"
            );
        }
    }
    assert!(!entries.iter().any(|e| e.detail.contains("very secret")), "the passphrase is never logged");
}

#[tokio::test]
async fn a_scheduled_run_with_the_drive_absent_is_recorded_as_skipped_not_failed() {
    let b = Appliance::start(false).await;
    let mut img = Image::new(b.dir.path(), "sched", 64, "KSSCHED");
    let uuid = img.uuid();
    img.attach();
    b.enroll(&uuid, "Kept at home", "manual").await;
    img.pull();
    let hour = chrono::Local::now().format("%H").to_string().parse::<u8>().unwrap();
    let body = json!({"name": "Kept at home", "trigger": "schedule", "schedule_hour": hour});
    let _: keepsake_api::Drive =
        b.client().call_json(Method::PUT, &fill(paths::DRIVE, &[("uuid", &uuid)]), Some(&body)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let run = loop {
        if let Some(r) = b.history(&uuid).await.runs.into_iter().next() {
            break r;
        }
        assert!(Instant::now() < deadline, "no scheduled run recorded; log:\n{}", b.agent.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run.outcome, BackupOutcome::Skipped, "{run:?}");
    assert!(run.job_id.is_none());
    assert!(run.error.unwrap().contains("not plugged in"));
    // Once per slot, and not a failure for the alerts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(b.history(&uuid).await.runs.len(), 1);
    assert!(b.alert("backup.failed", &uuid).await.is_none());
}

#[tokio::test]
async fn an_agent_killed_mid_backup_leaves_no_mount_and_no_partial_file_and_the_next_run_verifies() {
    let mut b = Appliance::start(false).await;
    for i in 0..60 {
        let bytes: Vec<u8> = (0..4_000_000u32).map(|j| (j.wrapping_mul(7).wrapping_add(i)) as u8).collect();
        write(&b.data().join(format!("library/admin/video/{i:03}.mov")), &bytes);
    }
    let mut img = Image::new(b.dir.path(), "kill", 600, "KSKILL");
    let uuid = img.uuid();
    img.attach();
    b.enroll(&uuid, "Killed drive", "manual").await;
    let job: Job = b
        .client()
        .call_json(Method::POST, &fill(paths::DRIVE_BACKUP, &[("uuid", &uuid)]), Some(&json!({})))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = b.client().job(job.id).await.unwrap();
        assert!(!j.state.is_terminal(), "the backup ended before the agent could be killed: {j:?}");
        if j.progress.phase.starts_with("Copying") && j.progress.done > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the copy never started: {j:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.agent.kill_hard();
    let mount = b.drives_dir.join(&uuid);
    assert!(is_mounted(&mount), "the killed agent left its mount (the FUSE server lives on)");
    b.agent.restart().await;
    // At start the stale mount is removed, the job and its run are failed with a reason.
    let deadline = Instant::now() + Duration::from_secs(30);
    while is_mounted(&mount) {
        assert!(Instant::now() < deadline, "the stale mount was not removed; log:\n{}", b.agent.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let j = b.client().job(job.id).await.unwrap();
    assert_eq!(j.state, JobState::Failed, "{j:?}");
    assert!(j.error.unwrap().contains("interrupted"));
    let runs = b.history(&uuid).await.runs;
    assert!(runs.iter().all(|r| r.outcome != BackupOutcome::Running), "{runs:?}");

    let again: Job = b
        .client()
        .call_json(Method::POST, &fill(paths::DRIVE_BACKUP, &[("uuid", &uuid)]), Some(&json!({})))
        .await
        .unwrap();
    let again = wait_state(&b.client(), again.id, 240, JobState::Succeeded).await;
    let Some(JobResult::BackedUp(report)) = again.result else { panic!("{again:?}") };
    assert!(report.run.files_verified > 0 && report.safe_to_remove, "{report:?}");
    let look = img.look(&b.dir.path().join("look"));
    // Temporary copies live beside their files (.keepsake-partial-…) and in .keepsake/tmp.
    fn temporary(dir: &Path, found: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if name == "tmp" && dir.ends_with(".keepsake") {
                    found.extend(std::fs::read_dir(e.path()).into_iter().flatten().flatten().map(|e| e.path()));
                } else {
                    temporary(&e.path(), found);
                }
            } else if name.starts_with(".keepsake-partial-") || name == "partials" {
                found.push(e.path());
            }
        }
    }
    let mut leftovers = Vec::new();
    temporary(&look.0, &mut leftovers);
    assert!(leftovers.is_empty(), "no partial files: {leftovers:?}");
    for i in [0, 59] {
        let got = std::fs::read(look.0.join(format!("library/admin/video/{i:03}.mov"))).unwrap();
        assert!(got == std::fs::read(b.data().join(format!("library/admin/video/{i:03}.mov"))).unwrap(), "{i} differs");
    }
}
