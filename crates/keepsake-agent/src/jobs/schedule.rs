//! Concurrency rules, as pure functions so they can be tested without running anything.

/// How many jobs of one kind may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// One at a time for the whole kind (a NixOS rebuild).
    OnePerKind,
    /// One at a time per target (a backup per drive); different targets run side by side.
    OnePerTarget,
    /// No limit.
    Unlimited,
}

impl Concurrency {
    /// The slot a job occupies while it runs; jobs with equal keys never run together.
    pub fn key(self, kind: &str, target: Option<&str>) -> Option<String> {
        match self {
            Concurrency::OnePerKind => Some(kind.to_owned()),
            Concurrency::OnePerTarget => Some(format!("{kind}\u{0}{}", target.unwrap_or(""))),
            Concurrency::Unlimited => None,
        }
    }
}

/// Which queued jobs may start now, oldest first, given the keys of running jobs. A job never
/// overtakes an older queued job with the same key, so waiting jobs start in the order asked.
pub fn runnable(queued: &[(i64, Option<String>)], running: &[Option<String>]) -> Vec<i64> {
    let mut taken: Vec<&str> = running.iter().flatten().map(String::as_str).collect();
    let mut out = Vec::new();
    let mut ordered: Vec<&(i64, Option<String>)> = queued.iter().collect();
    ordered.sort_by_key(|(id, _)| *id);
    for (id, key) in ordered {
        match key {
            None => out.push(*id),
            Some(k) if !taken.contains(&k.as_str()) => {
                taken.push(k);
                out.push(*id);
            }
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: Concurrency, kind: &str, target: Option<&str>) -> Option<String> {
        c.key(kind, target)
    }

    #[test]
    fn one_per_kind_runs_one_and_keeps_order() {
        let rebuild = k(Concurrency::OnePerKind, "host.rebuild", None);
        let queued = vec![(3, rebuild.clone()), (1, rebuild.clone()), (2, rebuild.clone())];
        assert_eq!(runnable(&queued, &[]), vec![1]);
        assert_eq!(runnable(&queued, &[rebuild]), Vec::<i64>::new());
    }

    #[test]
    fn one_per_target_runs_different_targets_together() {
        let a = k(Concurrency::OnePerTarget, "backup", Some("drive-a"));
        let b = k(Concurrency::OnePerTarget, "backup", Some("drive-b"));
        let queued = vec![(1, a.clone()), (2, a.clone()), (3, b.clone())];
        assert_eq!(runnable(&queued, &[]), vec![1, 3]);
        assert_eq!(runnable(&queued, &[a]), vec![3]);
    }

    #[test]
    fn kinds_do_not_block_each_other_and_unlimited_always_runs() {
        let rebuild = k(Concurrency::OnePerKind, "host.rebuild", None);
        let check = k(Concurrency::OnePerKind, "host.self_check", None);
        let free = k(Concurrency::Unlimited, "x", None);
        let queued = vec![(1, rebuild.clone()), (2, check), (3, free.clone()), (4, free)];
        assert_eq!(runnable(&queued, &[rebuild]), vec![2, 3, 4]);
    }

    #[test]
    fn a_target_cannot_collide_with_another_kind_of_the_same_name() {
        assert_ne!(k(Concurrency::OnePerTarget, "backup", Some("x")), k(Concurrency::OnePerKind, "backup", None));
    }
}
