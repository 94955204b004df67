//! Docker engine probe, through bollard.

use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};
use keepsake_api::{Facility, FacilityKind};

use super::blocking::secs;
use super::{missing, ok};

const K: FacilityKind = FacilityKind::Docker;

/// Connects to the engine, negotiates the API version (the engine may be older than bollard's
/// default; never hard-code one) and reads the engine version, all within `timeout`: an engine that
/// accepts the connection and then says nothing must not hold the probe.
pub async fn probe(docker_host: &str, timeout: Duration) -> Facility {
    let Some(path) = docker_host.strip_prefix("unix://") else {
        return missing(
            K,
            format!("unsupported Docker endpoint {docker_host:?}: only unix:// sockets are supported"),
            "Set --docker-host to unix:///var/run/docker.sock (or the engine's socket).",
        );
    };
    // bollard's own request timeout usually fires first; the outer one bounds the whole talk.
    match tokio::time::timeout(timeout, talk(path, timeout)).await {
        Ok(Ok(f)) => f,
        Ok(Err(bollard::errors::Error::RequestTimeoutError)) | Err(_) => stalled(path, timeout),
        Ok(Err(e)) => not_running(path, &e.to_string()),
    }
}

/// Connects to the engine on the Unix socket at `path` and negotiates the API version, within
/// `timeout`: the one way the agent reaches Docker (the probe, the container watcher, the stack).
pub async fn connect(path: &str, timeout: Duration) -> Result<Docker, bollard::errors::Error> {
    let docker = Docker::connect_with_unix(path, timeout.as_secs().max(1), API_DEFAULT_VERSION)?;
    match tokio::time::timeout(timeout, docker.negotiate_version()).await {
        Ok(negotiated) => negotiated,
        Err(_) => Err(bollard::errors::Error::RequestTimeoutError),
    }
}

async fn talk(path: &str, timeout: Duration) -> Result<Facility, bollard::errors::Error> {
    let docker = connect(path, timeout).await?;
    let v = docker.version().await?;
    let engine = v.version.unwrap_or_else(|| "unknown".into());
    let api = v.api_version.unwrap_or_else(|| "unknown".into());
    Ok(ok(K, Some(format!("{engine} (API {api})")), format!("Docker engine {engine} answers on {path}")))
}

fn stalled(path: &str, timeout: Duration) -> Facility {
    missing(
        K,
        format!("the Docker engine on {path} accepted the connection but did not answer within {}", secs(timeout)),
        super::remedy_when_stalled(K),
    )
}

fn not_running(path: &str, why: &str) -> Facility {
    missing(
        K,
        format!("no Docker engine answers on {path}: {why}"),
        "Start the Docker engine (on Keepsake: systemctl start docker). Immich cannot run without it.",
    )
}
