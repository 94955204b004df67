//! Which restore points to keep: a retention [`Policy`] applied to a list of [`Point`]s by one pure
//! function, [`apply`], which says for every point whether it stays and why ([`Reason`]), so that
//! the dashboard can show why a point is still there.
//!
//! # Semantics: restic's `forget`
//!
//! The rules are those of restic's `forget --keep-*` (`doc/060_forget.rst`, `ApplyPolicy` in
//! `internal/data/snapshot_policy.go`), checked against restic's own golden test cases:
//!
//! - `keep_last n` keeps the n newest points.
//! - `keep_hourly`, `keep_daily`, `keep_weekly`, `keep_monthly`, `keep_yearly` with count n: walking
//!   the points newest first, keep the newest point of each period, over the last n periods *that
//!   contain a point* (not the n periods before today). Periods are calendar periods in the time
//!   zone offset the caller gives: hours :00–:59, days 00:00–23:59, ISO weeks Monday to Sunday
//!   (numbered by ISO year and week, so 2024-12-30 is in 2025-W01), months, years.
//! - `keep_within` ([`Span`], restic's `2y5m7d3h`) keeps every point strictly less than that span
//!   before the *newest point*, not before "now": a box that was off for a month does not lose its
//!   history when it comes back.
//! - The rules are ORed: a point stays if any rule keeps it, and may be kept by several (daily 7 +
//!   weekly 5 keeps 7 dailies and 4 more weeklies, since the newest daily is also a weekly).
//! - **The oldest point is kept when a rule is not filled** (restic 0.16.0, issue #3624): if a
//!   calendar rule or `keep_last` still has count left when the walk reaches the oldest point, that
//!   point is kept too, even when its period already has a newer point kept. It then carries the
//!   reason `oldest-daily` (…) instead of `daily`. So a yearly rule started in June keeps the first
//!   point ever made, not only the newest point of that first year. `keep_within` has no such rule.
//! - A policy that keeps nothing (every count 0 and no `keep_within`) is refused with
//!   [`RetentionError::Empty`], as restic refuses it: this crate never decides to delete
//!   everything. An empty list of points is fine.
//!
//! Where this crate differs from restic, or decides what restic leaves open:
//!
//! - **Pinned points** are always kept ([`Reason::Pinned`]) and are invisible to every rule: they
//!   use up no count, do not fill a period, are never "the oldest" and are not the newest point
//!   that `keep_within` measures from. (restic's `--keep-tag` keeps a snapshot but still counts it
//!   in the other rules.) Hence pinning a point never causes another point to be removed.
//! - **Identical times** are ordered by id: of two points at the same instant, the one with the
//!   greater id counts as the newer. The result does not depend on the order of the input, and ids
//!   must be unique ([`RetentionError::DuplicateId`]).
//! - **`now`** is used for one thing only, as restic does: a point dated after `now` cannot be the
//!   newest point `keep_within` measures from, so one point with a clock-skewed future date cannot
//!   make `keep_within` drop every other point. Future points themselves are kept by
//!   `keep_within`, and take part in the calendar rules like any other.
//! - Months and years in a [`Span`] are subtracted on the calendar of the given zone, clamping to
//!   the end of a shorter month (31 March minus 1 month is 28/29 February; Go normalizes to early
//!   March). The clamped cutoff is earlier, so it only ever keeps more.
//! - The zone is a fixed offset ([`chrono::FixedOffset`]): pass the box's current offset. Across a
//!   daylight-saving change a point near midnight may fall into the neighbouring day.
//! - There is no "unlimited" count; counts are at most [`MAX_COUNT`] (10 000 years is plenty).
//!
//! # The caller's contract
//!
//! Prune only after a successful run: call [`apply`] after a new restore point was made and
//! verified, never after a failed one (otherwise a string of failures slowly ages the good points
//! out). Group first: apply a policy to one dataset's points at a time. Removing what this says to
//! remove, and in what order, is the caller's job.
//!
//! **Architecture invariant:** this crate knows nothing of ZFS, files, databases, the agent, the
//! API or the clock: it takes points, a policy, a zone offset and the caller's "now", and returns
//! decisions. It does no IO and never panics on any input.

mod apply;
mod policy;
mod span;

pub use apply::{Decision, Point, Reason, apply};
pub use policy::{MAX_COUNT, Policy, Rule};
pub use span::{MAX_SPAN, Span, SpanParseError};

/// Why a policy or a list of points cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// Every count is 0 and there is no `keep_within`: this policy would remove every point.
    #[error("the policy keeps nothing (every count is 0 and there is no keep_within)")]
    Empty,
    /// A count above [`MAX_COUNT`].
    #[error("keep_{rule} is {count}; at most {max} is allowed", max = MAX_COUNT)]
    CountTooLarge { rule: Rule, count: u32 },
    /// A `keep_within` with a part above [`MAX_SPAN`].
    #[error(
        "keep_within {span} is too long; at most {y} years, {m} months, {d} days or {h} hours",
        y = MAX_SPAN.years, m = MAX_SPAN.months, d = MAX_SPAN.days, h = MAX_SPAN.hours
    )]
    SpanTooLong { span: Span },
    /// Two points (by their index in the input) have the same id.
    #[error("points {first} and {second} have the same id")]
    DuplicateId { first: usize, second: usize },
}
