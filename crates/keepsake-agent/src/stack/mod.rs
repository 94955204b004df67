//! The Immich stack on Docker: installing it, converging it after hand edits, starting, stopping
//! and restarting its services, and saying how each is doing.
//!
//! The stack itself is data (`keepsake_stack`: the typed spec derived from Immich's compose file);
//! this module keeps what Keepsake chose (version, machine learning, pinned digests, services
//! stopped on purpose: [`state`]), the database password (in the vault, never on the wire), and
//! talks to the engine only through the narrow [`engine::Engine`] interface. Long work (pulls,
//! install) runs as jobs holding the `Stack` lock; a single service's start, stop or restart is
//! answered at once, and refused while such a job runs.

mod check;
pub mod docker;
pub mod engine;
mod install;
mod logs;
mod probe;
mod reconcile;
mod state;
mod status;
mod update;
mod versions;
mod whole;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::BoxStream;
use keepsake_api::{
    ContainerLogLine, ContainerLogQuery, ContainerLogs, Done, Job, StackAction, StackInstallRequest, StackService,
    StackStatus,
};
use keepsake_stack::{ImmichVersion, Network, Role, StackPorts, StackSettings, StackSpec};

use crate::jobs::{JobManager, JobsError, Resource};
use crate::store::{Store, StoreError};
use crate::vault::{Secret, SecretsError, Vault};

pub use engine::{Engine, EngineError};
pub use state::StackState;

/// The Immich release a first install runs unless told otherwise (server and machine learning).
pub const DEFAULT_IMMICH_VERSION: &str = "v3.2.2";

/// The vault name of Immich's database password.
pub const DB_PASSWORD_SECRET: &str = "immich_db_password";

/// How the agent runs the stack on this box.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub docker_host: String,
    /// Immich's upload location (mounted at `/data`).
    pub library_dir: PathBuf,
    /// The database's data directory.
    pub postgres_dir: PathBuf,
    /// Machine learning's model cache.
    pub model_cache_dir: PathBuf,
    pub server_repository: String,
    pub ml_repository: String,
    /// Overrides of the pinned Valkey and PostgreSQL images (`repo:tag@digest`).
    pub redis_image: Option<String>,
    pub postgres_image: Option<String>,
    /// What a first install runs unless told otherwise.
    pub default_version: String,
    pub network: Network,
    pub ports: StackPorts,
    /// `immich_`: containers are `immich_server`, `immich_postgres`...
    pub container_prefix: String,
    /// How long an install waits for every service to be healthy.
    pub health_timeout: Duration,
    /// How long a stop waits before it kills.
    pub stop_grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Busy(String),
    #[error("the stack is not installed yet: install it first")]
    NotInstalled,
    #[error("the stack's settings are invalid: {0}")]
    Spec(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// A stack job's failure, in words.
fn job_failed(e: impl std::fmt::Display) -> crate::jobs::JobFailure {
    crate::jobs::JobFailure::Failed(e.to_string())
}

/// The API's name for a service of the spec.
pub fn role_of(r: Role) -> StackService {
    match r {
        Role::Database => StackService::Database,
        Role::Redis => StackService::Redis,
        Role::MachineLearning => StackService::MachineLearning,
        Role::Server => StackService::Server,
    }
}

pub fn spec_role(s: StackService) -> Role {
    match s {
        StackService::Database => Role::Database,
        StackService::Redis => Role::Redis,
        StackService::MachineLearning => Role::MachineLearning,
        StackService::Server => Role::Server,
    }
}

pub struct Stack {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: StackConfig,
    store: Arc<Store>,
    jobs: Arc<JobManager>,
    vault: Vault,
    engine: Arc<dyn Engine>,
    /// Restore points, when this box has them (ZFS): an update needs its pre-update point.
    points: Option<Arc<crate::restore_points::RestorePoints>>,
    update_cache: check::Cache,
    events: crate::events::Events,
}

impl Stack {
    pub fn new(
        config: StackConfig,
        store: Arc<Store>,
        jobs: Arc<JobManager>,
        vault: Vault,
        engine: Arc<dyn Engine>,
        points: Option<Arc<crate::restore_points::RestorePoints>>,
        events: crate::events::Events,
    ) -> Stack {
        let update_cache = Default::default();
        Stack { inner: Arc::new(Inner { config, store, jobs, vault, engine, points, update_cache, events }) }
    }

    /// At start: rolls back an update the agent's death interrupted (a `stack.recover` job).
    /// Also looks for updates now and then (the `update.available` alert reads the answers).
    pub fn start(&self) {
        match update::recover_at_start(&self.inner) {
            Ok(Some(job)) => tracing::warn!(job = job.id, "rolling back an interrupted update"),
            Ok(None) => {}
            Err(e) => tracing::error!("cannot roll back an interrupted update: {e}"),
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(check::EVERY).await;
                if let Err(e) = check::check(&inner, true).await {
                    tracing::warn!("cannot look for an Immich update: {e}");
                }
            }
        });
    }

    /// Whether a newer Immich is available (cached; `refresh` asks the registry now).
    pub async fn check_updates(&self, refresh: bool) -> Result<keepsake_api::StackUpdateCheck, StackError> {
        check::check(&self.inner, refresh).await
    }

    /// The versions the box ran and whether it can go back to each.
    pub async fn versions(&self) -> Result<keepsake_api::StackVersions, StackError> {
        versions::list(&self.inner).await
    }

    /// Starts a manual rollback (checked first: a refused one changes nothing).
    pub async fn submit_rollback(&self, r: &keepsake_api::StackRollbackRequest, by: &str) -> Result<Job, StackError> {
        versions::submit(&self.inner, r, by).await
    }

    /// Starts the update job (checked first: a refused target changes nothing).
    pub fn submit_update(&self, version: &str, by: &str) -> Result<Job, StackError> {
        update::submit(&self.inner, version, by)
    }

    /// Every service as the engine shows it now.
    pub async fn status(&self) -> Result<StackStatus, StackError> {
        status::read(&self.inner).await
    }

    /// Starts the install (or reconcile) job.
    pub fn submit_install(&self, r: &StackInstallRequest, by: &str) -> Result<Job, StackError> {
        install::submit(&self.inner, r, by)
    }

    /// A page of a service's log.
    pub async fn logs(&self, service: StackService, q: &ContainerLogQuery) -> Result<ContainerLogs, StackError> {
        logs::page(&self.inner, service, q).await
    }

    /// What a service writes from now on (the live follow).
    pub async fn follow_logs(
        &self,
        service: StackService,
        q: ContainerLogQuery,
    ) -> Result<BoxStream<'static, Result<ContainerLogLine, EngineError>>, StackError> {
        logs::follow(&self.inner, service, q).await
    }

    /// Starts, stops or restarts the whole stack (a job).
    pub fn submit_whole_action(&self, action: StackAction, by: &str) -> Result<Job, StackError> {
        whole::submit(&self.inner, action, by)
    }

    /// Starts, stops or restarts one service now.
    pub async fn service_action(&self, service: StackService, action: StackAction) -> Result<Done, StackError> {
        let inner = &self.inner;
        if let Some(job) = inner.jobs.busy_with(&Resource::Stack) {
            return Err(StackError::Busy(format!(
                "job #{job} is changing the stack; wait for it to finish, then try again"
            )));
        }
        let mut state = state::load(&inner.store)?;
        if !state.installed {
            return Err(StackError::NotInstalled);
        }
        let spec = inner.spec(&state)?;
        let Some(s) = spec.service(spec_role(service)) else {
            return Err(StackError::Refused(format!(
                "{} is not part of this stack (turn it on in the stack's settings first)",
                service.label()
            )));
        };
        let grace = inner.config.stop_grace;
        match action {
            StackAction::Start => inner.engine.start(&s.container).await?,
            StackAction::Stop => inner.engine.stop(&s.container, grace).await?,
            StackAction::Restart => inner.engine.restart(&s.container, grace).await?,
        }
        // A service stopped here stays stopped until started here: a reconcile leaves it be.
        if action == StackAction::Stop {
            state.stopped.insert(service);
        } else {
            state.stopped.remove(&service);
        }
        state::save(&inner.store, &state)?;
        let verb = match action {
            StackAction::Start => "started",
            StackAction::Stop => "stopped",
            StackAction::Restart => "restarted",
        };
        Ok(Done::new(format!("{} ({}) {verb}", service.label(), s.container)))
    }
}

impl Inner {
    /// The database password, made (A-Za-z0-9, as Immich requires) and sealed on first use.
    fn db_password(&self) -> Result<Secret, StackError> {
        if let Some(p) = self.vault.get_internal(DB_PASSWORD_SECRET)? {
            return Ok(p);
        }
        let p = Secret::new(keepsake_stack::generate_db_password());
        self.vault.set_internal(DB_PASSWORD_SECRET, &p)?;
        Ok(p)
    }

    /// The spec for what Keepsake chose (or would choose for a first install), without making a
    /// password: a read changes nothing. (Before the first install there is no password, and no
    /// container whose settings could differ from the spec.)
    fn spec(&self, state: &StackState) -> Result<StackSpec, StackError> {
        let version = state.version.as_deref().unwrap_or(&self.config.default_version);
        let password = match self.vault.get_internal(DB_PASSWORD_SECRET)? {
            Some(p) => p,
            None => Secret::new("NotMadeYetNotMadeYet".into()),
        };
        self.spec_with(version, state.machine_learning, state, &password)
    }

    /// The spec an install makes (its password made on first use).
    fn spec_for(&self, version: &str, ml: bool, state: &StackState) -> Result<StackSpec, StackError> {
        self.spec_with(version, ml, state, &self.db_password()?)
    }

    fn spec_with(
        &self,
        version: &str,
        ml: bool,
        state: &StackState,
        password: &Secret,
    ) -> Result<StackSpec, StackError> {
        let c = &self.config;
        let version: ImmichVersion = version.parse().map_err(|e| StackError::Spec(format!("{e}")))?;
        let mut s = StackSettings::defaults(version, &c.library_dir, password.expose().to_owned());
        s.upload_location = c.library_dir.clone();
        s.db_data_location = c.postgres_dir.clone();
        s.model_cache = c.model_cache_dir.clone();
        s.server_repository = c.server_repository.clone();
        s.ml_repository = c.ml_repository.clone();
        if let Some(r) = &c.redis_image {
            s.redis_image = keepsake_stack::ImageRef::parse(r).map_err(|e| StackError::Spec(e.to_string()))?;
        }
        if let Some(p) = &c.postgres_image {
            s.postgres_image = keepsake_stack::ImageRef::parse(p).map_err(|e| StackError::Spec(e.to_string()))?;
        }
        // A pin only holds for the version it was read for.
        if state.version.as_deref() == Some(&s.version.to_string()) {
            s.server_digest = state.server_digest.clone();
            s.ml_digest = state.ml_digest.clone();
        }
        s.machine_learning = ml;
        s.network = c.network.clone();
        s.ports = c.ports;
        s.container_prefix = c.container_prefix.clone();
        keepsake_stack::build(&s).map_err(|e| StackError::Spec(e.to_string()))
    }
}
