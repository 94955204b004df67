//! Running a host tool (zpool, udevadm, nix) with a timeout, for probes.

use std::time::Duration;

use tokio::process::Command;

/// What became of running a tool.
#[derive(Debug)]
pub enum Ran {
    /// It ran and exited 0; its stdout.
    Ok(String),
    /// It ran and failed; its stderr (or stdout if stderr was empty).
    Failed(String),
    /// It is not installed (not on PATH).
    NotFound,
    /// It did not finish in time (and was killed).
    TimedOut,
    /// It could not be started for another reason.
    Error(String),
}

pub async fn run(program: &str, args: &[&str], timeout: Duration) -> Ran {
    let mut cmd = Command::new(program);
    cmd.args(args).kill_on_drop(true).stdin(std::process::Stdio::null());
    let out = match tokio::time::timeout(timeout, cmd.output()).await {
        Err(_) => return Ran::TimedOut,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ran::NotFound,
        Ok(Err(e)) => return Ran::Error(e.to_string()),
        Ok(Ok(out)) => out,
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ran::Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        Ran::Failed(if stderr.is_empty() { stdout.trim().to_owned() } else { stderr })
    }
}
