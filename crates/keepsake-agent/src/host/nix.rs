//! Nix probe: Keepsake manages the host by rewriting its NixOS configuration, which needs Nix (and,
//! for rebuilds, NixOS).

use std::time::{Duration, Instant};

use keepsake_api::{Facility, FacilityKind};

use super::blocking;
use super::command::{Ran, run};
use super::{degraded, missing, ok};

const K: FacilityKind = FacilityKind::Nix;

/// Present on NixOS only.
const NIXOS_VERSION: &str = "/run/current-system/nixos-version";

pub async fn probe(timeout: Duration) -> Facility {
    let version = match run("nix", &["--version"], timeout).await {
        Ran::Ok(v) => parse_nix_version(&v),
        Ran::NotFound => {
            return missing(
                K,
                "Nix is not installed",
                "Only needed to manage the host itself (updates, settings). `./install.sh --local` runs without it; install Keepsake on NixOS for the full appliance.",
            );
        }
        other => return missing(K, format!("`nix --version` failed: {other:?}"), "Check the Nix installation."),
    };
    // A plain file read, but on a filesystem, so off the runtime like every other one.
    let nixos = blocking::run(NIXOS_VERSION, Instant::now() + timeout, "the filesystem may be hung", || {
        std::fs::read_to_string(NIXOS_VERSION).ok()
    })
    .await
    .ok()
    .flatten();
    match nixos {
        Some(v) => ok(K, Some(version.clone()), format!("{version} on NixOS {}", v.trim())),
        None => degraded(
            K,
            Some(version.clone()),
            format!(
                "Nix {version} is installed, but this machine is not NixOS, so host settings and OS updates cannot be managed"
            ),
            "Install Keepsake on NixOS to manage the host; everything else works here.",
        ),
    }
}

/// `nix (Nix) 2.8.0` → `2.8.0`.
pub fn parse_nix_version(out: &str) -> String {
    out.trim().rsplit(' ').next().unwrap_or("unknown").to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_nix_version() {
        assert_eq!(super::parse_nix_version("nix (Nix) 2.8.0\n"), "2.8.0");
        assert_eq!(super::parse_nix_version("nix (Nix) 2.24.10"), "2.24.10");
    }
}
