//! The host self-check and status against the lab's real Docker engine, systemd, ZFS and udev.

use std::process::Command;

use keepsake_api::{Facility, FacilityKind, FacilityState, JobResult, JobState};

use crate::harness::{Agent, AgentOpts, StalledSocket, lab, open_tempdir};

fn find(checks: &[Facility], kind: FacilityKind) -> &Facility {
    checks.iter().find(|f| f.kind == kind).unwrap_or_else(|| panic!("no {kind:?} in {checks:?}"))
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn self_check_finds_the_real_facilities_and_their_versions() {
    let pool = lab("KEEPSAKE_LAB_ZPOOL", "zfs");
    lab("KEEPSAKE_LAB_UDEV", "udev");
    let container = lab("KEEPSAKE_LAB_SYSTEMD_CONTAINER", "systemd");
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::with_lab()).await;

    let out = agent.cli(None, &["--json", "self-check"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let job: keepsake_api::Job = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    let Some(JobResult::SelfCheck(report)) = job.result.clone() else { panic!("no self-check report: {job:?}") };
    assert_eq!(report.checks.len(), 6);

    // Each version is compared with what the component itself says.
    let docker = find(&report.checks, FacilityKind::Docker);
    assert_eq!(docker.state, FacilityState::Ok, "{docker:?}");
    let engine = stdout(Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]));
    let api = stdout(Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]));
    assert_eq!(docker.version.as_deref(), Some(format!("{engine} (API {api})").as_str()));

    let systemd = find(&report.checks, FacilityKind::Systemd);
    assert_eq!(systemd.state, FacilityState::Ok, "{systemd:?}");
    let sd = stdout(Command::new("docker").args(["exec", &container, "systemctl", "--version"]));
    let sd_version = sd.lines().next().unwrap().split(['(', ')']).nth(1).unwrap().to_owned();
    assert_eq!(systemd.version.as_deref(), Some(sd_version.as_str()));

    let zfs = find(&report.checks, FacilityKind::Zfs);
    assert_eq!(zfs.state, FacilityState::Ok, "{zfs:?}");
    assert!(zfs.detail.contains(&format!("{pool} (ONLINE)")), "{zfs:?}");

    let udev = find(&report.checks, FacilityKind::Udev);
    assert_eq!(udev.state, FacilityState::Ok, "{udev:?}");
    assert_eq!(udev.version.as_deref(), Some(stdout(Command::new("udevadm").arg("--version")).as_str()));

    let storage = find(&report.checks, FacilityKind::Storage);
    assert_eq!(storage.state, FacilityState::Ok, "{storage:?}");

    // Not NixOS here: Nix is found but host management is unavailable, and it says what to do.
    let nix = find(&report.checks, FacilityKind::Nix);
    assert_ne!(nix.state, FacilityState::Ok);
    assert!(nix.remedy.is_some());
    assert_eq!(report.problems, 1, "{report:?}");

    // The status route now shows what the self-check found.
    let status = agent.client().status().await.unwrap();
    assert_eq!(status.facilities, report.checks);
    assert!(status.facilities_checked_at >= job.started_at.unwrap());
}

#[tokio::test]
async fn missing_facilities_are_reported_with_what_to_do() {
    let dir = open_tempdir();
    // Point Docker and systemd at nothing; the photo folder does not exist either.
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    std::fs::remove_dir(&agent.data_dir).unwrap();
    let out = agent.cli(None, &["--json", "self-check"]);
    let job: keepsake_api::Job = serde_json::from_slice(&out.stdout).unwrap();
    let Some(JobResult::SelfCheck(report)) = job.result.clone() else { panic!("no self-check report: {job:?}") };
    for kind in [FacilityKind::Docker, FacilityKind::Systemd, FacilityKind::Storage] {
        let f = find(&report.checks, kind);
        assert_eq!(f.state, FacilityState::Missing, "{f:?}");
        assert!(f.remedy.as_deref().is_some_and(|r| !r.is_empty()), "{f:?}");
    }
    assert!(find(&report.checks, FacilityKind::Docker).detail.contains("/nonexistent/docker.sock"));
    assert!(find(&report.checks, FacilityKind::Storage).detail.contains("does not exist"));
    // The text form says how many need attention.
    let out = agent.cli(None, &["self-check"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("checks need attention"));
}

#[tokio::test]
async fn status_reports_version_uptime_and_every_facility_in_order() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::with_lab()).await;
    let status = agent.client().status().await.unwrap();
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.facilities.iter().map(|f| f.kind).collect::<Vec<_>>(), FacilityKind::ALL.to_vec());
    assert_eq!(status.facilities[0].state, FacilityState::Ok, "Docker found at start: {:?}", status.facilities[0]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(agent.client().status().await.unwrap().uptime_seconds >= 1);
}

/// A Docker engine and a system bus that accept connections and never answer are reported as not
/// answering within the probe timeout; the self-check does not wait on them longer.
#[tokio::test]
async fn stalled_docker_and_dbus_are_reported_within_the_probe_timeout() {
    let dir = open_tempdir();
    let docker = StalledSocket::new(dir.path());
    let bus_dir = dir.path().join("bus");
    std::fs::create_dir(&bus_dir).unwrap();
    let bus = StalledSocket::new(&bus_dir);
    let opts = AgentOpts {
        docker_host: docker.docker_host(),
        systemd_bus: format!("unix:path={}", bus.path.display()),
        probe_timeout_secs: 2,
        ..AgentOpts::default()
    };
    let agent = Agent::start(dir.path(), opts).await;
    let started = std::time::Instant::now();
    let out = agent.cli(None, &["--json", "self-check"]);
    // Six probes in turn, two of them stalled at 2 s each, and the rest quick.
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "self-check took {:?}", started.elapsed());
    let job: keepsake_api::Job = serde_json::from_slice(&out.stdout).unwrap();
    let Some(keepsake_api::JobResult::SelfCheck(report)) = job.result.clone() else {
        panic!("no self-check report: {job:?}")
    };
    let d = find(&report.checks, FacilityKind::Docker);
    assert_eq!(d.state, FacilityState::Missing, "{d:?}");
    assert!(d.detail.contains("accepted the connection but did not answer within 2 s"), "{d:?}");
    assert!(d.remedy.as_deref().is_some_and(|r| r.contains("not responding")), "{d:?}");
    let s = find(&report.checks, FacilityKind::Systemd);
    assert_eq!(s.state, FacilityState::Missing, "{s:?}");
    assert!(s.detail.contains("did not answer within 2 s"), "{s:?}");
}
