//! ZFS probe: tool version and pool health, through `zfs`/`zpool`.
//!
//! Only the subset common to OpenZFS 2.x (NixOS) and zfs-fuse 0.7 (the test lab) is used:
//! `zpool list -H -o name,health`, and for the version `zfs version` (OpenZFS) falling back to
//! `zpool upgrade -v` (older ZFS, which has no `version` command).

use std::time::Duration;

use keepsake_api::{Facility, FacilityKind};

use super::command::{Ran, run};
use super::{degraded, missing, ok};

const K: FacilityKind = FacilityKind::Zfs;

pub async fn probe(timeout: Duration) -> Facility {
    let version = match run("zfs", &["version"], timeout).await {
        Ran::Ok(out) => parse_openzfs_version(&out),
        Ran::NotFound => {
            return missing(
                K,
                "the zfs tools are not installed",
                "Keepsake keeps restore points as ZFS snapshots; install it on a machine with ZFS (the NixOS module enables it).",
            );
        }
        _ => match run("zpool", &["upgrade", "-v"], timeout).await {
            Ran::Ok(out) => parse_pool_version(&out),
            _ => None,
        },
    };
    let pools = match run("zpool", &["list", "-H", "-o", "name,health"], timeout).await {
        Ran::Ok(out) => parse_pools(&out),
        Ran::Failed(why) => {
            return missing(
                K,
                format!("ZFS does not answer: {why}"),
                "Check that the ZFS kernel module (or zfs-fuse) is loaded and running.",
            );
        }
        Ran::TimedOut => {
            return missing(
                K,
                "`zpool list` did not finish in time",
                "Check `zpool status`; a failing disk can stall ZFS.",
            );
        }
        Ran::NotFound => return missing(K, "`zpool` is not installed", "Install the ZFS tools."),
        Ran::Error(e) => return missing(K, format!("cannot run `zpool`: {e}"), "Check the ZFS installation."),
    };
    if pools.is_empty() {
        return degraded(
            K,
            version,
            "ZFS works, but no pool is imported",
            "Create or import the pool that holds your photos (zpool import).",
        );
    }
    let unhealthy: Vec<&Pool> = pools.iter().filter(|p| p.health != "ONLINE").collect();
    let names = pools.iter().map(|p| format!("{} ({})", p.name, p.health)).collect::<Vec<_>>().join(", ");
    if unhealthy.is_empty() {
        ok(K, version, format!("pools: {names}"))
    } else {
        let bad = unhealthy.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
        degraded(
            K,
            version,
            format!("pools: {names}"),
            format!(
                "Pool {bad} is not healthy: see `zpool status {bad}`. Replace a failing disk before anything else; make a backup now if you can."
            ),
        )
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub health: String,
}

/// Parses `zpool list -H -o name,health` (tab-separated).
pub fn parse_pools(out: &str) -> Vec<Pool> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.trim();
            let health = f.next()?.trim();
            (!name.is_empty()).then(|| Pool { name: name.to_owned(), health: health.to_owned() })
        })
        .collect()
}

/// `zfs version` on OpenZFS 2.x prints `zfs-2.2.6-1` then `zfs-kmod-2.2.6-1`.
pub fn parse_openzfs_version(out: &str) -> Option<String> {
    let user = out.lines().find(|l| l.starts_with("zfs-") && !l.starts_with("zfs-kmod-"))?;
    let kmod = out.lines().find_map(|l| l.strip_prefix("zfs-kmod-"));
    let user = user.trim_start_matches("zfs-");
    Some(match kmod {
        Some(k) if k != user => format!("OpenZFS {user} (kernel module {k})"),
        _ => format!("OpenZFS {user}"),
    })
}

/// Older ZFS: `zpool upgrade -v` starts "This system is currently running ZFS pool version 23."
pub fn parse_pool_version(out: &str) -> Option<String> {
    let line = out.lines().find(|l| l.contains("pool version"))?;
    let v = line.split("pool version").nth(1)?.trim().trim_end_matches('.');
    Some(format!("ZFS pool version {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openzfs_2_version_output() {
        assert_eq!(parse_openzfs_version("zfs-2.2.6-1\nzfs-kmod-2.2.6-1\n").as_deref(), Some("OpenZFS 2.2.6-1"));
        assert_eq!(
            parse_openzfs_version("zfs-2.3.1-1\nzfs-kmod-2.2.7-1\n").as_deref(),
            Some("OpenZFS 2.3.1-1 (kernel module 2.2.7-1)")
        );
        assert_eq!(parse_openzfs_version("unrecognized command 'version'\n"), None);
    }

    #[test]
    fn parses_zfs_fuse_pool_version() {
        let out = "This system is currently running ZFS pool version 23.\n\nThe following versions are supported:\n";
        assert_eq!(parse_pool_version(out).as_deref(), Some("ZFS pool version 23"));
    }

    #[test]
    fn parses_pool_health() {
        let pools = parse_pools("tank\tONLINE\nbackup\tDEGRADED\n");
        assert_eq!(
            pools,
            vec![
                Pool { name: "tank".into(), health: "ONLINE".into() },
                Pool { name: "backup".into(), health: "DEGRADED".into() },
            ]
        );
        assert!(parse_pools("").is_empty());
    }
}
