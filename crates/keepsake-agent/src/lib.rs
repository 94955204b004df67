//! The Keepsake agent: the appliance's only privileged process.
//!
//! It owns the host (Docker, systemd, ZFS, udev, Nix), the state database and every long operation,
//! and offers all of it through a narrow HTTP/JSON API on a Unix socket that only root and the web
//! server's user may use. Code map:
//!
//! - [`server`]: the socket, peer-credential checks, HTTP serving.
//! - [`api`]: the route table, dispatch, audit of mutating requests, OpenAPI.
//! - [`jobs`]: long operations, their locks, cancellation, reconciliation and live events.
//! - [`events`]: the event bus and its durable outbox, for subsystems that must not miss events.
//! - [`host`]: probes of the host facilities, and the self-check job.
//! - [`store`]: the SQLite state database and its migrations.
//! - [`alerts`]: rules on the events, alert states, and messages through email and webhooks.
//! - [`stack`]: the Immich containers on Docker (install, converge, start/stop, status).
//! - [`auth`]: identity and access; [`settings`]: typed settings; [`vault`]: sealed secrets.

pub mod alerts;
pub mod api;
mod atomic_file;
pub mod auth;
pub mod config;
pub mod drives;
pub mod events;
pub mod host;
pub mod jobs;
pub mod restore_points;
pub mod server;
pub mod settings;
pub mod stack;
pub mod store;
pub mod vault;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use config::AgentConfig;

use crate::alerts::{Alerts, AlertsConfig};
use crate::auth::{Auth, AuthConfig};
use crate::events::Events;
use crate::host::{Facilities, HostConfig};
use crate::jobs::JobManager;
use crate::store::Store;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long each host probe may take at start, before the API answers.
const STARTUP_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Everything a request handler may use.
pub struct Agent {
    pub config: AgentConfig,
    pub host: HostConfig,
    pub store: Arc<Store>,
    pub auth: Auth,
    pub jobs: Arc<JobManager>,
    pub events: Events,
    pub alerts: Arc<Alerts>,
    pub restore_points: Arc<restore_points::RestorePoints>,
    pub drives: Arc<drives::Drives>,
    pub stack: stack::Stack,
    pub facilities: Facilities,
    pub started_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot create the state directory {0}: {1}")]
    StateDir(std::path::PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Jobs(#[from] jobs::JobsError),
    #[error(transparent)]
    Server(#[from] server::ServerError),
    #[error("identity: {0}")]
    Auth(#[from] auth::AuthError),
    #[error("alerts: {0}")]
    Alerts(#[from] alerts::AlertsError),
}

/// Opens the state, probes the host, and serves the API until `shutdown` resolves.
pub async fn run(config: AgentConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), AgentError> {
    std::fs::create_dir_all(&config.state_dir).map_err(|e| AgentError::StateDir(config.state_dir.clone(), e))?;
    let store = Arc::new(Store::open(&config.state_dir)?);
    let events = Events::new(Arc::clone(&store));
    // Prunes at once, then every few hours.
    tokio::spawn(events.clone().prune_every(std::time::Duration::from_secs(6 * 3600)));
    // No kind resumes yet: an interrupted job is failed or found done by its kind's rule.
    let jobs = JobManager::start(Arc::clone(&store), events.clone(), &mut |_, _| None)?;
    let auth_cfg = AuthConfig { public_origins: config.public_origins.clone(), ..AuthConfig::default() };
    let auth = Auth::new(Arc::clone(&store), &config.state_dir, auth_cfg)?;
    let pruned = auth.prune_audit()?;
    if pruned > 0 {
        tracing::info!(pruned, "removed audit entries older than the retention setting");
    }
    let alerts = Alerts::new(
        Arc::clone(&store),
        events.clone(),
        auth.sealer(),
        AlertsConfig {
            origin: config.public_origins.first().cloned(),
            retry_base: config.notify_retry_base,
            ..AlertsConfig::default()
        },
    )?;
    let host = config.host();
    // The socket first, so clients can connect (and queue) while the host is probed. Then probe
    // quickly: a stalled facility (a hung mount, a wedged daemon) must not keep the API from
    // coming up; it is reported as not answering. The self-check job probes again with the full
    // timeout.
    let listener = server::bind(&config.socket, config.socket_gid)?;
    let quick = HostConfig { probe_timeout: host.probe_timeout.min(STARTUP_PROBE_TIMEOUT), ..host.clone() };
    let facilities = Facilities::new(host::probe_all(&quick).await);
    tracing::info!(socket = %config.socket.display(), web_uid = config.web_uid, "keepsake-agent {VERSION} listening");
    alerts.start()?;
    // The watchers publish what the host does as events; the alert rules read them.
    if !config.pool_poll.is_zero() {
        tokio::spawn(host::pool_watch::run(events.clone(), config.pool_poll, host.probe_timeout));
    }
    if config.watch_containers {
        tokio::spawn(host::container_watch::run(host.docker_host.clone(), events.clone()));
    }
    if !config.certificate_checks.is_empty() && !config.certificate_check.is_zero() {
        let (targets, period) = (config.certificate_checks.clone(), config.certificate_check);
        tokio::spawn(host::cert_watch::run(events.clone(), targets, period, host.probe_timeout));
    }
    let stack = Arc::new(restore_points::ContainerStack {
        docker_host: config.docker_host.clone(),
        server_containers: config.immich_server_containers.clone(),
        db: config.immich_db.clone(),
    });
    let restore_points = Arc::new(restore_points::RestorePoints::new(
        config.restore_points.clone(),
        Arc::clone(&store),
        Arc::clone(&jobs),
        stack,
    ));
    restore_points.start();
    let drives = Arc::new(drives::Drives::new(
        config.drives.clone(),
        Arc::clone(&store),
        Arc::clone(&jobs),
        vault::Vault::new(Arc::clone(&store), auth.sealer()),
        events.clone(),
    ));
    drives.start();
    let stack = stack::Stack::new(
        config.stack.clone(),
        Arc::clone(&store),
        Arc::clone(&jobs),
        vault::Vault::new(Arc::clone(&store), auth.sealer()),
        Arc::new(stack::docker::DockerEngine::new(config.docker_host.clone())),
        config.restore_points.zfs_root.is_some().then(|| Arc::clone(&restore_points)),
        events.clone(),
    );
    stack.start();
    let socket = config.socket.clone();
    let agent = Arc::new(Agent {
        config,
        host,
        store,
        auth,
        jobs,
        events,
        alerts,
        restore_points,
        drives,
        stack,
        facilities,
        started_at: Utc::now(),
    });
    server::serve(listener, agent, shutdown).await;
    let _ = std::fs::remove_file(&socket);
    // Jobs still running die with this process; the next start reconciles them from what they
    // recorded, by their kind's rule, as after a crash.
    tracing::info!("keepsake-agent stopped");
    Ok(())
}
