//! The host: which facilities the agent depends on are present, which versions, and whether they
//! are healthy.
//!
//! Each facility has its own probe module; a probe never fails, it returns a [`Facility`] saying
//! what it found, and when something is wrong, why and what to do. Probes are bounded by a timeout
//! because a stalled daemon (a hung Docker engine, a wedged zfs-fuse) must not hang the agent, and
//! nothing in a probe blocks the runtime: calls that can hang in the kernel (statvfs and reads on a
//! filesystem, libudev) go through [`blocking`], tools run as child processes killed on timeout
//! ([`command`]), and the Docker and D-Bus clients are async with their own timeouts.
//! The latest results are cached in [`Facilities`] for the status route, which must stay cheap.
//!
//! Three watchers turn what the host does into events (the agent spawns them): [`pool_watch`]
//! polls ZFS pool health and dataset space, [`container_watch`] follows the Docker engine's events,
//! [`cert_watch`] reads the validity dates of the certificates Caddy serves.

pub(crate) mod blocking;
pub mod cert_watch;
pub(crate) mod command;
pub mod container_watch;
pub(crate) mod docker;
mod nix;
pub mod pool_watch;
pub mod self_check;
pub(crate) mod storage;
mod systemd;
mod udev;
mod zfs;

/// Bytes as people read them (1.5 GiB), for messages about the host.
pub use storage::human as human_bytes;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use keepsake_api::{Facility, FacilityKind, FacilityState};

/// Where the host facilities are.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Docker engine endpoint, `unix:///path/to/docker.sock`.
    pub docker_host: String,
    /// D-Bus address of the system bus that systemd is on.
    pub systemd_bus: String,
    /// The agent's state directory (checked for free space).
    pub state_dir: PathBuf,
    /// Where the photo library lives (checked for free space).
    pub data_dir: PathBuf,
    /// How long one probe may take before it counts as not answering.
    pub probe_timeout: Duration,
}

/// How much longer than its own timeout a probe gets before the backstop below answers for it:
/// enough for a probe's own, more precise message ("no answer from /srv/photos ...") to win.
const BACKSTOP_GRACE: Duration = Duration::from_millis(250);

/// Runs one facility's probe. It answers within the probe timeout (plus a little): every probe
/// bounds its own waits, and this backstop bounds a probe that waits on several things in turn.
pub async fn probe(cfg: &HostConfig, kind: FacilityKind) -> Facility {
    let t = cfg.probe_timeout;
    let fut = async {
        match kind {
            FacilityKind::Docker => docker::probe(&cfg.docker_host, t).await,
            FacilityKind::Systemd => systemd::probe(&cfg.systemd_bus, t).await,
            FacilityKind::Zfs => zfs::probe(t).await,
            FacilityKind::Udev => udev::probe(t).await,
            FacilityKind::Nix => nix::probe(t).await,
            FacilityKind::Storage => storage::probe(&cfg.state_dir, &cfg.data_dir, t).await,
        }
    };
    match tokio::time::timeout(t + BACKSTOP_GRACE, fut).await {
        Ok(f) => f,
        Err(_) => missing(kind, format!("did not answer within {}", blocking::secs(t)), remedy_when_stalled(kind)),
    }
}

fn remedy_when_stalled(kind: FacilityKind) -> &'static str {
    match kind {
        FacilityKind::Docker => {
            "The Docker engine is not responding. Restart it (systemctl restart docker) and check its log (journalctl -u docker)."
        }
        FacilityKind::Systemd => "The system bus is not responding. Restart the machine if this persists.",
        FacilityKind::Zfs => {
            "ZFS is not responding. Check `zpool status` and the kernel log; a failing disk can cause this."
        }
        FacilityKind::Udev => "udev is not responding; new drives will not be noticed. Restart systemd-udevd.",
        FacilityKind::Nix => "Nix is not responding. Check that the nix-daemon service is running.",
        FacilityKind::Storage => "The disk is not responding. Check the disk and the kernel log.",
    }
}

/// Probes every facility, all at once.
pub async fn probe_all(cfg: &HostConfig) -> Vec<Facility> {
    futures_util::future::join_all(FacilityKind::ALL.iter().map(|k| probe(cfg, *k))).await
}

pub(crate) fn ok(kind: FacilityKind, version: Option<String>, detail: impl Into<String>) -> Facility {
    Facility {
        kind,
        label: kind.label().to_owned(),
        state: FacilityState::Ok,
        version,
        detail: detail.into(),
        remedy: None,
    }
}

pub(crate) fn degraded(
    kind: FacilityKind,
    version: Option<String>,
    detail: impl Into<String>,
    remedy: impl Into<String>,
) -> Facility {
    Facility {
        kind,
        label: kind.label().to_owned(),
        state: FacilityState::Degraded,
        version,
        detail: detail.into(),
        remedy: Some(remedy.into()),
    }
}

pub(crate) fn missing(kind: FacilityKind, detail: impl Into<String>, remedy: impl Into<String>) -> Facility {
    Facility {
        kind,
        label: kind.label().to_owned(),
        state: FacilityState::Missing,
        version: None,
        detail: detail.into(),
        remedy: Some(remedy.into()),
    }
}

/// The most recent probe results, shared by the status route and the self-check.
#[derive(Clone)]
pub struct Facilities {
    inner: Arc<RwLock<(Vec<Facility>, DateTime<Utc>)>>,
}

impl Facilities {
    pub fn new(found: Vec<Facility>) -> Facilities {
        Facilities { inner: Arc::new(RwLock::new((found, Utc::now()))) }
    }

    pub fn snapshot(&self) -> (Vec<Facility>, DateTime<Utc>) {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stores new results and returns each facility whose state changed: (kind, from, to).
    pub fn replace(&self, found: Vec<Facility>) -> Vec<(FacilityKind, FacilityState, FacilityState)> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let changes = found
            .iter()
            .filter_map(|new| {
                let old = inner.0.iter().find(|f| f.kind == new.kind)?;
                (old.state != new.state).then_some((new.kind, old.state, new.state))
            })
            .collect();
        *inner = (found, Utc::now());
        changes
    }
}
