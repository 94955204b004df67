//! The socket admits only root and the web server's user, whatever the file permissions allow.

use crate::harness::{Agent, AgentOpts, open_tempdir};

#[tokio::test]
async fn a_uid_that_is_not_allowed_is_refused_with_a_clear_error() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let opts = &agent.opts;

    // In the socket's group, so the file permissions let it connect: only SO_PEERCRED stops it.
    let out = agent.cli(Some((4244, 4244, &[opts.socket_gid])), &["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stdout: {}\nstderr: {stderr}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("uid 4244 may not use the Keepsake agent"), "{stderr}");
    assert!(stderr.contains("403"), "{stderr}");
    assert!(agent.log().contains("refused a connection"), "the refusal is logged");

    // The web server's uid passes the peer check; what it may do then depends on a session, and
    // without one only public routes answer.
    let web = Some((opts.web_uid, opts.web_uid, &[opts.socket_gid][..]));
    let out = agent.cli(web, &["health"]);
    assert!(out.status.success(), "web uid refused: {}", String::from_utf8_lossy(&out.stderr));
    let out = agent.cli(web, &["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sign in first") && stderr.contains("401"), "{stderr}");

    // Root is served.
    assert!(agent.cli(None, &["health"]).status.success());
}

#[tokio::test]
async fn the_socket_is_0660_with_the_configured_group_and_outsiders_cannot_connect() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let meta = std::fs::metadata(&agent.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), agent.opts.socket_gid);

    // Not in the group: the kernel refuses before the agent is even asked.
    let out = agent.cli(Some((4245, 4245, &[])), &["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("permission denied"), "{stderr}");
}

#[tokio::test]
async fn a_second_agent_on_the_same_socket_is_refused_and_a_stale_socket_is_replaced() {
    let dir = open_tempdir();
    let mut agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let second = std::process::Command::new(crate::harness::bin("keepsake-agent"))
        .arg("--socket")
        .arg(&agent.socket)
        .arg("--state-dir")
        .arg(dir.path().join("state2"))
        .args(["--web-user", "4243", "--socket-group", "4242"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already listening"));

    // A hard kill leaves the socket file behind; the next start must replace it.
    agent.kill_hard();
    assert!(agent.socket.exists());
    agent.restart().await;
    assert!(agent.client().health().await.is_ok());
}
