//! Helpers shared by the test binaries: times from text, policies from restic's flags, points.

#![allow(dead_code)]

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use keepsake_retention::{Decision, Point, Policy, Reason, apply};

pub fn utc(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap_or_else(|e| panic!("{text}: {e}")).and_utc()
}

pub fn zone(hours: i32) -> FixedOffset {
    FixedOffset::east_opt(hours * 3600).unwrap()
}

/// A "now" after every test point.
pub fn later() -> DateTime<Utc> {
    utc("2100-01-01 00:00:00")
}

/// A policy from restic's flags: "--keep-daily 7 --keep-within 1y2m".
pub fn policy(flags: &str) -> Policy {
    let mut policy = Policy::default();
    let words: Vec<&str> = flags.split_whitespace().collect();
    for pair in words.chunks(2) {
        let value = pair[1];
        match pair[0] {
            "--keep-last" => policy.keep_last = value.parse().unwrap(),
            "--keep-hourly" => policy.keep_hourly = value.parse().unwrap(),
            "--keep-daily" => policy.keep_daily = value.parse().unwrap(),
            "--keep-weekly" => policy.keep_weekly = value.parse().unwrap(),
            "--keep-monthly" => policy.keep_monthly = value.parse().unwrap(),
            "--keep-yearly" => policy.keep_yearly = value.parse().unwrap(),
            "--keep-within" => policy.keep_within = Some(value.parse().unwrap()),
            other => panic!("unknown flag {other}"),
        }
    }
    policy
}

/// Unpinned points with ids 1, 2, … in the order of `times`.
pub fn points(times: &[&str]) -> Vec<Point<u32>> {
    (1..).zip(times).map(|(id, time)| Point { id, time: utc(time), pinned: false }).collect()
}

/// `apply` in UTC with a "now" after every point.
pub fn run(policy: &Policy, points: &[Point<u32>]) -> Vec<Decision<u32>> {
    apply(policy, points, zone(0), later()).unwrap()
}

/// The kept points' ids with their reasons as text ("daily weekly"), newest first.
pub fn kept(decisions: &[Decision<u32>]) -> Vec<(u32, String)> {
    decisions
        .iter()
        .filter(|d| d.keep())
        .map(|d| (d.id, d.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ")))
        .collect()
}

/// The ids of the kept points, newest first.
pub fn kept_ids(decisions: &[Decision<u32>]) -> Vec<u32> {
    decisions.iter().filter(|d| d.keep()).map(|d| d.id).collect()
}

/// How many points carry `reason`.
pub fn with_reason(decisions: &[Decision<u32>], reason: Reason) -> usize {
    decisions.iter().filter(|d| d.reasons.contains(&reason)).count()
}
