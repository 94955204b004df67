//! udev probe: is the daemon running (so plugged-in backup drives will be noticed), and can we
//! read its device database through libudev.

use std::time::{Duration, Instant};

use keepsake_api::{Facility, FacilityKind};

use super::blocking;
use super::command::{Ran, run};
use super::{degraded, missing, ok};

const K: FacilityKind = FacilityKind::Udev;

pub async fn probe(timeout: Duration) -> Facility {
    let version = match run("udevadm", &["--version"], timeout).await {
        Ran::Ok(v) => v.trim().to_owned(),
        Ran::NotFound => {
            return missing(K, "udevadm is not installed", "Install udev; Keepsake uses it to notice backup drives.");
        }
        other => return missing(K, format!("udevadm failed: {other:?}"), "Check the udev installation."),
    };
    // libudev reads /sys and /run/udev: blocking file reads, so off the runtime.
    let devices = blocking::run("the udev device database", Instant::now() + timeout, "udev may be stuck", || {
        count_block_devices()
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let devices = match devices {
        Ok(n) => n,
        Err(e) => {
            return missing(
                K,
                format!("cannot read the udev device database: {e}"),
                "Check that /run/udev is mounted.",
            );
        }
    };
    match run("udevadm", &["control", "--ping"], timeout).await {
        Ran::Ok(_) => {
            ok(K, Some(version.clone()), format!("udevd {version} is running and sees {devices} block devices"))
        }
        _ => degraded(
            K,
            Some(version),
            "the udev daemon is not running, so plugged-in drives will not be noticed",
            "Start systemd-udevd.",
        ),
    }
}

fn count_block_devices() -> Result<usize, String> {
    let mut e = udev::Enumerator::new().map_err(|e| e.to_string())?;
    e.match_subsystem("block").map_err(|e| e.to_string())?;
    Ok(e.scan_devices().map_err(|e| e.to_string())?.count())
}
