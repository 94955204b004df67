//! Which queued jobs may start: resource locks, as pure functions so the rules can be tested
//! without running anything.
//!
//! Every job kind declares the [`Lock`]s it holds while it runs (see `JobKind::locks`). Two locks
//! conflict when they name the same [`Resource`] and at least one of them is exclusive. A queued job
//! starts when none of its locks conflicts with a running job's, nor with an older job still waiting:
//! jobs never overtake an older job they conflict with, so a restore waiting for backups to finish
//! is not starved by new backups.

/// Something on the appliance that jobs read or change. Parameterised where jobs on different
/// instances do not interfere (two drives).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// The photo library dataset (originals, thumbnails, encoded video).
    Library,
    /// Immich's PostgreSQL database.
    Database,
    /// The Immich container stack (images, compose definition, running containers).
    Stack,
    /// The NixOS configuration of the host.
    HostConfig,
    /// One backup drive, by filesystem UUID.
    Drive(String),
    /// The set of Keepsake's restore points (made, pruned, deleted, read by a restore or drill).
    RestorePoints,
    /// The cached host facility states that the status route shows (written by a self-check).
    Facilities,
}

/// Whether a job may share a resource with other jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Others may read it too (a backup reads the library).
    Shared,
    /// Nobody else may use it (a restore rewrites the library).
    Exclusive,
}

/// One resource a job holds while it runs, and how.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lock {
    pub resource: Resource,
    pub mode: Mode,
}

impl Lock {
    pub fn shared(resource: Resource) -> Lock {
        Lock { resource, mode: Mode::Shared }
    }

    pub fn exclusive(resource: Resource) -> Lock {
        Lock { resource, mode: Mode::Exclusive }
    }

    /// True when the two locks may not be held at the same time.
    pub fn conflicts_with(&self, other: &Lock) -> bool {
        self.resource == other.resource && (self.mode == Mode::Exclusive || other.mode == Mode::Exclusive)
    }
}

fn any_conflict(a: &[Lock], b: &[Lock]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.conflicts_with(y)))
}

/// Which queued jobs may start now, oldest (lowest id) first, given the locks of running jobs.
pub fn runnable(queued: &[(i64, Vec<Lock>)], running: &[Vec<Lock>]) -> Vec<i64> {
    let mut ordered: Vec<&(i64, Vec<Lock>)> = queued.iter().collect();
    ordered.sort_by_key(|(id, _)| *id);
    // Locks of running jobs, of jobs started in this pass, and of older jobs left waiting.
    let mut held: Vec<&[Lock]> = running.iter().map(Vec::as_slice).collect();
    let mut out = Vec::new();
    for (id, locks) in ordered {
        if !held.iter().any(|h| any_conflict(h, locks)) {
            out.push(*id);
        }
        held.push(locks);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Resource::*;

    // The rules the coming kinds will declare; the table tests below pin their interplay.
    fn self_check() -> Vec<Lock> {
        vec![Lock::exclusive(Facilities)]
    }
    fn backup(drive: &str) -> Vec<Lock> {
        vec![Lock::shared(Library), Lock::shared(Database), Lock::exclusive(Drive(drive.into()))]
    }
    fn restore() -> Vec<Lock> {
        vec![Lock::exclusive(Library), Lock::exclusive(Database), Lock::exclusive(Stack), Lock::shared(HostConfig)]
    }
    fn stack_update() -> Vec<Lock> {
        vec![Lock::shared(Library), Lock::exclusive(Database), Lock::exclusive(Stack)]
    }
    fn rebuild() -> Vec<Lock> {
        vec![Lock::exclusive(HostConfig), Lock::shared(Stack)]
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            running: Vec<Vec<Lock>>,
            queued: Vec<(i64, Vec<Lock>)>,
            starts: Vec<i64>,
        }
        let cases = [
            Case { name: "nothing queued", running: vec![], queued: vec![], starts: vec![] },
            Case {
                name: "two backups to different drives run together",
                running: vec![],
                queued: vec![(1, backup("a")), (2, backup("b"))],
                starts: vec![1, 2],
            },
            Case {
                name: "two backups to the same drive do not",
                running: vec![],
                queued: vec![(1, backup("a")), (2, backup("a"))],
                starts: vec![1],
            },
            Case {
                name: "a backup waits for the running backup to its drive",
                running: vec![backup("a")],
                queued: vec![(2, backup("a")), (3, backup("b"))],
                starts: vec![3],
            },
            Case {
                name: "a restore waits for a running backup",
                running: vec![backup("a")],
                queued: vec![(2, restore())],
                starts: vec![],
            },
            Case {
                name: "a restore waits for a running update",
                running: vec![stack_update()],
                queued: vec![(2, restore())],
                starts: vec![],
            },
            Case {
                name: "a restore waits for a running rebuild",
                running: vec![rebuild()],
                queued: vec![(2, restore())],
                starts: vec![],
            },
            Case {
                name: "a running restore excludes backups, updates and rebuilds",
                running: vec![restore()],
                queued: vec![(2, backup("a")), (3, stack_update()), (4, rebuild())],
                starts: vec![],
            },
            Case {
                name: "a new backup does not overtake a restore waiting for an older backup",
                running: vec![backup("a")],
                queued: vec![(2, restore()), (3, backup("b"))],
                starts: vec![],
            },
            Case {
                name: "the oldest of several conflicting jobs starts first, whatever the slice order",
                running: vec![],
                queued: vec![(3, rebuild()), (1, rebuild()), (2, rebuild())],
                starts: vec![1],
            },
            Case {
                name: "a self-check runs beside anything, but one at a time",
                running: vec![restore()],
                queued: vec![(2, self_check()), (3, self_check())],
                starts: vec![2],
            },
            Case {
                name: "a job with no locks always starts",
                running: vec![restore()],
                queued: vec![(2, vec![]), (3, restore())],
                starts: vec![2],
            },
            Case {
                name: "a backup and a rebuild run together",
                running: vec![],
                queued: vec![(1, backup("a")), (2, rebuild())],
                starts: vec![1, 2],
            },
        ];
        for c in cases {
            assert_eq!(runnable(&c.queued, &c.running), c.starts, "{}", c.name);
        }
    }

    #[test]
    fn shared_locks_share_and_exclusive_ones_do_not() {
        assert!(!Lock::shared(Library).conflicts_with(&Lock::shared(Library)));
        assert!(Lock::shared(Library).conflicts_with(&Lock::exclusive(Library)));
        assert!(Lock::exclusive(Library).conflicts_with(&Lock::shared(Library)));
        assert!(!Lock::exclusive(Drive("a".into())).conflicts_with(&Lock::exclusive(Drive("b".into()))));
        assert!(!Lock::exclusive(Library).conflicts_with(&Lock::exclusive(Database)));
    }
}
