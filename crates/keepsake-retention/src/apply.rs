//! [`apply`]: the one function, walking the points newest first and recording for each the rules
//! that keep it.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::RetentionError;
use crate::policy::{Policy, Rule};

/// A restore point as retention sees it: an id, when it was made, and whether someone pinned it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Point<I> {
    pub id: I,
    pub time: DateTime<Utc>,
    pub pinned: bool,
}

/// What happens to one point: kept if it has at least one reason, removed if it has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decision<I> {
    pub id: I,
    pub time: DateTime<Utc>,
    /// Every reason to keep the point, in the order of [`Reason`]'s variants; empty to remove it.
    pub reasons: Vec<Reason>,
}

impl<I> Decision<I> {
    /// Whether the point stays.
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Why a point is kept. In JSON and [`Reason::as_str`]: `"pinned"`, `"within"`, `"last"`,
/// `"hourly"`, …, and `"oldest-hourly"`, … for the oldest point kept because that rule was not
/// filled (see the crate documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Pinned,
    Within,
    Last,
    Hourly,
    OldestHourly,
    Daily,
    OldestDaily,
    Weekly,
    OldestWeekly,
    Monthly,
    OldestMonthly,
    Yearly,
    OldestYearly,
}

impl Reason {
    /// The reason's name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Pinned => "pinned",
            Reason::Within => "within",
            Reason::Last => "last",
            Reason::Hourly => "hourly",
            Reason::Daily => "daily",
            Reason::Weekly => "weekly",
            Reason::Monthly => "monthly",
            Reason::Yearly => "yearly",
            Reason::OldestHourly => "oldest-hourly",
            Reason::OldestDaily => "oldest-daily",
            Reason::OldestWeekly => "oldest-weekly",
            Reason::OldestMonthly => "oldest-monthly",
            Reason::OldestYearly => "oldest-yearly",
        }
    }

    /// The counted rule behind this reason, if any.
    pub fn rule(self) -> Option<Rule> {
        match self {
            Reason::Pinned | Reason::Within => None,
            Reason::Last => Some(Rule::Last),
            Reason::Hourly | Reason::OldestHourly => Some(Rule::Hourly),
            Reason::Daily | Reason::OldestDaily => Some(Rule::Daily),
            Reason::Weekly | Reason::OldestWeekly => Some(Rule::Weekly),
            Reason::Monthly | Reason::OldestMonthly => Some(Rule::Monthly),
            Reason::Yearly | Reason::OldestYearly => Some(Rule::Yearly),
        }
    }

    /// Whether this is an "oldest" reason.
    pub fn is_oldest(self) -> bool {
        matches!(
            self,
            Reason::OldestHourly
                | Reason::OldestDaily
                | Reason::OldestWeekly
                | Reason::OldestMonthly
                | Reason::OldestYearly
        )
    }

    fn kept_by(rule: Rule, oldest: bool) -> Reason {
        match (rule, oldest) {
            (Rule::Last, _) => Reason::Last,
            (Rule::Hourly, false) => Reason::Hourly,
            (Rule::Daily, false) => Reason::Daily,
            (Rule::Weekly, false) => Reason::Weekly,
            (Rule::Monthly, false) => Reason::Monthly,
            (Rule::Yearly, false) => Reason::Yearly,
            (Rule::Hourly, true) => Reason::OldestHourly,
            (Rule::Daily, true) => Reason::OldestDaily,
            (Rule::Weekly, true) => Reason::OldestWeekly,
            (Rule::Monthly, true) => Reason::OldestMonthly,
            (Rule::Yearly, true) => Reason::OldestYearly,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Applies `policy` to `points`: one [`Decision`] for every point, newest first (by time, then by
/// id: of two points at the same instant the greater id is the newer), whatever the order of
/// `points`.
///
/// Calendar periods are those of `zone`. `now` is the caller's clock, used only so that a point
/// dated in the future is not the newest point `keep_within` measures from. Errors: the policy
/// fails [`Policy::validate`] (an empty policy is refused even with no points), or two points
/// share an id.
pub fn apply<I: Ord + Clone>(
    policy: &Policy,
    points: &[Point<I>],
    zone: FixedOffset,
    now: DateTime<Utc>,
) -> Result<Vec<Decision<I>>, RetentionError> {
    policy.validate()?;
    check_unique_ids(points)?;

    let mut order: Vec<&Point<I>> = points.iter().collect();
    order.sort_by(|a, b| newer_first(a, b));
    let mut reasons: Vec<Vec<Reason>> = vec![Vec::new(); order.len()];

    // The rules see only the unpinned points, by their place in `order`, newest first.
    let mut walk = Vec::with_capacity(order.len());
    for (place, point) in order.iter().enumerate() {
        if point.pinned {
            reasons[place].push(Reason::Pinned);
        } else {
            walk.push(place);
        }
    }

    if let Some(span) = policy.within() {
        // Measured from the newest point not after `now`; with none (every point in the future)
        // there is no cutoff, as in restic. A cutoff beyond chrono's range keeps everything.
        let newest = walk.iter().map(|&place| order[place].time).find(|time| *time <= now);
        let cutoff = newest.and_then(|newest| span.before(newest, zone));
        for &place in &walk {
            if cutoff.is_none_or(|cutoff| order[place].time > cutoff) {
                reasons[place].push(Reason::Within);
            }
        }
    }

    for rule in Rule::ALL {
        let mut left = policy.count(rule);
        let mut last_period = None;
        for (step, &place) in walk.iter().enumerate() {
            if left == 0 {
                break;
            }
            let period = period(rule, step, order[place].time.with_timezone(&zone));
            let new_period = last_period != Some(period);
            let oldest = step + 1 == walk.len();
            if new_period || oldest {
                reasons[place].push(Reason::kept_by(rule, !new_period));
                last_period = Some(period);
                left -= 1;
            }
        }
    }

    Ok(order
        .into_iter()
        .zip(reasons)
        .map(|(point, reasons)| Decision { id: point.id.clone(), time: point.time, reasons })
        .collect())
}

/// Newest first: later time first, then greater id first.
fn newer_first<I: Ord>(a: &Point<I>, b: &Point<I>) -> Ordering {
    b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id))
}

fn check_unique_ids<I: Ord>(points: &[Point<I>]) -> Result<(), RetentionError> {
    let mut by_id: Vec<usize> = (0..points.len()).collect();
    by_id.sort_by(|&a, &b| points[a].id.cmp(&points[b].id).then(a.cmp(&b)));
    match by_id.windows(2).find(|pair| points[pair[0]].id == points[pair[1]].id) {
        Some(pair) => Err(RetentionError::DuplicateId { first: pair[0], second: pair[1] }),
        None => Ok(()),
    }
}

/// The calendar period of a point for a rule, as (year, month or ISO week, day, hour) in the
/// zone; `keep_last` gives every point a period of its own (its step in the walk).
fn period(rule: Rule, step: usize, local: DateTime<FixedOffset>) -> (i64, u32, u32, u32) {
    let year = i64::from(local.year());
    match rule {
        Rule::Last => (i64::try_from(step).unwrap_or(i64::MAX), 0, 0, 0),
        Rule::Hourly => (year, local.month(), local.day(), local.hour()),
        Rule::Daily => (year, local.month(), local.day(), 0),
        Rule::Weekly => {
            let week = local.iso_week();
            (i64::from(week.year()), week.week(), 0, 0)
        }
        Rule::Monthly => (year, local.month(), 0, 0),
        Rule::Yearly => (year, 0, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reasons_serialize_by_name() {
        for reason in [Reason::Pinned, Reason::Within, Reason::Weekly, Reason::OldestYearly] {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), reason);
        }
        assert!(Reason::OldestHourly.is_oldest() && !Reason::Yearly.is_oldest());
        assert_eq!(Reason::OldestMonthly.rule(), Some(Rule::Monthly));
    }

    #[test]
    fn periods_follow_the_zone_and_iso_weeks() {
        let plus_two = FixedOffset::east_opt(2 * 3600).unwrap();
        let late = Utc.with_ymd_and_hms(2025, 6, 30, 23, 30, 0).unwrap().with_timezone(&plus_two);
        assert_eq!(period(Rule::Daily, 0, late), (2025, 7, 1, 0));
        assert_eq!(period(Rule::Monthly, 0, late), (2025, 7, 0, 0));
        let monday = Utc.with_ymd_and_hms(2024, 12, 30, 12, 0, 0).unwrap().fixed_offset();
        assert_eq!(period(Rule::Weekly, 0, monday), (2025, 1, 0, 0));
        assert_eq!(period(Rule::Yearly, 0, monday), (2024, 0, 0, 0));
    }
}
