//! systemd probe, over D-Bus with zbus.

use std::time::Duration;

use keepsake_api::{Facility, FacilityKind};
use zbus_systemd::systemd1::ManagerProxy;

use super::blocking::secs;
use super::{missing, ok};

const K: FacilityKind = FacilityKind::Systemd;

/// Connects to the bus at `address` and reads systemd's `Version` and `SystemState`, all within
/// `timeout`: a bus that accepts the connection and then says nothing must not hold the probe.
pub async fn probe(address: &str, timeout: Duration) -> Facility {
    match tokio::time::timeout(timeout, talk(address, timeout)).await {
        Ok(f) => f,
        Err(_) => missing(
            K,
            format!("systemd on the bus at {address} did not answer within {}", secs(timeout)),
            super::remedy_when_stalled(K),
        ),
    }
}

async fn talk(address: &str, timeout: Duration) -> Facility {
    let conn = match zbus::connection::Builder::address(address).method_timeout(timeout).build().await {
        Ok(c) => c,
        Err(e) => return unreachable(address, &e.to_string()),
    };
    let manager = match ManagerProxy::new(&conn).await {
        Ok(m) => m,
        Err(e) => return unreachable(address, &e.to_string()),
    };
    let version = match manager.version().await {
        Ok(v) => v,
        Err(e) => return unreachable(address, &format!("systemd did not answer: {e}")),
    };
    let state = manager.system_state().await.unwrap_or_else(|_| "unknown".into());
    let f = ok(K, Some(version.clone()), format!("systemd {version} answers on the system bus; system is {state}"));
    if state == "degraded" {
        return super::degraded(
            K,
            Some(version),
            "systemd answers, but some services have failed (system state: degraded)",
            "See which services failed with `systemctl --failed`.",
        );
    }
    f
}

fn unreachable(address: &str, why: &str) -> Facility {
    missing(
        K,
        format!("cannot reach systemd on the bus at {address}: {why}"),
        "Keepsake needs systemd on the system bus to manage services. Check that dbus is running.",
    )
}
