//! restic's own retention cases, reproduced: the golden results of `TestApplyPolicy` and the
//! worked examples of `doc/060_forget.rst`.
//!
//! Origin: restic/restic (BSD-2-Clause), `internal/data/snapshot_policy_test.go` (the snapshot list
//! `testExpireSnapshots` and the policy list `tests`) and `internal/data/testdata/
//! policy_keep_snapshots_N` (the golden files, as of commit d82ea5373537b426cbfe9fea7885ee062a364fb2).
//! Every case without tags, `--keep-within-*` or "unlimited" (-1) is here, numbered as its golden
//! file; each lists the kept snapshots by their index in `SNAPSHOTS` with restic's reasons
//! ("oldest yearly snapshot" is written `oldest-yearly`, "within 1d" is `within`). Golden case 0 is
//! the empty policy, which both restic and this crate refuse (see `rules.rs`).
//!
//! restic sorts with a stable sort, newest first, so of several snapshots at the same instant the
//! first in the list counts as the newest; here the greater id does, so a snapshot's id is
//! `1000 - index`.

mod common;

use std::collections::BTreeMap;

use common::{kept, points, policy, run, utc, zone};
use keepsake_retention::{Point, Reason, apply};

struct Case {
    golden: u32,
    policy: &'static str,
    keep: &'static [(&'static str, &'static [usize])],
}

const SNAPSHOTS: [&str; 103] = [
    "2014-09-01 10:20:30",
    "2014-09-02 10:20:30",
    "2014-09-05 10:20:30",
    "2014-09-06 10:20:30",
    "2014-09-08 10:20:30",
    "2014-09-09 10:20:30",
    "2014-09-10 10:20:30",
    "2014-09-11 10:20:30",
    "2014-09-20 10:20:30",
    "2014-09-22 10:20:30",
    "2014-08-08 10:20:30",
    "2014-08-10 10:20:30",
    "2014-08-12 10:20:30",
    "2014-08-13 10:20:30",
    "2014-08-13 10:20:30.1",
    "2014-08-15 10:20:30",
    "2014-08-18 10:20:30",
    "2014-08-20 10:20:30",
    "2014-08-21 10:20:30",
    "2014-08-22 10:20:30",
    "2014-10-01 10:20:30",
    "2014-10-02 10:20:30",
    "2014-10-05 10:20:30",
    "2014-10-06 10:20:30",
    "2014-10-08 10:20:30",
    "2014-10-09 10:20:30",
    "2014-10-10 10:20:30",
    "2014-10-11 10:20:30",
    "2014-10-20 10:20:30",
    "2014-10-22 10:20:30",
    "2014-11-08 10:20:30",
    "2014-11-10 10:20:30",
    "2014-11-12 10:20:30",
    "2014-11-13 10:20:30",
    "2014-11-13 10:20:30.1",
    "2014-11-15 10:20:30",
    "2014-11-18 10:20:30",
    "2014-11-20 10:20:30",
    "2014-11-21 10:20:30",
    "2014-11-22 10:20:30",
    "2015-09-01 10:20:30",
    "2015-09-02 10:20:30",
    "2015-09-05 10:20:30",
    "2015-09-06 10:20:30",
    "2015-09-08 10:20:30",
    "2015-09-09 10:20:30",
    "2015-09-10 10:20:30",
    "2015-09-11 10:20:30",
    "2015-09-20 10:20:30",
    "2015-09-22 10:20:30",
    "2015-08-08 10:20:30",
    "2015-08-10 10:20:30",
    "2015-08-12 10:20:30",
    "2015-08-13 10:20:30",
    "2015-08-13 10:20:30.1",
    "2015-08-15 10:20:30",
    "2015-08-18 10:20:30",
    "2015-08-20 10:20:30",
    "2015-08-21 10:20:30",
    "2015-08-22 10:20:30",
    "2015-10-01 10:20:30",
    "2015-10-02 10:20:30",
    "2015-10-05 10:20:30",
    "2015-10-06 10:20:30",
    "2015-10-08 10:20:30",
    "2015-10-09 10:20:30",
    "2015-10-10 10:20:30",
    "2015-10-11 10:20:30",
    "2015-10-20 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-11-08 10:20:30",
    "2015-11-10 10:20:30",
    "2015-11-12 10:20:30",
    "2015-11-13 10:20:30",
    "2015-11-13 10:20:30.1",
    "2015-11-15 10:20:30",
    "2015-11-18 10:20:30",
    "2015-11-20 10:20:30",
    "2015-11-21 10:20:30",
    "2015-11-22 10:20:30",
    "2016-01-01 01:02:03",
    "2016-01-01 01:03:03",
    "2016-01-01 07:08:03",
    "2016-01-03 07:02:03",
    "2016-01-04 10:23:03",
    "2016-01-04 11:23:03",
    "2016-01-04 12:23:03",
    "2016-01-04 12:24:03",
    "2016-01-04 12:28:03",
    "2016-01-04 12:30:03",
    "2016-01-04 16:23:03",
    "2016-01-05 09:02:03",
    "2016-01-06 08:02:03",
    "2016-01-07 10:02:03",
    "2016-01-08 20:02:03",
    "2016-01-09 21:02:03",
    "2016-01-12 21:02:03",
    "2016-01-12 21:08:03",
    "2016-01-18 12:02:03",
];

const CASES: &[Case] = &[
    Case { golden: 1, policy: "--keep-last 10", keep: &[("last", &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93])] },
    Case {
        golden: 2,
        policy: "--keep-last 15",
        keep: &[("last", &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88])],
    },
    Case {
        golden: 3,
        policy: "--keep-last 99",
        keep: &[(
            "last",
            &[
                102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78,
                77, 76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42,
                41, 40, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26,
                25, 24, 23, 22, 21, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 19, 18, 17, 16, 15, 14,
            ],
        )],
    },
    Case {
        golden: 4,
        policy: "--keep-last 200",
        keep: &[(
            "last",
            &[
                102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78,
                77, 76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42,
                41, 40, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26,
                25, 24, 23, 22, 21, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
            ],
        )],
    },
    Case {
        golden: 5,
        policy: "--keep-hourly 20",
        keep: &[("hourly", &[102, 101, 99, 98, 97, 96, 95, 94, 93, 89, 88, 87, 86, 85, 83, 82, 81, 80, 79, 78])],
    },
    Case { golden: 6, policy: "--keep-daily 3", keep: &[("daily", &[102, 101, 99])] },
    Case { golden: 7, policy: "--keep-daily 10", keep: &[("daily", &[102, 101, 99, 98, 97, 96, 95, 94, 87, 86])] },
    Case {
        golden: 8,
        policy: "--keep-daily 30",
        keep: &[(
            "daily",
            &[
                102, 101, 99, 98, 97, 96, 95, 94, 87, 86, 83, 82, 81, 80, 79, 78, 76, 75, 74, 69, 68, 67, 66, 65, 64,
                63, 62, 61, 60, 49,
            ],
        )],
    },
    Case {
        golden: 9,
        policy: "--keep-last 5 --keep-daily 5",
        keep: &[("last daily", &[102, 101, 99, 98]), ("last", &[100]), ("daily", &[97])],
    },
    Case {
        golden: 10,
        policy: "--keep-last 2 --keep-daily 10",
        keep: &[("last daily", &[102, 101]), ("daily", &[99, 98, 97, 96, 95, 94, 87, 86])],
    },
    Case { golden: 11, policy: "--keep-weekly 2", keep: &[("weekly", &[102, 101])] },
    Case { golden: 12, policy: "--keep-weekly 4", keep: &[("weekly", &[102, 101, 99, 87])] },
    Case {
        golden: 13,
        policy: "--keep-daily 3 --keep-weekly 4",
        keep: &[("daily weekly", &[102, 101, 99]), ("weekly", &[87])],
    },
    Case { golden: 14, policy: "--keep-monthly 6", keep: &[("monthly", &[102, 83, 69, 49, 59, 39])] },
    Case {
        golden: 15,
        policy: "--keep-daily 2 --keep-weekly 2 --keep-monthly 6",
        keep: &[("daily weekly monthly", &[102]), ("daily weekly", &[101]), ("monthly", &[83, 69, 49, 59, 39])],
    },
    Case { golden: 16, policy: "--keep-yearly 10", keep: &[("yearly", &[102, 83, 39]), ("oldest-yearly", &[10])] },
    Case {
        golden: 17,
        policy: "--keep-daily 7 --keep-weekly 2 --keep-monthly 3 --keep-yearly 10",
        keep: &[
            ("daily weekly monthly yearly", &[102]),
            ("daily weekly", &[101]),
            ("daily", &[99, 98, 97, 96, 95]),
            ("monthly yearly", &[83]),
            ("monthly", &[69]),
            ("yearly", &[39]),
            ("oldest-yearly", &[10]),
        ],
    },
    Case { golden: 21, policy: "--keep-within 1d", keep: &[("within", &[102])] },
    Case { golden: 22, policy: "--keep-within 2d", keep: &[("within", &[102])] },
    Case { golden: 23, policy: "--keep-within 7d", keep: &[("within", &[102, 101, 100])] },
    Case {
        golden: 24,
        policy: "--keep-within 1m",
        keep: &[("within", &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84])],
    },
    Case {
        golden: 25,
        policy: "--keep-within 1m14d",
        keep: &[("within", &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84])],
    },
    Case {
        golden: 26,
        policy: "--keep-within 1y1d1m",
        keep: &[(
            "within",
            &[
                102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78,
                77, 76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42,
                41, 40, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50,
            ],
        )],
    },
    Case { golden: 27, policy: "--keep-within 13d23h", keep: &[("within", &[102, 101, 100, 99, 98, 97, 96, 95, 94])] },
    Case {
        golden: 28,
        policy: "--keep-within 2m2h",
        keep: &[(
            "within",
            &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80],
        )],
    },
    Case {
        golden: 29,
        policy: "--keep-within 1y2m3d3h",
        keep: &[(
            "within",
            &[
                102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78,
                77, 76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42,
                41, 40, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35,
            ],
        )],
    },
];

fn id(index: usize) -> u32 {
    1000 - u32::try_from(index).unwrap()
}

#[test]
fn restic_golden_cases() {
    let snapshots: Vec<Point<u32>> = SNAPSHOTS
        .iter()
        .enumerate()
        .map(|(index, time)| Point { id: id(index), time: utc(time), pinned: false })
        .collect();
    for case in CASES {
        let decisions = run(&policy(case.policy), &snapshots);
        assert_eq!(decisions.len(), snapshots.len());
        let got: BTreeMap<u32, String> = kept(&decisions).into_iter().collect();
        let want: BTreeMap<u32, String> = case
            .keep
            .iter()
            .flat_map(|(reasons, indexes)| indexes.iter().map(|i| (id(*i), reasons.to_string())))
            .collect();
        assert_eq!(got, want, "golden case {} ({})", case.golden, case.policy);
    }
}

/// doc/060_forget.rst, "Let's look at a simple example": backups every weekday for two weeks, two
/// on Fridays, Wednesday 30 April missed; `--keep-daily 5` keeps the newest of each of the last
/// five days with a snapshot, reaching back to the previous Friday. (The document's listing gives
/// the kept Friday snapshot the ID of the 11:00 one but the time of the 23:00 one; the newest of
/// the day is the 23:00 one, ae33bf10.)
#[test]
fn forget_doc_keep_daily_5() {
    let list = [
        ("60e5c031", "2025-04-21 11:00:00"),
        ("1dccffe9", "2025-04-22 11:00:00"),
        ("90a5c949", "2025-04-23 11:00:00"),
        ("79580708", "2025-04-24 11:00:00"),
        ("8a603ddf", "2025-04-25 11:00:00"),
        ("ae33bf10", "2025-04-25 23:00:00"),
        ("fb8b1418", "2025-04-28 11:00:00"),
        ("1db188b4", "2025-04-29 11:00:00"),
        ("7baa4f28", "2025-05-01 11:00:00"),
        ("05c48af3", "2025-05-02 11:00:00"),
        ("ad72e262", "2025-05-02 23:00:00"),
    ];
    let snapshots: Vec<Point<&str>> =
        list.iter().map(|(id, time)| Point { id: *id, time: utc(time), pinned: false }).collect();
    let decisions = apply(&policy("--keep-daily 5"), &snapshots, zone(0), common::later()).unwrap();
    let kept: Vec<&str> = decisions.iter().filter(|d| d.keep()).map(|d| d.id).collect();
    assert_eq!(kept, ["ad72e262", "7baa4f28", "1db188b4", "fb8b1418", "ae33bf10"]);
    assert!(decisions.iter().filter(|d| d.keep()).all(|d| d.reasons == [Reason::Daily]));
}

/// doc/060_forget.rst, `forget --keep-last 1 --prune`: of two snapshots the newer stays.
#[test]
fn forget_doc_keep_last_1() {
    let list = points(&["2017-02-21 10:48:33", "2017-02-21 10:49:18"]);
    assert_eq!(kept(&run(&policy("--keep-last 1"), &list)), [(2, "last".to_owned())]);
}

/// doc/060_forget.rst: "suppose you make one backup every day for 100 years. Then `forget
/// --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75` would keep the most recent 7
/// daily snapshots and 4 last-day-of-the-week ones (since the 7 dailies already include 1 weekly).
/// Additionally, 12 or 11 last-day-of-the-month snapshots will be kept […]. And finally 75 or 74
/// last-day-of-the-year snapshots are kept". The 7 dailies hold a single weekly only when they lie
/// in one ISO week, so the newest backup here is on a Sunday.
#[test]
fn forget_doc_a_hundred_years_of_dailies() {
    let first = utc("1925-06-15 03:00:00");
    let last = utc("2025-06-15 03:00:00");
    let days = (last - first).num_days();
    let list: Vec<Point<u32>> = (0..=days)
        .map(|day| Point {
            id: u32::try_from(day).unwrap(),
            time: first + chrono::Days::new(u64::try_from(day).unwrap()),
            pinned: false,
        })
        .collect();
    let decisions = run(&policy("--keep-daily 7 --keep-weekly 5 --keep-monthly 12 --keep-yearly 75"), &list);
    let count = |reason| common::with_reason(&decisions, reason);
    assert_eq!(
        [count(Reason::Daily), count(Reason::Weekly), count(Reason::Monthly), count(Reason::Yearly)],
        [7, 5, 12, 75]
    );
    let kept = decisions.iter().filter(|d| d.keep()).count();
    let more_weeklies =
        decisions.iter().filter(|d| d.reasons.contains(&Reason::Weekly) && !d.reasons.contains(&Reason::Daily)).count();
    assert_eq!(more_weeklies, 4);
    // 7 dailies, 4 more weeklies, 11 more monthlies (June's is a daily) and 73 more yearlies: the
    // document's "74" forgets that 2024's last day is also one of the 12 monthlies.
    assert_eq!(kept, 7 + 4 + 11 + 73);
    let new_year_eve = decisions.iter().find(|d| d.time == utc("2024-12-31 03:00:00")).unwrap();
    assert_eq!(new_year_eve.reasons, [Reason::Monthly, Reason::Yearly]);
    // Every kept weekly but the newest is a Sunday, the last day of its ISO week.
    use chrono::Datelike;
    let sundays = decisions
        .iter()
        .filter(|d| d.reasons.contains(&Reason::Weekly))
        .skip(1)
        .all(|d| d.time.weekday() == chrono::Weekday::Sun);
    assert!(sundays);
}
