//! The parser against the real zfs-fuse of the test lab: a mirror is damaged on purpose with
//! `tests/lab/zfs_fault.sh`, and the errors ZFS counts are read back from its own output.
//!
//! Needs `tests/lab/lab.sh start zfs`; fails (never skips) and names the component otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use keepsake_zpool::{Counters, DataErrors, PoolStatus, State, parse_list, parse_status};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The value of a lab component's variable, from the environment or `tests/.lab/env`, or a
/// failure naming the component.
fn lab(var: &str, component: &str) -> String {
    if let Ok(v) = std::env::var(var) {
        return v;
    }
    if let Ok(text) = std::fs::read_to_string(repo().join("tests/.lab/env")) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(&format!("export {var}=")) {
                return rest.trim_matches('\'').trim_matches('"').to_owned();
            }
        }
    }
    panic!("lab component `{component}` is not started ({var} is not set): run `tests/lab/lab.sh start {component}`");
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A pool made by the fault script; destroyed when dropped, whatever happened.
struct FaultPool {
    name: String,
    dir: tempfile::TempDir,
}

impl FaultPool {
    fn script(&self, args: &[&str]) -> String {
        run(Command::new(repo().join("tests/lab/zfs_fault.sh")).args(args))
    }

    fn dir(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp path")
    }

    /// `zpool status NAME`, parsed, with the text for failure messages.
    fn status(&self) -> (PoolStatus, String) {
        let text = run(Command::new("zpool").args(["status", &self.name]));
        let mut pools = parse_status(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(pools.len(), 1, "{text}");
        (pools.remove(0), text)
    }
}

impl Drop for FaultPool {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/lab/zfs_fault.sh")).args(["destroy", &self.name, self.dir()]).status();
    }
}

#[test]
fn checksum_errors_from_real_corruption_are_counted_then_cleared() {
    lab("KEEPSAKE_LAB_ZPOOL", "zfs");
    let pool = FaultPool {
        name: format!("ks-fault-{}", std::process::id()),
        dir: tempfile::Builder::new().prefix("keepsake-zfs-fault-").tempdir().unwrap(),
    };
    pool.script(&["create", &pool.name, pool.dir()]);

    let (healthy, text) = pool.status();
    assert_eq!(healthy.name, pool.name);
    assert_eq!(healthy.state, State::Online, "{text}");
    assert_eq!(healthy.totals(), Counters::default(), "{text}");
    assert_eq!(healthy.errors, DataErrors::None, "{text}");
    assert_eq!(healthy.config.len(), 4, "pool, mirror, two files: {text}");

    pool.script(&["corrupt", &pool.name, pool.dir()]);
    let (damaged, text) = pool.status();
    let totals = damaged.totals();
    assert!(totals.checksum > 0, "no checksum errors counted after corruption:\n{text}");
    let a = damaged.config.iter().find(|v| v.name.ends_with("/a.img")).expect("a.img row");
    assert!(a.errors.unwrap().checksum > 0, "the damaged file has the errors:\n{text}");
    let b = damaged.config.iter().find(|v| v.name.ends_with("/b.img")).expect("b.img row");
    assert_eq!(b.errors, Some(Counters::default()), "the intact side has none:\n{text}");
    assert_eq!(damaged.errors, DataErrors::None, "the mirror repaired everything:\n{text}");
    assert!(damaged.status.is_some() && damaged.action.is_some(), "ZFS explains the errors:\n{text}");

    pool.script(&["clear", &pool.name]);
    let (cleared, text) = pool.status();
    assert_eq!(cleared.state, State::Online, "{text}");
    assert_eq!(cleared.totals(), Counters::default(), "{text}");

    // zfs-fuse's `zfs list` has no -p: sizes for people, read approximately.
    let list = run(Command::new("zfs").args(["list", "-H", "-o", "name,used,avail", "-t", "filesystem", &pool.name]));
    let datasets = parse_list(&list).unwrap_or_else(|e| panic!("{e}\n{list}"));
    assert_eq!(datasets.len(), 1, "{list}");
    assert!(datasets[0].used_bytes >= 48 << 20, "48 MiB were written: {list}");
}
