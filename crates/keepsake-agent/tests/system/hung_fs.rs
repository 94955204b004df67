//! A hung filesystem under the data directory does not stop the agent: its socket answers within
//! 5 s of start, and the storage facility is reported as not answering, naming the folder.
//!
//! The hung filesystem is a real FUSE mount whose daemon never answers: `/dev/fuse` is opened and
//! mounted with mount(2), and nothing ever reads the fd, so every access to the mount (statvfs
//! included) waits in the kernel. It is mounted in a mount namespace of the agent's own (set up
//! between fork and exec), so nothing else on the machine can trip over it, and it goes away with
//! the agent; closing the fd afterwards aborts the connection and frees anything still waiting.
//! This needs root and `/dev/fuse`; without them the test fails and says so.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keepsake_api::{Client, FacilityKind, FacilityState, JobState};

use crate::harness::{bin, open_tempdir, wait_state};

/// The agent, killed when dropped (even if a test assertion fails first).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens `/dev/fuse`, or fails the test naming what is missing.
fn open_fuse() -> File {
    assert!(
        is_root(),
        "the hung-filesystem test needs root (to mount FUSE and make a mount namespace); run the system tests as root"
    );
    File::options().read(true).write(true).open("/dev/fuse").unwrap_or_else(|e| {
        panic!("the hung-filesystem test needs /dev/fuse (the fuse kernel module; Debian's `fuse3` package): {e}")
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Starts keepsake-agent in a mount namespace of its own in which `data_dir` is a FUSE mount on
/// `fuse` that never answers.
fn start_over_hung_mount(dir: &Path, data_dir: &Path, fuse: &File) -> Running {
    let log = File::create(dir.join("agent.log")).unwrap();
    let target = CString::new(data_dir.as_os_str().as_bytes()).unwrap();
    let options = CString::new(format!("fd={},rootmode=40000,user_id=0,group_id=0", fuse.as_raw_fd())).unwrap();
    let mut cmd = Command::new(bin("keepsake-agent"));
    cmd.arg("--socket")
        .arg(dir.join("agent.sock"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--web-user", "4243", "--socket-group", "4242"])
        .args(["--docker-host", "unix:///nonexistent/docker.sock", "--systemd-bus", "unix:path=/nonexistent/bus"])
        .args(["--probe-timeout", "5"])
        .env("KEEPSAKE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // SAFETY: between fork and exec only async-signal-safe system calls run (unshare, mount), on
    // strings allocated before the fork; the /dev/fuse fd is inherited until exec closes it (the
    // test keeps its own copy open, which keeps the mount alive and unanswered).
    unsafe {
        cmd.pre_exec(move || {
            let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) };
            check(libc::unshare(libc::CLONE_NEWNS))?;
            // Private, so the mount below does not propagate back to the machine's namespace.
            let none = std::ptr::null();
            check(libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, none.cast()))?;
            check(libc::mount(
                c"keepsake-hung".as_ptr(),
                target.as_ptr(),
                c"fuse".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr().cast(),
            ))
        });
    }
    let child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot start keepsake-agent over a hung FUSE mount (needs root, /dev/fuse and mount namespaces): {e}")
    });
    Running(child)
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
}

#[tokio::test]
async fn the_agent_starts_over_a_hung_data_folder_and_reports_it() {
    let fuse = open_fuse();
    let dir = open_tempdir();
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let client = Client::new(dir.path().join("agent.sock"));

    let started = Instant::now();
    let deadline = started + Duration::from_secs(5);
    let mut agent = start_over_hung_mount(dir.path(), &data_dir, &fuse);
    loop {
        // Each attempt is bounded too: a socket that is bound but never served accepts the
        // connection and then says nothing.
        if let Ok(Ok(_)) = tokio::time::timeout_at(deadline.into(), client.health()).await {
            break;
        }
        if let Some(status) = agent.0.try_wait().unwrap() {
            panic!("keepsake-agent exited with {status} before answering; log:\n{}", log(dir.path()));
        }
        assert!(
            Instant::now() < deadline,
            "the socket did not answer GET /api/v1/health within 5 s of start; log:\n{}",
            log(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answered = started.elapsed();
    assert!(answered < Duration::from_secs(5), "health answered only after {answered:?}");

    // The start-up probe gave up on the hung folder and says which it is and why.
    let status = client.status().await.unwrap();
    let storage = status.facilities.iter().find(|f| f.kind == FacilityKind::Storage).unwrap();
    assert_eq!(storage.state, FacilityState::Missing, "{storage:?}");
    let hung = format!("no answer from {} within 3 s: the filesystem may be hung", data_dir.display());
    assert_eq!(storage.detail, hung, "{storage:?}");
    assert!(storage.remedy.as_deref().is_some_and(|r| r.contains("umount -l")), "{storage:?}");

    // The console shows the same.
    let out = Command::new(bin("keepsake"))
        .arg("--socket")
        .arg(client.socket())
        .arg("status")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.lines().any(|l| l.contains("MISSING") && l.contains(&hung)), "{text}");

    // A self-check does not wait on the folder again (the first check is still stuck in the
    // kernel): it finishes and reports it at once, instead of adding another stuck thread.
    let job = client.start_self_check().await.unwrap();
    let job = wait_state(&client, job.id, 30, JobState::Succeeded).await;
    let Some(keepsake_api::JobResult::SelfCheck(report)) = job.result.clone() else {
        panic!("no self-check report: {job:?}")
    };
    let storage = report.checks.iter().find(|f| f.kind == FacilityKind::Storage).unwrap();
    assert_eq!(storage.state, FacilityState::Missing, "{storage:?}");
    assert!(storage.detail.contains("is still waiting; the filesystem may be hung"), "{storage:?}");
    assert!(storage.detail.contains(&data_dir.display().to_string()), "{storage:?}");

    // And a thread stuck in the kernel does not keep the agent from stopping.
    let pid = agent.0.id().to_string();
    let stopping = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exit = loop {
        if let Some(s) = agent.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "keepsake-agent did not stop within 10 s of SIGTERM with a thread stuck on the hung mount; log:\n{}",
            log(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "keepsake-agent exited with {exit}; log:\n{}", log(dir.path()));
    drop(agent);
    // The mount went away with the agent's namespace; closing the fd ends the FUSE connection.
    drop(fuse);
}
