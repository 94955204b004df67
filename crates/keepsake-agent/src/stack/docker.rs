//! [`Engine`] on the real Docker engine, through bollard. The client is made once (connecting and
//! negotiating the API version costs a `GET /version`, about 11 ms, which made every restart
//! through the API a tenth slower than `docker restart`: docs/PERFORMANCE.md) and kept; it opens
//! connections to the socket as it needs them, so a restarted engine is still reached.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig,
    NetworkCreateRequest, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, LogsOptions, RemoveContainerOptions,
    RestartContainerOptions, StatsOptions, StopContainerOptions,
};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use keepsake_api::{ContainerHealth, ContainerLogLine, ContainerState, LogStream};
use keepsake_stack::{Network, Restart, ServiceSpec};

use super::engine::{Engine, EngineError, EngineResult, LayerProgress, LogRequest, Observed, Usage};

const TIMEOUT: Duration = Duration::from_secs(120);

pub struct DockerEngine {
    /// `unix:///var/run/docker.sock`
    endpoint: String,
    client: tokio::sync::Mutex<Option<Docker>>,
}

fn status_code(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn container_err<'a>(action: &'static str, container: &'a str) -> impl Fn(BollardError) -> EngineError + 'a {
    move |e| EngineError::Container { action, container: container.to_owned(), why: e.to_string() }
}

impl DockerEngine {
    pub fn new(endpoint: String) -> DockerEngine {
        DockerEngine { endpoint, client: tokio::sync::Mutex::new(None) }
    }

    /// The kept client, made on first use (and again after a failed attempt).
    async fn connect(&self) -> EngineResult<Docker> {
        let mut kept = self.client.lock().await;
        if let Some(d) = kept.as_ref() {
            return Ok(d.clone());
        }
        let d = self.make_client().await?;
        *kept = Some(d.clone());
        Ok(d)
    }

    async fn make_client(&self) -> EngineResult<Docker> {
        let unreachable = |why: String| EngineError::Unreachable { endpoint: self.endpoint.clone(), why };
        let path = self
            .endpoint
            .strip_prefix("unix://")
            .ok_or_else(|| unreachable("only unix:// endpoints are supported".into()))?;
        crate::host::docker::connect(path, TIMEOUT).await.map_err(|e| unreachable(e.to_string()))
    }
}

fn state_of(s: Option<ContainerStateStatusEnum>) -> ContainerState {
    match s {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        // Stopping is on its way to exited.
        _ => ContainerState::Exited,
    }
}

fn health_of(h: Option<HealthStatusEnum>) -> Option<ContainerHealth> {
    match h {
        Some(HealthStatusEnum::STARTING) => Some(ContainerHealth::Starting),
        Some(HealthStatusEnum::HEALTHY) => Some(ContainerHealth::Healthy),
        Some(HealthStatusEnum::UNHEALTHY) => Some(ContainerHealth::Unhealthy),
        _ => None,
    }
}

/// The engine's body for a container the spec describes.
pub fn create_body(spec: &ServiceSpec) -> ContainerCreateBody {
    let secs = |s: u32| i64::from(s) * 1_000_000_000;
    let binds = spec
        .mounts
        .iter()
        .map(|m| format!("{}:{}{}", m.source.display(), m.target, if m.read_only { ":ro" } else { "" }))
        .collect();
    let mut port_bindings = HashMap::new();
    for p in &spec.ports {
        port_bindings.insert(
            format!("{}/tcp", p.container_port),
            Some(vec![PortBinding { host_ip: Some(p.host_ip.clone()), host_port: Some(p.host_port.to_string()) }]),
        );
    }
    let (network_mode, networking_config) = match &spec.network {
        Network::Host => ("host".to_owned(), None),
        Network::Bridge { name } => {
            let endpoint = EndpointSettings { aliases: Some(spec.aliases.clone()), ..Default::default() };
            (name.clone(), Some(NetworkingConfig { endpoints_config: Some(HashMap::from([(name.clone(), endpoint)])) }))
        }
    };
    let restart = match spec.restart {
        Restart::Always => RestartPolicyNameEnum::ALWAYS,
        Restart::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
    };
    ContainerCreateBody {
        image: Some(spec.image.reference()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: spec.cmd.clone(),
        labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        healthcheck: spec.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(secs(h.interval_s)),
            timeout: Some(secs(h.timeout_s)),
            retries: Some(i64::from(h.retries)),
            start_period: Some(secs(h.start_period_s)),
            ..Default::default()
        }),
        exposed_ports: (!spec.ports.is_empty())
            .then(|| spec.ports.iter().map(|p| format!("{}/tcp", p.container_port)).collect()),
        host_config: Some(HostConfig {
            binds: Some(binds),
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            restart_policy: Some(RestartPolicy { name: Some(restart), maximum_retry_count: None }),
            shm_size: spec.shm_size_bytes.map(|b| b as i64),
            network_mode: Some(network_mode),
            ..Default::default()
        }),
        networking_config,
        ..Default::default()
    }
}

/// One frame of `docker logs --timestamps`: `2026-12-07T22:59:43.123456789Z text`.
fn log_line(out: LogOutput) -> Option<ContainerLogLine> {
    let (stream, message) = match out {
        LogOutput::StdOut { message } | LogOutput::Console { message } => (LogStream::Stdout, message),
        LogOutput::StdErr { message } => (LogStream::Stderr, message),
        LogOutput::StdIn { .. } => return None,
    };
    let text = String::from_utf8_lossy(&message);
    let (stamp, rest) = text.split_once(' ').unwrap_or((&text, ""));
    let time = chrono::DateTime::parse_from_rfc3339(stamp).ok()?.with_timezone(&chrono::Utc);
    Some(ContainerLogLine { time, stream, text: rest.trim_end_matches(['\n', '\r']).to_owned() })
}

/// `repo:tag@digest` → (`repo`, `tag@digest`-less tag or digest) as `/images/create` wants them.
fn split_reference(reference: &str) -> (String, String) {
    if let Some((repo_tag, digest)) = reference.split_once('@') {
        let repo = match repo_tag.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => r,
            _ => repo_tag,
        };
        return (repo.to_owned(), digest.to_owned());
    }
    match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_owned(), t.to_owned()),
        _ => (reference.to_owned(), "latest".to_owned()),
    }
}

impl Engine for DockerEngine {
    fn inspect<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<Option<Observed>>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let r = match docker.inspect_container(name, None::<InspectContainerOptions>).await {
                Ok(r) => r,
                Err(e) if status_code(&e) == Some(404) => return Ok(None),
                Err(e) => return Err(container_err("inspect", name)(e)),
            };
            let state = r.state.unwrap_or_default();
            let config = r.config.unwrap_or_default();
            let running = state.running == Some(true);
            Ok(Some(Observed {
                name: name.to_owned(),
                image: config.image.unwrap_or_default(),
                labels: config.labels.unwrap_or_default().into_iter().collect(),
                state: state_of(state.status),
                health: if running { health_of(state.health.and_then(|h| h.status)) } else { None },
                started_at: state
                    .started_at
                    .filter(|_| running)
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
                    .map(|t| t.with_timezone(&chrono::Utc)),
                restart_count: r.restart_count.unwrap_or(0).max(0) as u64,
                exit_code: state.exit_code.filter(|_| !running),
                oom_killed: state.oom_killed == Some(true),
            }))
        })
    }

    fn image_present<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, EngineResult<bool>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            match docker.inspect_image(reference).await {
                Ok(_) => Ok(true),
                Err(e) if status_code(&e) == Some(404) => Ok(false),
                Err(e) => Err(EngineError::Other { action: "look for an image", why: e.to_string() }),
            }
        })
    }

    fn image_digest<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, EngineResult<Option<String>>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let image = match docker.inspect_image(reference).await {
                Ok(i) => i,
                Err(e) if status_code(&e) == Some(404) => return Ok(None),
                Err(e) => return Err(EngineError::Other { action: "read an image's digest", why: e.to_string() }),
            };
            let (repo, _) = split_reference(reference);
            Ok(image.repo_digests.unwrap_or_default().into_iter().find_map(|d| {
                let (r, digest) = d.split_once('@')?;
                (r == repo).then(|| digest.to_owned())
            }))
        })
    }

    fn registry_digest<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, EngineResult<String>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let err = |why: String| EngineError::Other { action: "read the image's manifest from its registry", why };
            let d = docker.inspect_registry_image(reference, None).await.map_err(|e| err(e.to_string()))?;
            d.descriptor.digest.ok_or_else(|| err("the registry gave no digest".into()))
        })
    }

    fn pull<'a>(
        &'a self,
        reference: &'a str,
        progress: &'a (dyn Fn(LayerProgress) + Send + Sync),
    ) -> BoxFuture<'a, EngineResult<()>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let (repo, tag) = split_reference(reference);
            let opts = CreateImageOptions { from_image: Some(repo), tag: Some(tag), ..Default::default() };
            let mut stream = docker.create_image(Some(opts), None, None);
            let fail = |why: String| EngineError::Pull { image: reference.to_owned(), why };
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| fail(e.to_string()))?;
                if let Some(err) = info.error_detail.and_then(|d| d.message) {
                    return Err(fail(err));
                }
                if let Some(layer) = info.id {
                    let detail = info.progress_detail.unwrap_or_default();
                    progress(LayerProgress {
                        layer,
                        current: detail.current.unwrap_or(0).max(0) as u64,
                        total: detail.total.filter(|t| *t > 0).map(|t| t as u64),
                        status: info.status.unwrap_or_default(),
                    });
                }
            }
            Ok(())
        })
    }

    fn ensure_network<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<()>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let err = |e: BollardError| EngineError::Other { action: "create the stack's network", why: e.to_string() };
            match docker.inspect_network(name, None).await {
                Ok(_) => Ok(()),
                Err(e) if status_code(&e) == Some(404) => {
                    let req = NetworkCreateRequest {
                        name: name.to_owned(),
                        driver: Some("bridge".into()),
                        ..Default::default()
                    };
                    docker.create_network(req).await.map(|_| ()).map_err(err)
                }
                Err(e) => Err(err(e)),
            }
        })
    }

    fn create<'a>(&'a self, spec: &'a ServiceSpec) -> BoxFuture<'a, EngineResult<()>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let opts = CreateContainerOptions { name: Some(spec.container.clone()), ..Default::default() };
            docker
                .create_container(Some(opts), create_body(spec))
                .await
                .map(|_| ())
                .map_err(container_err("create", &spec.container))
        })
    }

    fn start<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<()>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            match docker.start_container(name, None).await {
                // 304: already running.
                Err(e) if status_code(&e) == Some(304) => Ok(()),
                r => r.map_err(container_err("start", name)),
            }
        })
    }

    fn stop<'a>(&'a self, name: &'a str, grace: Duration) -> BoxFuture<'a, EngineResult<()>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let opts = StopContainerOptions { t: Some(grace.as_secs() as i32), ..Default::default() };
            match docker.stop_container(name, Some(opts)).await {
                Err(e) if status_code(&e) == Some(304) => Ok(()),
                r => r.map_err(container_err("stop", name)),
            }
        })
    }

    fn restart<'a>(&'a self, name: &'a str, grace: Duration) -> BoxFuture<'a, EngineResult<()>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let opts = RestartContainerOptions { t: Some(grace.as_secs() as i32), ..Default::default() };
            docker.restart_container(name, Some(opts)).await.map_err(container_err("restart", name))
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<()>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let opts = RemoveContainerOptions { force: true, ..Default::default() };
            match docker.remove_container(name, Some(opts)).await {
                Err(e) if status_code(&e) == Some(404) => Ok(()),
                r => r.map_err(container_err("remove", name)),
            }
        })
    }

    fn logs<'a>(
        &'a self,
        name: &'a str,
        req: LogRequest,
    ) -> BoxFuture<'a, EngineResult<BoxStream<'static, EngineResult<ContainerLogLine>>>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let opts = LogsOptions {
                follow: req.follow,
                stdout: req.stdout,
                stderr: req.stderr,
                since: req.since.clamp(0, i64::from(i32::MAX)) as i32,
                until: req.until.clamp(0, i64::from(i32::MAX)) as i32,
                timestamps: true,
                tail: req.tail.map_or_else(|| "all".to_owned(), |t| t.to_string()),
            };
            // The engine's stream borrows its client: a task owns both and hands the lines over
            // a channel, and stops when the receiver is dropped (the client went away).
            let (tx, rx) = tokio::sync::mpsc::channel(256);
            let name = name.to_owned();
            tokio::spawn(async move {
                let mut stream = docker.logs(&name, Some(opts));
                while let Some(item) = stream.next().await {
                    let item = match item {
                        Ok(out) => match log_line(out) {
                            Some(l) => Ok(l),
                            None => continue,
                        },
                        Err(e) => Err(container_err("read the log of", &name)(e)),
                    };
                    let stop = item.is_err();
                    if tx.send(item).await.is_err() || stop {
                        return;
                    }
                }
            });
            Ok(tokio_stream::wrappers::ReceiverStream::new(rx).boxed())
        })
    }

    fn remove_image<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, EngineResult<()>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            match docker.remove_image(reference, None::<bollard::query_parameters::RemoveImageOptions>, None).await {
                Ok(_) => Ok(()),
                // Gone already, or a container (a rolled-back one kept by hand) still uses it.
                Err(e) if matches!(status_code(&e), Some(404 | 409)) => Ok(()),
                Err(e) => Err(EngineError::Other { action: "remove an old image", why: e.to_string() }),
            }
        })
    }

    fn usage<'a>(&'a self, name: &'a str) -> BoxFuture<'a, EngineResult<Usage>> {
        Box::pin(async move {
            let docker = self.connect().await?;
            let opts = StatsOptions { stream: false, one_shot: false };
            let Some(stats) = docker.stats(name, Some(opts)).next().await else { return Ok(Usage::default()) };
            let s = stats.map_err(container_err("read the usage of", name))?;
            // CPU: the container's share of the system's time between the two readings the
            // engine gives (as `docker stats` computes it), in percent of one CPU.
            let cpu_percent = (|| {
                let (now, pre) = (s.cpu_stats.as_ref()?, s.precpu_stats.as_ref()?);
                let d_cpu = now.cpu_usage.as_ref()?.total_usage? as f64 - pre.cpu_usage.as_ref()?.total_usage? as f64;
                let d_sys = now.system_cpu_usage? as f64 - pre.system_cpu_usage? as f64;
                let cpus = f64::from(now.online_cpus.unwrap_or(1).max(1));
                (d_sys > 0.0).then(|| (d_cpu / d_sys * cpus * 100.0).max(0.0))
            })();
            let memory_bytes = s.memory_stats.as_ref().and_then(|m| {
                // As `docker stats`: usage less the page cache that can be dropped.
                let inactive = m.stats.as_ref().and_then(|st| st.get("inactive_file").copied()).unwrap_or(0);
                m.usage.map(|u| u.saturating_sub(inactive))
            });
            Ok(Usage { cpu_percent, memory_bytes })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_into_what_the_pull_endpoint_wants() {
        let s = |r: &str| split_reference(r);
        assert_eq!(
            s("127.0.0.1:5000/immich-app/immich-server:v3.2.0"),
            ("127.0.0.1:5000/immich-app/immich-server".into(), "v3.2.0".into())
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            s(&format!("ghcr.io/immich-app/postgres:14-vc@{d}")),
            ("ghcr.io/immich-app/postgres".into(), d.clone())
        );
        assert_eq!(s("127.0.0.1:5000/valkey"), ("127.0.0.1:5000/valkey".into(), "latest".into()));
    }
}
