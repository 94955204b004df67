//! The rules one at a time, the decisions this crate makes where restic leaves room (pins, ties,
//! "now"), calendar edges (zones, ISO weeks), and properties that hold for any input.

mod common;

use chrono::{DateTime, Days, TimeDelta, Utc};
use common::{kept, kept_ids, later, points, policy, run, utc, zone};
use keepsake_retention::{Point, Policy, Reason, RetentionError, apply};
use proptest::prelude::*;

fn reasons(text: &str) -> String {
    text.to_owned()
}

/// One point a day at noon UTC, from `first`, `days` of them; ids 1, 2, … oldest first.
fn daily(first: &str, days: u32) -> Vec<Point<u32>> {
    let first = utc(first);
    (0..days).map(|day| Point { id: day + 1, time: first + Days::new(u64::from(day)), pinned: false }).collect()
}

#[test]
fn rules_are_ored_daily_7_weekly_5() {
    // Daily at noon from Monday 2025-03-03 to Sunday 2025-04-27: 8 whole ISO weeks.
    let list = daily("2025-03-03 12:00:00", 56);
    let decisions = run(&policy("--keep-daily 7 --keep-weekly 5"), &list);
    assert_eq!(
        kept(&decisions),
        [
            (56, reasons("daily weekly")), // Sunday 27 April
            (55, reasons("daily")),
            (54, reasons("daily")),
            (53, reasons("daily")),
            (52, reasons("daily")),
            (51, reasons("daily")),
            (50, reasons("daily")),  // Monday 21 April
            (49, reasons("weekly")), // the Sundays before
            (42, reasons("weekly")),
            (35, reasons("weekly")),
            (28, reasons("weekly")),
        ]
    );
}

#[test]
fn periods_count_only_when_they_hold_a_point() {
    // Three days with points, a month apart: keep_daily 3 reaches back over the empty days.
    let list = points(&["2025-01-10 09:00:00", "2025-02-10 09:00:00", "2025-03-10 09:00:00"]);
    assert_eq!(kept_ids(&run(&policy("--keep-daily 3"), &list)), [3, 2, 1]);
}

#[test]
fn the_oldest_point_is_kept_while_a_rule_is_not_filled() {
    // restic issue #3624: a yearly policy begun in June keeps the very first point too.
    let list = points(&[
        "2023-06-01 10:00:00",
        "2023-09-01 10:00:00",
        "2023-12-31 10:00:00",
        "2024-05-01 10:00:00",
        "2024-12-31 10:00:00",
        "2025-03-01 10:00:00",
    ]);
    assert_eq!(
        kept(&run(&policy("--keep-yearly 5"), &list)),
        [(6, reasons("yearly")), (5, reasons("yearly")), (3, reasons("yearly")), (1, reasons("oldest-yearly")),]
    );
    // Once the rule is filled, the oldest point is not kept for it.
    assert_eq!(kept_ids(&run(&policy("--keep-yearly 3"), &list)), [6, 5, 3]);
    assert_eq!(kept_ids(&run(&policy("--keep-yearly 2"), &list)), [6, 5]);
    // The oldest point in a period of its own is kept under the plain reason.
    let list = points(&["2022-06-01 10:00:00", "2024-12-31 10:00:00"]);
    assert_eq!(kept(&run(&policy("--keep-yearly 5"), &list)), [(2, reasons("yearly")), (1, reasons("yearly"))]);
    // keep_within has no such rule.
    let list = points(&["2024-01-01 10:00:00", "2025-01-01 10:00:00"]);
    assert_eq!(kept_ids(&run(&policy("--keep-within 30d"), &list)), [2]);
}

#[test]
fn pinned_points_are_kept_and_invisible_to_the_rules() {
    let mut list = points(&[
        "2025-05-01 08:00:00",
        "2025-05-02 08:00:00",
        "2025-05-02 20:00:00", // pinned: the newest of its day
        "2025-05-03 08:00:00",
        "2025-05-04 08:00:00", // pinned: the newest point of all
    ]);
    list[2].pinned = true;
    list[4].pinned = true;
    let decisions = run(&policy("--keep-last 2"), &list);
    assert_eq!(
        kept(&decisions),
        [(5, reasons("pinned")), (4, reasons("last")), (3, reasons("pinned")), (2, reasons("last"))]
    );
    // 2 May's unpinned point is that day's daily; the pinned 1 May point is never "the oldest".
    list[0].pinned = true;
    let decisions = run(&policy("--keep-daily 5"), &list);
    assert_eq!(
        kept(&decisions),
        [
            (5, reasons("pinned")),
            (4, reasons("daily")),
            (3, reasons("pinned")),
            (2, reasons("daily")),
            (1, reasons("pinned")),
        ]
    );
    // keep_within measures from the newest unpinned point (3 May), not from the pinned 4 May
    // (which would keep only 3 May's point).
    list[0].pinned = false;
    let decisions = run(&policy("--keep-within 2d"), &list);
    assert_eq!(kept_ids(&decisions), [5, 4, 3, 2]);
    // Only pinned points: nothing is removed, nothing else is said.
    let mut list = points(&["2025-05-01 08:00:00"]);
    list[0].pinned = true;
    assert_eq!(kept(&run(&policy("--keep-last 1"), &list)), [(1, reasons("pinned"))]);
}

#[test]
fn keep_within_is_measured_from_the_newest_point_not_from_now() {
    let list = points(&["2020-01-01 12:00:00", "2020-01-24 12:00:00", "2020-01-25 12:00:01", "2020-02-01 12:00:00"]);
    // Years later, the last week before the newest point is still kept; the cutoff (25 January
    // 12:00) itself is outside, as in restic.
    let decisions = apply(&policy("--keep-within 7d"), &list, zone(0), later()).unwrap();
    assert_eq!(kept(&decisions), [(4, reasons("within")), (3, reasons("within"))]);
}

#[test]
fn a_point_from_the_future_does_not_move_keep_within() {
    let now = utc("2025-06-01 00:00:00");
    let list = points(&["2025-05-20 12:00:00", "2025-05-30 12:00:00", "2031-01-01 00:00:00"]);
    let decisions = apply(&policy("--keep-within 14d"), &list, zone(0), now).unwrap();
    assert_eq!(kept_ids(&decisions), [3, 2, 1]);
    // Measured from the 2031 point, both real points would have gone.
    let decisions = apply(&policy("--keep-within 14d"), &list, zone(0), later()).unwrap();
    assert_eq!(kept_ids(&decisions), [3]);
    // Every point in the future: no newest point to measure from, all are within.
    let decisions = apply(&policy("--keep-within 1d"), &list, zone(0), utc("2000-01-01 00:00:00"));
    assert_eq!(kept_ids(&decisions.unwrap()), [3, 2, 1]);
}

#[test]
fn an_empty_policy_is_refused() {
    let list = points(&["2025-05-01 08:00:00"]);
    assert_eq!(apply(&Policy::default(), &list, zone(0), later()), Err(RetentionError::Empty));
    assert_eq!(apply(&policy("--keep-last 0 --keep-within 0d"), &list, zone(0), later()), Err(RetentionError::Empty));
    let none: &[Point<u32>] = &[];
    assert_eq!(apply(&Policy::default(), none, zone(0), later()), Err(RetentionError::Empty));
    assert_eq!(apply(&policy("--keep-last 1"), none, zone(0), later()), Ok(vec![]));
    let too_many = policy("--keep-hourly 10001");
    assert!(matches!(
        apply(&too_many, &list, zone(0), later()),
        Err(RetentionError::CountTooLarge { count: 10_001, .. })
    ));
}

#[test]
fn identical_times_are_ordered_by_id() {
    let time = utc("2025-05-01 08:00:00");
    let list: Vec<Point<&str>> = ["b", "c", "a"].into_iter().map(|id| Point { id, time, pinned: false }).collect();
    let ids = |p: &Policy| -> Vec<(&str, Vec<Reason>)> {
        let decisions = apply(p, &list, zone(0), later()).unwrap();
        decisions.into_iter().map(|d| (d.id, d.reasons)).collect()
    };
    assert_eq!(ids(&policy("--keep-last 1")), [("c", vec![Reason::Last]), ("b", vec![]), ("a", vec![])]);
    // One day holds all three: "c" is its daily, and "a", the oldest, is kept while count is left.
    assert_eq!(
        ids(&policy("--keep-daily 2")),
        [("c", vec![Reason::Daily]), ("b", vec![]), ("a", vec![Reason::OldestDaily])]
    );
    let twice = [list[0].clone(), Point { id: "b", time: time + TimeDelta::hours(1), pinned: true }];
    assert_eq!(
        apply(&policy("--keep-last 1"), &twice, zone(0), later()),
        Err(RetentionError::DuplicateId { first: 0, second: 1 })
    );
}

#[test]
fn days_follow_the_zone() {
    let list = points(&[
        "2025-06-30 20:00:00", // 22:00 on 30 June at +02:00
        "2025-06-30 23:30:00", // 01:30 on 1 July at +02:00
        "2025-07-01 08:00:00", // 10:00 on 1 July at +02:00
    ]);
    let at = |hours| {
        let decisions = apply(&policy("--keep-daily 5"), &list, zone(hours), later()).unwrap();
        kept(&decisions)
    };
    assert_eq!(at(2), [(3, reasons("daily")), (1, reasons("daily"))]);
    // In UTC the 23:30 point is 30 June's newest; the 20:00 one is kept as the oldest.
    assert_eq!(at(0), [(3, reasons("daily")), (2, reasons("daily")), (1, reasons("oldest-daily"))]);
    // At -10:00 all three are on 30 June.
    assert_eq!(at(-10), [(3, reasons("daily")), (1, reasons("oldest-daily"))]);
}

#[test]
fn iso_weeks_cross_the_year_boundary() {
    let list = points(&[
        "2024-12-28 12:00:00", // Saturday, 2024-W52
        "2024-12-29 12:00:00", // Sunday, 2024-W52
        "2024-12-30 12:00:00", // Monday, 2025-W01
        "2025-01-02 12:00:00", // Thursday, 2025-W01
    ]);
    assert_eq!(kept(&run(&policy("--keep-weekly 2"), &list)), [(4, reasons("weekly")), (2, reasons("weekly"))]);
    // Years are calendar years all the same: 30 December is 2024's newest.
    assert_eq!(kept(&run(&policy("--keep-yearly 2"), &list)), [(4, reasons("yearly")), (3, reasons("yearly"))]);
}

#[test]
fn hourly_and_monthly_buckets() {
    let list = points(&["2025-01-31 23:59:59", "2025-02-01 00:00:00", "2025-02-01 00:59:59", "2025-02-01 01:00:00"]);
    assert_eq!(kept(&run(&policy("--keep-hourly 2"), &list)), [(4, reasons("hourly")), (3, reasons("hourly"))]);
    assert_eq!(kept(&run(&policy("--keep-monthly 2"), &list)), [(4, reasons("monthly")), (1, reasons("monthly"))]);
}

#[test]
fn reasons_and_description_are_for_people() {
    let decisions = run(&policy("--keep-last 1 --keep-daily 1"), &points(&["2025-01-01 00:00:00"]));
    let json = serde_json::to_string(&decisions[0].reasons).unwrap();
    assert_eq!(json, r#"["last","daily"]"#);
    assert!(policy("--keep-daily 7").describe().contains("each of the last 7 days"));
}

// Properties over random lists: times every 7 hours over about four years (sometimes from a
// handful of instants, for ties), random pins, small random policies, zones from -12:00 to +14:00.

fn arbitrary_points() -> impl Strategy<Value = Vec<Point<u32>>> {
    let step = prop_oneof![0..5_000i64, 0..4i64];
    prop::collection::vec((step, any::<bool>(), 0..4u8), 0..40).prop_map(|raw| {
        let base = utc("2022-01-01 00:00:00");
        (0u32..)
            .zip(raw)
            .map(|(id, (step, pin, die))| Point {
                id,
                time: base + TimeDelta::hours(7 * step),
                pinned: pin && die == 0,
            })
            .collect()
    })
}

fn arbitrary_policy() -> impl Strategy<Value = Policy> {
    (prop::array::uniform6(0..5u32), prop::option::of((0..2u32, 0..3u32, 0..40u32, 0..30u32))).prop_map(
        |(counts, within)| {
            let [keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly] = counts;
            let keep_within =
                within.map(|(years, months, days, hours)| keepsake_retention::Span { years, months, days, hours });
            let mut policy =
                Policy { keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly, keep_within };
            if policy.is_empty() {
                policy.keep_last = 1;
            }
            policy
        },
    )
}

fn arbitrary_zone() -> impl Strategy<Value = chrono::FixedOffset> {
    (-48..=56i32).prop_map(|quarters| chrono::FixedOffset::east_opt(quarters * 900).unwrap())
}

fn newest_first(list: &[Point<u32>]) -> Vec<&Point<u32>> {
    let mut sorted: Vec<&Point<u32>> = list.iter().collect();
    sorted.sort_by_key(|p| std::cmp::Reverse((p.time, p.id)));
    sorted
}

fn now() -> DateTime<Utc> {
    utc("2024-06-01 00:00:00") // within the range, so some points are in the future
}

proptest! {
    #[test]
    fn keep_last_keeps_the_newest_unpinned(list in arbitrary_points(), n in 1..10u32) {
        let decisions = run(&Policy { keep_last: n, ..Policy::default() }, &list);
        let newest: Vec<u32> = newest_first(&list)
            .into_iter()
            .filter(|p| !p.pinned)
            .take(n as usize)
            .map(|p| p.id)
            .collect();
        let by_last: Vec<u32> =
            decisions.iter().filter(|d| d.reasons.contains(&Reason::Last)).map(|d| d.id).collect();
        prop_assert_eq!(&by_last, &newest);
        let unpinned_kept: Vec<u32> = decisions
            .iter()
            .filter(|d| d.keep() && !d.reasons.contains(&Reason::Pinned))
            .map(|d| d.id)
            .collect();
        prop_assert_eq!(unpinned_kept, newest);
    }

    #[test]
    fn any_policy_keeps_pins_and_the_newest_and_ignores_input_order(
        (list, shuffled) in arbitrary_points().prop_flat_map(|list| {
            let shuffled = Just(list.clone()).prop_shuffle();
            (Just(list), shuffled)
        }),
        policy in arbitrary_policy(),
        zone in arbitrary_zone(),
    ) {
        let decisions = apply(&policy, &list, zone, now()).unwrap();
        prop_assert_eq!(&decisions, &apply(&policy, &shuffled, zone, now()).unwrap());
        // One decision per point, newest first.
        let order: Vec<u32> = newest_first(&list).iter().map(|p| p.id).collect();
        prop_assert_eq!(decisions.iter().map(|d| d.id).collect::<Vec<_>>(), order);
        for (decision, point) in decisions.iter().zip(newest_first(&list)) {
            // Pinned points are kept, for that reason alone.
            prop_assert_eq!(point.pinned, decision.reasons == [Reason::Pinned]);
            prop_assert_eq!(point.pinned, decision.reasons.contains(&Reason::Pinned));
            // Reasons come in a fixed order, each once.
            prop_assert!(decision.reasons.windows(2).all(|w| w[0] < w[1]));
        }
        // The newest unpinned point is always kept.
        if let Some(newest) = decisions.iter().find(|d| !d.reasons.contains(&Reason::Pinned)) {
            prop_assert!(newest.keep());
        }
        // A counted rule keeps at most its count, the oldest included.
        for rule in keepsake_retention::Rule::ALL {
            let by_rule = decisions
                .iter()
                .filter(|d| d.reasons.iter().any(|r| r.rule() == Some(rule)))
                .count();
            prop_assert!(by_rule <= policy.count(rule) as usize);
        }
    }

    #[test]
    fn pinning_a_point_never_removes_another(
        list in arbitrary_points(),
        policy in arbitrary_policy(),
        zone in arbitrary_zone(),
        pick in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!list.is_empty());
        let before = apply(&policy, &list, zone, now()).unwrap();
        let mut pinned = list.clone();
        let chosen = pick.index(pinned.len());
        pinned[chosen].pinned = true;
        let after = apply(&policy, &pinned, zone, now()).unwrap();
        for (b, a) in before.iter().zip(&after) {
            prop_assert_eq!(b.id, a.id);
            prop_assert!(!b.keep() || a.keep(), "pinning {} removed {}", list[chosen].id, b.id);
        }
    }
}

#[test]
fn extreme_times_do_not_panic() {
    let list = vec![
        Point { id: 1, time: DateTime::<Utc>::MIN_UTC, pinned: false },
        Point { id: 2, time: DateTime::<Utc>::MAX_UTC, pinned: false },
        Point { id: 3, time: utc("2025-01-01 00:00:00"), pinned: false },
    ];
    let all = policy(
        "--keep-last 1 --keep-hourly 1 --keep-daily 1 --keep-weekly 1 --keep-monthly 1 \
         --keep-yearly 1 --keep-within 100y",
    );
    for hours in [-12, 0, 14] {
        for now in [DateTime::<Utc>::MIN_UTC, later(), DateTime::<Utc>::MAX_UTC] {
            let decisions = apply(&all, &list, zone(hours), now).unwrap();
            assert_eq!(decisions.len(), 3);
            assert!(decisions[0].keep());
        }
    }
}
