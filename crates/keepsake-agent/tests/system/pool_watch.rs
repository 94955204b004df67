//! The pool watcher against the lab's real zfs-fuse: a mirror damaged on purpose by
//! `tests/lab/zfs_fault.sh` is published healthy, then with checksum errors, then cleared.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keepsake_agent::events::{Consumer, Event, Events};
use keepsake_agent::host::pool_watch;
use keepsake_agent::store::Store;

use crate::harness::lab;

pub(crate) fn fault_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lab/zfs_fault.sh")
}

pub(crate) fn script(args: &[&str]) {
    let out = Command::new(fault_script()).args(args).output().unwrap();
    assert!(out.status.success(), "zfs_fault.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The fault pool, destroyed when dropped.
pub(crate) struct FaultPool {
    pub(crate) name: String,
    pub(crate) dir: tempfile::TempDir,
}

impl FaultPool {
    pub(crate) fn dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

impl Drop for FaultPool {
    fn drop(&mut self) {
        let _ = Command::new(fault_script()).args(["destroy", &self.name, self.dir()]).status();
    }
}

/// The next `PoolHealth` for `pool` in the outbox (within 30 s), skipping other events.
async fn next_health(consumer: &mut Consumer, pool: &str, seen: &mut Vec<Event>) -> Event {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for d in consumer.pending(100).unwrap() {
            consumer.ack(d.seq).unwrap();
            seen.push(d.event.clone());
            if matches!(&d.event, Event::PoolHealth { pool: p, .. } if p == pool) {
                return d.event;
            }
        }
        assert!(Instant::now() < deadline, "no PoolHealth for {pool} within 30 s; the outbox had: {seen:#?}");
        let _ = tokio::time::timeout(Duration::from_millis(500), consumer.wait()).await;
    }
}

#[tokio::test]
async fn a_damaged_mirror_is_published_with_its_checksum_errors_and_again_when_cleared() {
    lab("KEEPSAKE_LAB_ZPOOL", "zfs");
    let pool = FaultPool {
        name: format!("ks-watch-{}", std::process::id()),
        dir: tempfile::Builder::new().prefix("keepsake-pool-watch-").tempdir().unwrap(),
    };
    script(&["create", &pool.name, pool.dir()]);

    let dir = tempfile::tempdir().unwrap();
    let events = Events::new(Arc::new(Store::open(dir.path()).unwrap()));
    let mut consumer = events.consumer("test.pool_watch").unwrap();
    let watcher = tokio::spawn(pool_watch::run(events.clone(), Duration::from_millis(200), Duration::from_secs(20)));
    let mut seen = Vec::new();

    let Event::PoolHealth { state, read_errors, write_errors, checksum_errors, data_errors, detail, .. } =
        next_health(&mut consumer, &pool.name, &mut seen).await
    else {
        unreachable!()
    };
    assert_eq!((state.as_str(), read_errors, write_errors, checksum_errors, data_errors), ("ONLINE", 0, 0, 0, false));
    assert_eq!(detail, "");
    // Its dataset's space came too (zfs-fuse: without -p, sizes for people).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.iter().any(|e| matches!(e, Event::DatasetSpace { dataset, .. } if dataset == &pool.name)) {
        assert!(Instant::now() < deadline, "no DatasetSpace for {}: {seen:#?}", pool.name);
        for d in consumer.pending(100).unwrap() {
            consumer.ack(d.seq).unwrap();
            seen.push(d.event);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    script(&["corrupt", &pool.name, pool.dir()]);
    let damaged = next_health(&mut consumer, &pool.name, &mut seen).await;
    let Event::PoolHealth { state, checksum_errors, data_errors, detail, .. } = &damaged else { unreachable!() };
    assert_eq!(state, "ONLINE", "{damaged:?}");
    assert!(*checksum_errors > 0, "{damaged:?}");
    assert!(!data_errors, "the mirror repaired it: {damaged:?}");
    assert!(detail.contains("unrecoverable error"), "{damaged:?}");

    script(&["clear", &pool.name]);
    let cleared = next_health(&mut consumer, &pool.name, &mut seen).await;
    assert!(matches!(&cleared, Event::PoolHealth { checksum_errors: 0, data_errors: false, .. }), "{cleared:?}");

    // Nothing changes any more: nothing more is published for the pool.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let more: Vec<Event> = consumer.pending(100).unwrap().into_iter().map(|d| d.event).collect();
    assert!(!more.iter().any(|e| matches!(e, Event::PoolHealth { pool: p, .. } if p == &pool.name)), "{more:#?}");
    watcher.abort();
}
