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
    match tokio::time::timeout(timeout, talk(path, timeout)).await {
        Ok(f) => f,
        Err(_) => missing(
            K,
            format!("the Docker engine on {path} accepted the connection but did not answer within {}", secs(timeout)),
            super::remedy_when_stalled(K),
        ),
    }
}

async fn talk(path: &str, timeout: Duration) -> Facility {
    let docker = match Docker::connect_with_unix(path, timeout.as_secs().max(1), API_DEFAULT_VERSION) {
        Ok(d) => d,
        Err(e) => return not_running(path, &e.to_string()),
    };
    let docker = match docker.negotiate_version().await {
        Ok(d) => d,
        Err(e) => return not_running(path, &e.to_string()),
    };
    match docker.version().await {
        Ok(v) => {
            let engine = v.version.unwrap_or_else(|| "unknown".into());
            let api = v.api_version.unwrap_or_else(|| "unknown".into());
            ok(K, Some(format!("{engine} (API {api})")), format!("Docker engine {engine} answers on {path}"))
        }
        Err(e) => not_running(path, &e.to_string()),
    }
}

fn not_running(path: &str, why: &str) -> Facility {
    missing(
        K,
        format!("no Docker engine answers on {path}: {why}"),
        "Start the Docker engine (on Keepsake: systemctl start docker). Immich cannot run without it.",
    )
}
