//! The narrow interface the stack needs of a container engine: inspect, pull, create, start, stop,
//! remove, usage. The real one is [`super::docker::DockerEngine`] (bollard); tests of failure paths
//! (a pull that fails, a container that never gets healthy, an agent killed between phases) can put
//! their own in between, so the update's state machine is tested by injection as well as on the
//! real engine.
//!
//! It knows nothing of Immich, versions or jobs: containers by name, images by reference.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use keepsake_api::{ContainerHealth, ContainerLogLine, ContainerState};
use keepsake_stack::ServiceSpec;

/// A container as the engine describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub name: String,
    /// The image reference it was created from (`repo:tag@digest` as given to create).
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub state: ContainerState,
    pub health: Option<ContainerHealth>,
    pub started_at: Option<DateTime<Utc>>,
    pub restart_count: u64,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
}

/// What a running container uses.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
}

/// One progress report of a pull: a layer's bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerProgress {
    pub layer: String,
    pub current: u64,
    pub total: Option<u64>,
    /// The engine's word for it (`Downloading`, `Extracting`, `Pull complete`).
    pub status: String,
}

/// Which lines of a container's log to read (times in whole seconds, as the engine takes them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogRequest {
    /// At or after this Unix time (0: from the start).
    pub since: i64,
    /// Before this Unix time (0: up to now).
    pub until: i64,
    /// Only the last this many lines of that window.
    pub tail: Option<u32>,
    /// Keep reading what the container writes from now on.
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {endpoint}: {why}. Start it (on Keepsake: systemctl start docker)")]
    Unreachable { endpoint: String, why: String },
    #[error("cannot pull {image}: {why}. Check the box's internet connection and try again")]
    Pull { image: String, why: String },
    #[error("cannot {action} container {container}: {why}")]
    Container { action: &'static str, container: String, why: String },
    #[error("cannot {action}: {why}")]
    Other { action: &'static str, why: String },
}

pub type EngineResult<T> = Result<T, EngineError>;

pub trait Engine: Send + Sync {
    /// `None` when no container has that name.
    fn inspect<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<Option<Observed>>>;
    /// Whether the image is in the engine's local store.
    fn image_present<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, EngineResult<bool>>;
    /// The digest (`sha256:…`) the registry gave the local image of `reference`'s repository.
    fn image_digest<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, EngineResult<Option<String>>>;
    /// Pulls an image, reporting each layer's progress.
    fn pull<'a>(
        &'a self,
        reference: &'a str,
        progress: &'a (dyn Fn(LayerProgress) + Send + Sync),
    ) -> BoxFuture<'a, EngineResult<()>>;
    /// Makes the bridge network unless it exists.
    fn ensure_network<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<()>>;
    /// Creates (does not start) the container the spec describes, labels included.
    fn create<'a>(&'a self, spec: &'a ServiceSpec) -> BoxFuture<'a, EngineResult<()>>;
    fn start<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<()>>;
    /// Stops within `grace` (then kills). Stopping a stopped container is not an error.
    fn stop<'a>(&'a self, name: &'a str, grace: Duration) -> BoxFuture<'a, EngineResult<()>>;
    fn restart<'a>(&'a self, name: &'a str, grace: Duration) -> BoxFuture<'a, EngineResult<()>>;
    /// Removes the container (stopping it first); a missing one is not an error.
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<()>>;
    /// The container's log lines, oldest first; with `follow`, then what it writes until it stops
    /// or the stream is dropped.
    fn logs<'a>(
        &'a self,
        name: &'a str,
        req: LogRequest,
    ) -> BoxFuture<'a, EngineResult<BoxStream<'static, EngineResult<ContainerLogLine>>>>;
    /// Removes an image from the engine's store; a missing one, or one a container still uses, is
    /// left as it is (not an error).
    fn remove_image<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, EngineResult<()>>;
    /// One reading of CPU and memory of a running container.
    fn usage<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<Usage>>;
}
