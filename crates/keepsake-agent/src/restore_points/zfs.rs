//! The ZFS side of restore points: recursive snapshots of the Keepsake datasets, listing them
//! (Keepsake's and Sanoid's), clones to read a snapshot's files, and destroying.
//!
//! Only what OpenZFS 2.x (NixOS) and zfs-fuse 0.7 (the test lab) both do: `zfs get -H -p -r`
//! (which lists snapshots too, with exact numbers), `zfs snapshot -r` (one atomic snapshot of a
//! dataset and all its children: zfs-fuse takes no list of snapshots), `zfs clone -o mountpoint=`,
//! `zfs destroy`. Neither `zfs rollback` nor a visible `.zfs/snapshot` is used: a rollback to
//! anything but the newest snapshot destroys every later one (the pre-restore point included),
//! and zfs-fuse has no `.zfs` directory. Files are read from a clone instead.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::host::command::{Ran, run};

/// Snapshot names Sanoid makes (`autosnap_2026-12-03_18:00:00_hourly`); ours never start so, so
/// neither retention engine ever removes the other's snapshots.
pub const SANOID_PREFIX: &str = "autosnap_";

/// How long one ZFS command may take. Destroying a big snapshot can take a while on a busy pool.
const ZFS_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum ZfsError {
    #[error("`zfs {command}` failed: {why}")]
    Failed { command: String, why: String },
    #[error("`zfs {command}` did not finish within {} minutes; check `zpool status`", ZFS_TIMEOUT.as_secs() / 60)]
    TimedOut { command: String },
    #[error("the zfs tools are not installed; restore points need ZFS")]
    NotInstalled,
    #[error(
        "dataset {0} does not exist; check --zfs-root (it must name the dataset that holds library/ and postgres/)"
    )]
    NoDataset(String),
}

async fn zfs(args: &[&str]) -> Result<String, ZfsError> {
    let command = args.join(" ");
    match run("zfs", args, ZFS_TIMEOUT).await {
        Ran::Ok(out) => Ok(out),
        Ran::Failed(why) | Ran::Error(why) => Err(ZfsError::Failed { command, why }),
        Ran::TimedOut => Err(ZfsError::TimedOut { command }),
        Ran::NotFound => Err(ZfsError::NotInstalled),
    }
}

/// Names the missing dataset when ZFS says it does not exist.
fn no_dataset(name: &str) -> impl FnOnce(ZfsError) -> ZfsError + '_ {
    move |e| match e {
        ZfsError::Failed { why, .. } if why.contains("does not exist") => ZfsError::NoDataset(name.to_owned()),
        e => e,
    }
}

/// One dataset or snapshot as `zfs get` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub guid: String,
    pub created: Option<DateTime<Utc>>,
    pub referenced: u64,
    pub mountpoint: Option<String>,
}

/// Everything under `root` (datasets and snapshots), by full name.
pub async fn entries(root: &str) -> Result<BTreeMap<String, Entry>, ZfsError> {
    let out = zfs(&["get", "-H", "-p", "-r", "-o", "name,property,value", "guid,creation,referenced,mountpoint", root])
        .await
        .map_err(no_dataset(root))?;
    Ok(parse_entries(&out))
}

pub fn parse_entries(out: &str) -> BTreeMap<String, Entry> {
    let mut map: BTreeMap<String, Entry> = BTreeMap::new();
    for line in out.lines() {
        let mut f = line.split('\t');
        let (Some(name), Some(prop), Some(value)) = (f.next(), f.next(), f.next()) else { continue };
        let e = map.entry(name.to_owned()).or_default();
        match prop {
            "guid" => e.guid = value.to_owned(),
            "creation" => e.created = value.parse::<i64>().ok().and_then(|s| Utc.timestamp_opt(s, 0).single()),
            "referenced" => e.referenced = value.parse().unwrap_or(0),
            "mountpoint" if value.starts_with('/') => e.mountpoint = Some(value.to_owned()),
            _ => {}
        }
    }
    map
}

/// The mountpoint of a dataset, or an error naming it.
pub async fn mountpoint(dataset: &str) -> Result<PathBuf, ZfsError> {
    let out = zfs(&["get", "-H", "-o", "value", "mountpoint", dataset]).await.map_err(no_dataset(dataset))?;
    let m = out.trim();
    if m.starts_with('/') {
        Ok(PathBuf::from(m))
    } else {
        Err(ZfsError::Failed { command: format!("get mountpoint {dataset}"), why: format!("it is not mounted ({m})") })
    }
}

/// One atomic snapshot of `root` and every dataset under it.
pub async fn snapshot_recursive(root: &str, name: &str) -> Result<(), ZfsError> {
    zfs(&["snapshot", "-r", &format!("{root}@{name}")]).await.map(drop)
}

/// Destroys `root@name` and the same snapshot of every child; a snapshot already gone is fine.
pub async fn destroy_snapshot_recursive(root: &str, name: &str) -> Result<(), ZfsError> {
    match zfs(&["destroy", "-r", &format!("{root}@{name}")]).await {
        Err(ZfsError::Failed { why, .. }) if why.contains("could not find") || why.contains("does not exist") => Ok(()),
        r => retry_busy(r, &["destroy", "-r", &format!("{root}@{name}")]).await,
    }
}

/// A writable copy of a snapshot, mounted at `mount`, to read (never to change) its files.
pub async fn clone(snapshot: &str, clone: &str, mount: &std::path::Path) -> Result<(), ZfsError> {
    let opt = format!("mountpoint={}", mount.display());
    zfs(&["clone", "-o", &opt, "-o", "readonly=on", snapshot, clone]).await.map(drop)
}

/// Destroys a dataset (a clone); gone already is fine.
pub async fn destroy_dataset(dataset: &str) -> Result<(), ZfsError> {
    match zfs(&["destroy", dataset]).await {
        Err(ZfsError::Failed { why, .. }) if why.contains("does not exist") => Ok(()),
        r => retry_busy(r, &["destroy", dataset]).await,
    }
}

/// Right after a clone was read, zfs-fuse can call it "busy" for a moment: try a few more times.
async fn retry_busy(first: Result<String, ZfsError>, args: &[&str]) -> Result<(), ZfsError> {
    let mut r = first;
    for _ in 0..10 {
        match &r {
            Err(ZfsError::Failed { why, .. }) if why.contains("busy") => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                r = zfs(args).await;
            }
            _ => break,
        }
    }
    r.map(drop)
}

/// The datasets under `pool` whose last component starts with `prefix` (leftover clones).
pub async fn children_with_prefix(pool: &str, prefix: &str) -> Result<Vec<String>, ZfsError> {
    let out = zfs(&["list", "-H", "-o", "name", "-r", pool]).await?;
    Ok(out
        .lines()
        .filter(|n| n.rsplit('/').next().is_some_and(|last| last.starts_with(prefix)) && !n.contains('@'))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_recursive_get_with_snapshots() {
        // `zfs get -H -p -r -o name,property,value guid,creation,referenced,mountpoint`, from zfs-fuse 0.7.
        let out = "t/k\tguid\t111\nt/k\tcreation\t1796320455\nt/k\treferenced\t131072\nt/k\tmountpoint\t/m/k\n\
                   t/k/library@keepsake-x\tguid\t222\nt/k/library@keepsake-x\tcreation\t1796320455\n\
                   t/k/library@keepsake-x\treferenced\t118784\nt/k/library@keepsake-x\tmountpoint\t-\n";
        let m = parse_entries(out);
        assert_eq!(m["t/k"].mountpoint.as_deref(), Some("/m/k"));
        let s = &m["t/k/library@keepsake-x"];
        assert_eq!((s.guid.as_str(), s.referenced, s.mountpoint.clone()), ("222", 118784, None));
        assert_eq!(s.created.unwrap().timestamp(), 1796320455);
    }
}
