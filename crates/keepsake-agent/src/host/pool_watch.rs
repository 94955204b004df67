//! The pool watcher: polls `zpool status` and `zfs list`, and publishes what changed as events.
//!
//! Contract of [`run`] (the agent spawns it once; it never returns):
//! - Every `period` (the first time at once) it runs `zpool status -p` and `zfs list -Hp -o
//!   name,used,avail -t filesystem,volume`, each bounded by `timeout` and killed past it. A ZFS
//!   without `-p` (zfs-fuse 0.7) is noticed from its "invalid option" answer, and the watcher then
//!   reads the abbreviated numbers without `-p` from then on.
//! - It publishes [`Event::PoolHealth`] for a pool when its state, its error totals (see
//!   [`keepsake_zpool::PoolStatus::totals`]) or whether it has data errors differ from what it last
//!   published for that pool, and [`Event::DatasetSpace`] for a dataset when its whole percentage
//!   free differs. The first poll publishes every pool and dataset once, so a consumer starting
//!   with the agent learns the current state. A pool or dataset that is no longer listed is
//!   forgotten (nothing is published); if it comes back it is published again.
//! - When a command fails, times out or prints something unreadable, nothing is published for
//!   it; the failure is logged as a warning once per distinct failure, and once more when the
//!   command works again. A publish that fails is retried at the next poll.
//!
//! What changed is decided by [`Published`], pure and unit-tested; the loop only runs commands.

use std::collections::HashMap;
use std::time::Duration;

use keepsake_zpool::{DatasetSpace, PoolStatus, parse_list, parse_status};

use super::command::{Ran, run as run_tool};
use crate::events::{Event, Events};

/// Polls ZFS every `period` and publishes changes into `events`; see the module header.
pub async fn run(events: Events, period: Duration, timeout: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tools = Tools { status_p: true, list_p: true, timeout };
    let mut published = Published::default();
    let mut status_failure = Failure::new("zpool status");
    let mut list_failure = Failure::new("zfs list");
    loop {
        tick.tick().await;
        match tools.zpool_status().await.and_then(|out| parse_status(&out).map_err(|e| e.to_string())) {
            Ok(pools) => {
                status_failure.ok();
                for event in published.pool_changes(&pools) {
                    publish(&events, &mut published, event);
                }
            }
            Err(e) => status_failure.failed(e),
        }
        match tools.zfs_list().await.and_then(|out| parse_list(&out).map_err(|e| e.to_string())) {
            Ok(datasets) => {
                list_failure.ok();
                for event in published.dataset_changes(&datasets) {
                    publish(&events, &mut published, event);
                }
            }
            Err(e) => list_failure.failed(e),
        }
    }
}

fn publish(events: &Events, published: &mut Published, event: Event) {
    match events.publish(&event) {
        Ok(_) => published.record(&event),
        Err(e) => {
            tracing::error!(error = %e, topic = event.topic(), "cannot publish a ZFS event; retrying at the next poll")
        }
    }
}

/// The facts about a pool whose change is published.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PoolFacts {
    state: String,
    read_errors: u64,
    write_errors: u64,
    checksum_errors: u64,
    data_errors: bool,
}

/// What the watcher last published, and what to publish next.
#[derive(Debug, Default)]
pub struct Published {
    pools: HashMap<String, PoolFacts>,
    /// Whole percent free, per dataset.
    datasets: HashMap<String, u8>,
}

impl Published {
    /// A [`Event::PoolHealth`] for every pool whose facts differ from those last published (every
    /// pool, the first time). Forgets pools that are no longer listed.
    pub fn pool_changes(&mut self, pools: &[PoolStatus]) -> Vec<Event> {
        self.pools.retain(|name, _| pools.iter().any(|p| &p.name == name));
        pools
            .iter()
            .filter_map(|p| {
                let totals = p.totals();
                let facts = PoolFacts {
                    state: p.state.to_string(),
                    read_errors: totals.read,
                    write_errors: totals.write,
                    checksum_errors: totals.checksum,
                    data_errors: p.errors.any(),
                };
                (self.pools.get(&p.name) != Some(&facts)).then(|| Event::PoolHealth {
                    pool: p.name.clone(),
                    state: facts.state,
                    read_errors: facts.read_errors,
                    write_errors: facts.write_errors,
                    checksum_errors: facts.checksum_errors,
                    data_errors: facts.data_errors,
                    detail: p.detail(),
                })
            })
            .collect()
    }

    /// A [`Event::DatasetSpace`] for every dataset whose whole percentage free differs from the
    /// one last published (every dataset, the first time). Forgets datasets no longer listed.
    pub fn dataset_changes(&mut self, datasets: &[DatasetSpace]) -> Vec<Event> {
        self.datasets.retain(|name, _| datasets.iter().any(|d| &d.name == name));
        datasets
            .iter()
            .filter(|d| self.datasets.get(&d.name) != Some(&d.free_percent()))
            .map(|d| Event::DatasetSpace {
                dataset: d.name.clone(),
                available_bytes: d.available_bytes,
                used_bytes: d.used_bytes,
            })
            .collect()
    }

    /// Remembers an event as published.
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::PoolHealth { pool, state, read_errors, write_errors, checksum_errors, data_errors, .. } => {
                let facts = PoolFacts {
                    state: state.clone(),
                    read_errors: *read_errors,
                    write_errors: *write_errors,
                    checksum_errors: *checksum_errors,
                    data_errors: *data_errors,
                };
                self.pools.insert(pool.clone(), facts);
            }
            Event::DatasetSpace { dataset, available_bytes, used_bytes } => {
                let space = DatasetSpace {
                    name: dataset.clone(),
                    used_bytes: *used_bytes,
                    available_bytes: *available_bytes,
                    exact: true,
                };
                self.datasets.insert(dataset.clone(), space.free_percent());
            }
            _ => {}
        }
    }
}

/// The two commands, and whether this ZFS still seems to take `-p`.
struct Tools {
    status_p: bool,
    list_p: bool,
    timeout: Duration,
}

/// What ZFS without `-p` (zfs-fuse 0.7) answers to it.
fn lacks_option(message: &str) -> bool {
    message.contains("invalid option")
}

impl Tools {
    async fn zpool_status(&mut self) -> Result<String, String> {
        if self.status_p {
            match self.tool("zpool", &["status", "-p"]).await {
                Err(e) if lacks_option(&e) => {
                    tracing::info!("`zpool status` has no -p here: reading its abbreviated counters");
                    self.status_p = false;
                }
                other => return other,
            }
        }
        self.tool("zpool", &["status"]).await
    }

    async fn zfs_list(&mut self) -> Result<String, String> {
        const ARGS: [&str; 6] = ["list", "-H", "-o", "name,used,avail", "-t", "filesystem,volume"];
        if self.list_p {
            match self.tool("zfs", &[&ARGS[..2], &["-p"], &ARGS[2..]].concat()).await {
                Err(e) if lacks_option(&e) => {
                    tracing::info!("`zfs list` has no -p here: reading sizes rounded for people");
                    self.list_p = false;
                }
                other => return other,
            }
        }
        self.tool("zfs", &ARGS).await
    }

    async fn tool(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let line = format!("{program} {}", args.join(" "));
        match run_tool(program, args, self.timeout).await {
            Ran::Ok(out) => Ok(out),
            Ran::Failed(why) => Err(format!("`{line}` failed: {why}")),
            Ran::NotFound => Err(format!("`{program}` is not installed")),
            Ran::TimedOut => Err(format!("`{line}` did not finish within {}", super::blocking::secs(self.timeout))),
            Ran::Error(e) => Err(format!("cannot run `{program}`: {e}")),
        }
    }
}

/// Logs a command's failures once per distinct failure, and its recovery.
struct Failure {
    what: &'static str,
    last: Option<String>,
}

impl Failure {
    fn new(what: &'static str) -> Failure {
        Failure { what, last: None }
    }

    fn failed(&mut self, why: String) {
        if self.last.as_ref() != Some(&why) {
            tracing::warn!(error = %why, "pool watcher: cannot read `{}`; publishing nothing until it works", self.what);
            self.last = Some(why);
        }
    }

    fn ok(&mut self) {
        if self.last.take().is_some() {
            tracing::info!("pool watcher: `{}` works again", self.what);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEALTHY: &str = "  pool: tank
 state: ONLINE
 scrub: none requested
config:

\tNAME        STATE     READ WRITE CKSUM
\ttank        ONLINE       0     0     0
\t  mirror-0  ONLINE       0     0     0
\t    a.img   ONLINE       0     0     0
\t    b.img   ONLINE       0     0     0

errors: No known data errors
";

    fn pools(text: &str) -> Vec<PoolStatus> {
        parse_status(text).unwrap()
    }

    fn with_cksum(n: u32) -> String {
        HEALTHY.replace("a.img   ONLINE       0     0     0", &format!("a.img   ONLINE       0     0 {n:>5}")).replace(
            "state: ONLINE",
            "state: ONLINE\nstatus: One or more devices has experienced an unrecoverable error.",
        )
    }

    /// Records everything returned as published, as the loop does when the store works.
    fn publish_all(p: &mut Published, events: Vec<Event>) -> Vec<Event> {
        for e in &events {
            p.record(e);
        }
        events
    }

    /// One poll of `zpool status` whose events were all published.
    fn poll(p: &mut Published, text: &str) -> Vec<Event> {
        let events = p.pool_changes(&pools(text));
        publish_all(p, events)
    }

    /// One poll of `zfs list` whose events were all published.
    fn poll_space(p: &mut Published, datasets: &[DatasetSpace]) -> Vec<Event> {
        let events = p.dataset_changes(datasets);
        publish_all(p, events)
    }

    #[test]
    fn the_first_poll_publishes_every_pool_then_nothing_until_a_change() {
        let mut p = Published::default();
        let first = poll(&mut p, HEALTHY);
        assert_eq!(
            first,
            vec![Event::PoolHealth {
                pool: "tank".into(),
                state: "ONLINE".into(),
                read_errors: 0,
                write_errors: 0,
                checksum_errors: 0,
                data_errors: false,
                detail: String::new(),
            }]
        );
        assert!(p.pool_changes(&pools(HEALTHY)).is_empty());
    }

    #[test]
    fn counters_state_and_data_errors_each_make_a_change_and_the_detail_does_not() {
        let mut p = Published::default();
        poll(&mut p, HEALTHY);

        let damaged = poll(&mut p, &with_cksum(7));
        let [Event::PoolHealth { checksum_errors: 7, detail, .. }] = &damaged[..] else { panic!("{damaged:?}") };
        assert!(detail.starts_with("One or more devices"), "{detail}");
        assert!(p.pool_changes(&pools(&with_cksum(7))).is_empty(), "same counters: nothing new");
        // The same counters with another status text: not a change.
        let reworded = with_cksum(7).replace("unrecoverable error.", "unrecoverable error. Really.");
        assert!(p.pool_changes(&pools(&reworded)).is_empty());

        let more = poll(&mut p, &with_cksum(9));
        assert!(matches!(&more[..], [Event::PoolHealth { checksum_errors: 9, .. }]), "{more:?}");

        let degraded = with_cksum(9).replace("state: ONLINE", "state: DEGRADED");
        let got = poll(&mut p, &degraded);
        assert!(matches!(&got[..], [Event::PoolHealth { state, .. }] if state == "DEGRADED"), "{got:?}");

        let lost = degraded.replace("No known data errors", "1 data errors, use '-v' for a list");
        let got = poll(&mut p, &lost);
        assert!(matches!(&got[..], [Event::PoolHealth { data_errors: true, .. }]), "{got:?}");

        // Cleared: back to zero, published once.
        let got = poll(&mut p, HEALTHY);
        assert!(matches!(&got[..], [Event::PoolHealth { checksum_errors: 0, data_errors: false, .. }]), "{got:?}");
        assert!(p.pool_changes(&pools(HEALTHY)).is_empty());
    }

    #[test]
    fn an_unpublished_change_is_offered_again() {
        let mut p = Published::default();
        assert_eq!(p.pool_changes(&pools(HEALTHY)).len(), 1);
        // The store failed: nothing recorded, so the next poll offers it again.
        assert_eq!(p.pool_changes(&pools(HEALTHY)).len(), 1);
    }

    #[test]
    fn only_the_changed_pool_is_published_and_a_vanished_pool_is_forgotten() {
        let two = format!("{HEALTHY}\n{}", HEALTHY.replace("tank", "backup"));
        let mut p = Published::default();
        assert_eq!(poll(&mut p, &two).len(), 2);
        let one_damaged = format!("{}\n{}", with_cksum(1), HEALTHY.replace("tank", "backup"));
        let got = poll(&mut p, &one_damaged);
        assert!(matches!(&got[..], [Event::PoolHealth { pool, .. }] if pool == "tank"), "{got:?}");

        // backup is exported: nothing published, and forgotten.
        assert!(p.pool_changes(&pools(&with_cksum(1))).is_empty());
        // Imported again: published again.
        let got = p.pool_changes(&pools(&one_damaged));
        assert!(matches!(&got[..], [Event::PoolHealth { pool, .. }] if pool == "backup"), "{got:?}");
    }

    #[test]
    fn no_pools_publishes_nothing() {
        let mut p = Published::default();
        assert!(p.pool_changes(&[]).is_empty());
    }

    fn ds(name: &str, used: u64, avail: u64) -> DatasetSpace {
        DatasetSpace { name: name.into(), used_bytes: used, available_bytes: avail, exact: true }
    }

    #[test]
    fn dataset_space_is_published_when_the_whole_percent_free_changes() {
        let mut p = Published::default();
        let first = poll_space(&mut p, &[ds("tank", 500, 500), ds("tank/photos", 100, 900)]);
        assert_eq!(
            first,
            vec![
                Event::DatasetSpace { dataset: "tank".into(), available_bytes: 500, used_bytes: 500 },
                Event::DatasetSpace { dataset: "tank/photos".into(), available_bytes: 900, used_bytes: 100 },
            ]
        );
        // 50.0 % → 49.6 %: 49, a change; tank/photos 90.0 % → 90.5 %: still 90, nothing.
        let got = poll_space(&mut p, &[ds("tank", 504, 496), ds("tank/photos", 95, 905)]);
        assert_eq!(got, vec![Event::DatasetSpace { dataset: "tank".into(), available_bytes: 496, used_bytes: 504 }]);
        assert!(p.dataset_changes(&[ds("tank", 505, 495), ds("tank/photos", 95, 905)]).is_empty());
        // A dataset that disappears and comes back is published again.
        assert!(p.dataset_changes(&[ds("tank", 505, 495)]).is_empty());
        assert_eq!(p.dataset_changes(&[ds("tank", 505, 495), ds("tank/photos", 95, 905)]).len(), 1);
    }

    #[test]
    fn zfs_without_dash_p_is_recognized_by_its_answer() {
        // zfs-fuse 0.7, checked in the lab: `zpool status -p` and `zfs list -p` exit 2 with this.
        assert!(lacks_option("`zpool status -p` failed: invalid option 'p'\nusage:\n\tstatus [-vx] [pool] ..."));
        assert!(!lacks_option("`zpool status -p` failed: internal error: failed to initialize ZFS library"));
    }
}
