//! The Keepsake agent: the appliance's only privileged process.
//!
//! It owns the host (Docker, systemd, ZFS, udev, Nix), the state database and every long operation,
//! and offers all of it through a narrow HTTP/JSON API on a Unix socket that only root and the web
//! server's user may use. Code map:
//!
//! - [`server`]: the socket, peer-credential checks, HTTP serving.
//! - [`api`]: the route table, dispatch, audit of mutating requests, OpenAPI.
//! - [`jobs`]: long operations, their concurrency rules, cancellation and live events.
//! - [`host`]: probes of the host facilities, and the self-check job.
//! - [`store`]: the SQLite state database and its migrations.
//! - [`auth`]: identity and access; [`settings`]: typed settings; [`vault`]: sealed secrets.
//! - [`cli`]: the root console command `keepsake`, a client of the API.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod host;
pub mod jobs;
pub mod server;
pub mod settings;
pub mod store;
pub mod vault;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use config::AgentConfig;

use crate::auth::{Auth, AuthConfig};
use crate::host::{Facilities, HostConfig};
use crate::jobs::JobManager;
use crate::store::Store;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything a request handler may use.
pub struct Agent {
    pub config: AgentConfig,
    pub host: HostConfig,
    pub store: Arc<Store>,
    pub auth: Auth,
    pub jobs: Arc<JobManager>,
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
}

/// Opens the state, probes the host, and serves the API until `shutdown` resolves.
pub async fn run(config: AgentConfig, shutdown: impl std::future::Future<Output = ()>) -> Result<(), AgentError> {
    std::fs::create_dir_all(&config.state_dir).map_err(|e| AgentError::StateDir(config.state_dir.clone(), e))?;
    let store = Arc::new(Store::open(&config.state_dir)?);
    let jobs = JobManager::start(Arc::clone(&store))?;
    let auth_cfg = AuthConfig { public_origins: config.public_origins.clone(), ..AuthConfig::default() };
    let auth = Auth::new(Arc::clone(&store), &config.state_dir, auth_cfg)?;
    let pruned = auth.prune_audit()?;
    if pruned > 0 {
        tracing::info!(pruned, "removed audit entries older than the retention setting");
    }
    let host = config.host();
    // At start, probe quickly: a stalled facility must not keep the API from coming up. The
    // self-check job probes again with the full timeout.
    let quick = HostConfig { probe_timeout: host.probe_timeout.min(std::time::Duration::from_secs(3)), ..host.clone() };
    let facilities = Facilities::new(host::probe_all(&quick).await);
    let listener = server::bind(&config.socket, config.socket_gid)?;
    tracing::info!(socket = %config.socket.display(), web_uid = config.web_uid, "keepsake-agent {VERSION} listening");
    let socket = config.socket.clone();
    let agent =
        Arc::new(Agent { config, host, store: Arc::clone(&store), auth, jobs, facilities, started_at: Utc::now() });
    server::serve(listener, agent, shutdown).await;
    let _ = std::fs::remove_file(&socket);
    // Jobs still running die with this process; say so now rather than at the next start.
    let interrupted = store.fail_interrupted_jobs()?;
    if !interrupted.is_empty() {
        tracing::warn!(?interrupted, "jobs interrupted by shutdown");
    }
    tracing::info!("keepsake-agent stopped");
    Ok(())
}
