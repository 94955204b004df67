//! The agent's configuration, from its command line, with user and group names resolved.

use std::path::PathBuf;
use std::time::Duration;

use crate::host::HostConfig;
use crate::host::cert_watch::{CertTarget, CertTargetError};

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub data_dir: PathBuf,
    /// The only non-root uid allowed on the socket.
    pub web_uid: u32,
    /// Group owning the socket, so the web user (a member) can connect.
    pub socket_gid: Option<u32>,
    pub docker_host: String,
    pub systemd_bus: String,
    pub probe_timeout: Duration,
    /// Addresses the dashboard is reached at (for passkeys); the first names the relying party.
    pub public_origins: Vec<url::Url>,
    /// The first retry of an alert message that could not be sent waits this long (then doubling).
    pub notify_retry_base: Duration,
    /// How often ZFS pool health and dataset space are read (zero: not watched).
    pub pool_poll: Duration,
    /// Whether the Docker engine's container events are followed (crash and health alerts).
    pub watch_containers: bool,
    /// The certificates whose validity dates are read (none: not watched).
    pub certificate_checks: Vec<CertTarget>,
    /// How often they are read (zero: not watched).
    pub certificate_check: Duration,
    /// Restore points: the datasets, where points are written, what goes in them.
    pub restore_points: crate::restore_points::RestorePointsConfig,
    /// Immich's database container and how to reach PostgreSQL in it.
    pub immich_db: crate::restore_points::DatabaseTarget,
    /// Immich's server containers (stopped around a restore).
    pub immich_server_containers: Vec<String>,
    /// Backup drives: where they are mounted, what is copied, hotplug and schedule.
    pub drives: crate::drives::DrivesConfig,
    /// The Immich stack: images, paths, network, ports, timeouts.
    pub stack: crate::stack::StackConfig,
}

impl AgentConfig {
    pub fn host(&self) -> HostConfig {
        HostConfig {
            docker_host: self.docker_host.clone(),
            systemd_bus: self.systemd_bus.clone(),
            state_dir: self.state_dir.clone(),
            data_dir: self.data_dir.clone(),
            probe_timeout: self.probe_timeout,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown user `{0}`: give a user name that exists on this machine, or a numeric uid")]
    NoSuchUser(String),
    #[error("unknown group `{0}`: give a group name that exists on this machine, or a numeric gid")]
    NoSuchGroup(String),
    #[error("cannot look up `{0}`: {1}")]
    Lookup(String, nix::Error),
    // Not a `#[source]`: the message already says it, and anyhow would print it twice.
    #[error("--certificate-check: {0}")]
    CertificateCheck(CertTargetError),
    #[error("--certificate-check: `none` turns the checks off, so it cannot be given with a NAME@HOST:PORT")]
    NoneWithOthers,
}

/// A user name or a numeric uid.
pub fn resolve_uid(spec: &str) -> Result<u32, ConfigError> {
    if let Ok(n) = spec.parse() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(spec) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(ConfigError::NoSuchUser(spec.to_owned())),
        Err(e) => Err(ConfigError::Lookup(spec.to_owned(), e)),
    }
}

/// A group name or a numeric gid.
pub fn resolve_gid(spec: &str) -> Result<u32, ConfigError> {
    if let Ok(n) = spec.parse() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(spec) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(ConfigError::NoSuchGroup(spec.to_owned())),
        Err(e) => Err(ConfigError::Lookup(spec.to_owned(), e)),
    }
}

/// The `--certificate-check` values: each `NAME@HOST:PORT`, or `none` alone for no check.
pub fn certificate_checks(values: &[String]) -> Result<Vec<CertTarget>, ConfigError> {
    if values.iter().any(|v| v == "none") {
        return if values.len() == 1 { Ok(Vec::new()) } else { Err(ConfigError::NoneWithOthers) };
    }
    values.iter().map(|v| v.parse().map_err(ConfigError::CertificateCheck)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_numbers_and_names() {
        assert_eq!(resolve_uid("1234").unwrap(), 1234);
        assert_eq!(resolve_uid("root").unwrap(), 0);
        assert_eq!(resolve_gid("root").unwrap(), 0);
        assert!(matches!(resolve_uid("no-such-user-keepsake"), Err(ConfigError::NoSuchUser(_))));
        assert!(matches!(resolve_gid("no-such-group-keepsake"), Err(ConfigError::NoSuchGroup(_))));
    }

    #[test]
    fn certificate_checks_are_targets_or_none() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let got = certificate_checks(&v(&["immich.local@127.0.0.1:443", "keepsake.local@127.0.0.1:443"])).unwrap();
        assert_eq!(
            got.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            v(&["immich.local@127.0.0.1:443", "keepsake.local@127.0.0.1:443"])
        );
        assert!(certificate_checks(&v(&["none"])).unwrap().is_empty());
        assert!(matches!(
            certificate_checks(&v(&["none", "immich.local@127.0.0.1:443"])),
            Err(ConfigError::NoneWithOthers)
        ));
        let err = certificate_checks(&v(&["immich.local:443"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--certificate-check: `immich.local:443` is not NAME@HOST:PORT (for example immich.local@127.0.0.1:443)"
        );
    }
}
