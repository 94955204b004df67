//! Brute-force backoff, as pure arithmetic: after a few failures in a row, each further attempt
//! must wait, doubling each time, up to a cap. Counted per account and per client address.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Failures allowed before the first wait.
    pub free: u32,
    pub first: Duration,
    pub max: Duration,
}

/// Per account: a person who forgot their password gets five tries before waiting.
pub const PER_ACCOUNT: Backoff = Backoff { free: 5, first: Duration::from_secs(30), max: Duration::from_secs(15 * 60) };
/// Per address: a household shares one address, so allow more before slowing everyone there.
pub const PER_ADDRESS: Backoff =
    Backoff { free: 20, first: Duration::from_secs(30), max: Duration::from_secs(15 * 60) };

impl Backoff {
    /// How long to lock after `failures` failures in a row (zero while under the free allowance).
    pub fn lock_for(self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_start_after_the_free_tries_then_double_up_to_the_cap() {
        let b = PER_ACCOUNT;
        assert_eq!(b.lock_for(4), Duration::ZERO);
        assert_eq!(b.lock_for(5), Duration::from_secs(30));
        assert_eq!(b.lock_for(6), Duration::from_secs(60));
        assert_eq!(b.lock_for(7), Duration::from_secs(120));
        assert_eq!(b.lock_for(20), Duration::from_secs(15 * 60));
        assert_eq!(b.lock_for(u32::MAX), Duration::from_secs(15 * 60));
    }
}
