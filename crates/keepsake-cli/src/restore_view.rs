//! What `keepsake restore-point` and `keepsake reset-immich` print, as lines: the timeline table
//! with the last drill and a reset that can be undone, a restore plan, the settings, and what a
//! finished restore-point job produced. Pure functions of the wire types and a time zone (the
//! console passes `chrono::Local`), so the tests pin down the exact text.

use std::fmt::Display;

use chrono::{DateTime, TimeZone, Utc};
use keepsake_api::{
    DrillStatus, JobResult, RestorePlan, RestorePoint, RestorePointList, RestorePointSettings, RestorePointSource,
    RestorePointState, RestoreReport, RestoreScope, TableRows, UndoReset,
};

use crate::term::{human_bytes, table};

/// What a person is warned of before `keepsake reset-immich`.
pub const RESET_WARNING: [&str; 3] = [
    "This empties Immich: every photo and video in the library, and the whole database (accounts,",
    "albums, people, settings). A pre-reset point is made first; `keepsake reset-immich --undo`",
    "brings everything back for as long as that point is kept.",
];

/// A time as the console shows it, minutes precision, in `tz`.
pub fn when<Tz: TimeZone>(t: &DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    t.with_timezone(tz).format("%Y-%m-%d %H:%M").to_string()
}

/// The scope as the API and `--scope` name it.
pub fn scope_word(s: RestoreScope) -> &'static str {
    match s {
        RestoreScope::Database => "database",
        RestoreScope::Library => "library",
        RestoreScope::Files => "files",
        RestoreScope::Instance => "instance",
    }
}

/// The scope as the object of a sentence: "restore the database".
fn scope_object(s: RestoreScope) -> &'static str {
    match s {
        RestoreScope::Database => "the database",
        RestoreScope::Library => "the whole library",
        RestoreScope::Files => "chosen files",
        RestoreScope::Instance => "Immich (database and library)",
    }
}

/// `keepsake restore-point list`: the table, then warnings, the last drill and a reset that can be
/// undone.
pub fn list_lines<Tz: TimeZone>(l: &RestorePointList, tz: &Tz) -> Vec<String>
where
    Tz::Offset: Display,
{
    let mut lines = if l.points.is_empty() {
        vec!["no restore points yet; `keepsake restore-point create` makes one".to_owned()]
    } else {
        let rows: Vec<Vec<String>> = l.points.iter().map(|p| point_row(p, tz)).collect();
        table(&["ID", "WHEN", "KIND", "SIZE", "VERSIONS", "PINNED", "KEPT BECAUSE / EXPIRES", "NOTE"], &rows)
    };
    lines.push(String::new());
    lines.extend(l.warnings.iter().map(|w| format!("warning: {w}")));
    lines.push(drill_line(l.drill.as_ref(), tz));
    if let Some(u) = &l.undo_reset {
        lines.push(undo_line(u, tz));
    }
    lines
}

fn point_row<Tz: TimeZone>(p: &RestorePoint, tz: &Tz) -> Vec<String>
where
    Tz::Offset: Display,
{
    let kind = match (p.source, p.kind) {
        (RestorePointSource::Keepsake, Some(k)) => k.as_str().replace('_', "-"),
        (RestorePointSource::Keepsake, None) => "keepsake".to_owned(),
        (RestorePointSource::Sanoid, _) => "sanoid snapshot".to_owned(),
        (RestorePointSource::Immich, _) => "immich dump".to_owned(),
    };
    let kind = if p.state == RestorePointState::Creating { format!("{kind} (being made)") } else { kind };
    let versions: Vec<String> = [
        p.immich_version.as_ref().map(|v| format!("immich {v}")),
        p.postgres_version.as_ref().map(|v| format!("pg {v}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut kept = p.kept_because.clone();
    if let Some(t) = &p.expires_at {
        kept.push(format!("expires {}", when(t, tz)));
    }
    let kept = match (kept.is_empty(), p.source) {
        (false, _) => kept.join(", "),
        (true, RestorePointSource::Sanoid) => "sanoid's own retention".to_owned(),
        (true, RestorePointSource::Immich) => "immich's own retention".to_owned(),
        (true, RestorePointSource::Keepsake) => "-".to_owned(),
    };
    vec![
        p.id.clone(),
        when(&p.created_at, tz),
        kind,
        human_bytes(p.size),
        if versions.is_empty() { "-".to_owned() } else { versions.join(", ") },
        if p.pinned { "yes" } else { "-" }.to_owned(),
        kept,
        p.note.clone().unwrap_or_default(),
    ]
}

fn drill_line<Tz: TimeZone>(d: Option<&DrillStatus>, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    let Some(d) = d else {
        return "restore drill: none yet; `keepsake restore-point drill` runs one".to_owned();
    };
    let verdict = if d.ok { "ok" } else { "FAILED" };
    let next = d.next_due.map(|t| format!("; next due {}", when(&t, tz))).unwrap_or_default();
    format!("last restore drill: {verdict} at {} with {}: {}{next}", when(&d.finished_at, tz), d.point_id, d.detail)
}

fn undo_line<Tz: TimeZone>(u: &UndoReset, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    let until = u.until.map(|t| format!(" until {}", when(&t, tz))).unwrap_or_default();
    format!(
        "Immich was reset at {}: `keepsake reset-immich --undo` brings it back from {}{until}",
        when(&u.reset_at, tz),
        u.point_id
    )
}

/// What `keepsake reset-immich --undo` shows before asking.
pub fn undo_reset_lines<Tz: TimeZone>(u: &UndoReset, tz: &Tz) -> Vec<String>
where
    Tz::Offset: Display,
{
    vec![
        format!("Immich was reset at {}.", when(&u.reset_at, tz)),
        format!(
            "Undoing brings back its library and database from {}, as they were just before the reset.",
            u.point_id
        ),
    ]
}

/// A restore plan, before its confirmation phrase is asked for.
pub fn plan_lines(p: &RestorePlan) -> Vec<String> {
    let mut lines =
        vec![format!("Restore {} from {} ({} to read):", scope_object(p.scope), p.point_id, human_bytes(p.size))];
    lines.extend(p.impact.iter().map(|s| format!("  - {s}")));
    lines.extend(p.warnings.iter().map(|w| format!("warning: {w}")));
    lines.push(if p.makes_pre_restore_point {
        "A pre-restore point is made first, so this restore can be undone.".to_owned()
    } else {
        "No pre-restore point is made: this restore cannot be undone.".to_owned()
    });
    if p.stops_immich {
        lines.push("Immich is stopped while the restore runs.".to_owned());
    }
    lines
}

/// `keepsake restore-point settings`.
pub fn settings_lines(s: &RestorePointSettings) -> Vec<String> {
    let r = &s.retention;
    let daily = match s.daily_at_hour {
        Some(h) => format!("every day at {h:02}:00 (the box's local time)"),
        None => "never".to_owned(),
    };
    let drill = match s.drill_every_days {
        Some(1) => "every day".to_owned(),
        Some(d) => format!("every {d} days"),
        None => "never".to_owned(),
    };
    vec![
        format!("scheduled points: {daily}"),
        format!(
            "keep scheduled:   last {}, hourly {}, daily {}, weekly {}, monthly {}, yearly {}",
            r.keep_last, r.keep_hourly, r.keep_daily, r.keep_weekly, r.keep_monthly, r.keep_yearly
        ),
        format!("keep safety:      {} days (points made before an update, a restore or a reset)", r.safety_days),
        "                  manual points stay until deleted; pinned points always stay".to_owned(),
        format!("restore drill:    {drill}"),
    ]
}

/// What a finished restore-point job produced; empty for other kinds.
pub fn result_lines(r: &JobResult) -> Vec<String> {
    match r {
        // Other subsystems' results are presented by their own views.
        JobResult::SelfCheck(_)
        | JobResult::BackedUp(_)
        | JobResult::DriveVerified(_)
        | JobResult::DriveRestored(_)
        | JobResult::DriveFormatted(_)
        | JobResult::StackInstalled(_)
        | JobResult::StackUpdated(_)
        | JobResult::StackRolledBack(_)
        | JobResult::StackActed(_) => Vec::new(),
        JobResult::RestorePointCreated(r) => {
            let mut lines = vec![format!("restore point {} made ({})", r.point_id, human_bytes(r.size))];
            if !r.pruned.is_empty() {
                lines.push(format!("retention removed {} older: {}", r.pruned.len(), r.pruned.join(", ")));
            }
            lines
        }
        JobResult::Restored(r) => {
            let mut lines = vec![format!("restored {} from {}", scope_object(r.scope), r.point_id)];
            lines.extend(restore_counts(r));
            lines.push(match r.scope {
                RestoreScope::Files => format!(
                    "to undo: `keepsake restore-point restore {} --scope files` with the same --path options",
                    r.pre_point_id
                ),
                s => format!("to undo: `keepsake restore-point restore {} --scope {}`", r.pre_point_id, scope_word(s)),
            });
            lines
        }
        JobResult::Reset(r) => vec![
            "Immich is empty now.".to_owned(),
            format!("to undo: `keepsake reset-immich --undo` (brings back point {})", r.pre_point_id),
        ],
        JobResult::ResetUndone(r) => {
            let mut lines = vec![format!("reset undone: Immich is back as it was, from {}", r.point_id)];
            lines.extend(restore_counts(r));
            lines.push(format!("point {} holds what was there just before the undo", r.pre_point_id));
            lines
        }
        JobResult::Drilled(d) => {
            let mut lines = vec![format!(
                "restore drill passed: {} loaded into a throwaway database in {:.1} s",
                d.point_id,
                d.millis as f64 / 1000.0
            )];
            lines.extend(table_rows(&d.tables));
            lines
        }
    }
}

fn restore_counts(r: &RestoreReport) -> Vec<String> {
    let mut lines = table_rows(&r.tables);
    if r.scope != RestoreScope::Database {
        lines.push(format!(
            "{} files written, {} removed, {} copied",
            r.files_written,
            r.files_removed,
            human_bytes(r.bytes_copied)
        ));
    }
    lines
}

fn table_rows(tables: &[TableRows]) -> Vec<String> {
    let width = tables.iter().map(|t| t.table.chars().count()).max().unwrap_or(0);
    tables.iter().map(|t| format!("  {:<width$}  {} rows", t.table, t.rows)).collect()
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;
    use keepsake_api::{
        DrillReport, RestorePart, RestorePartKind, RestorePointKind, RestorePointReport, RetentionSettings,
    };

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Central European winter time: the console shows local time, not UTC.
    fn cet() -> FixedOffset {
        FixedOffset::east_opt(3600).unwrap()
    }

    fn point(id: &str, source: RestorePointSource, kind: Option<RestorePointKind>) -> RestorePoint {
        RestorePoint {
            id: id.to_owned(),
            source,
            kind,
            state: RestorePointState::Complete,
            created_at: at("2026-12-03T03:00:00Z"),
            note: None,
            pinned: false,
            immich_version: None,
            postgres_version: None,
            size: 0,
            parts: Vec::new(),
            scopes: vec![RestoreScope::Database],
            kept_because: Vec::new(),
            expires_at: None,
            read_only: source != RestorePointSource::Keepsake,
        }
    }

    fn timeline() -> RestorePointList {
        let mut manual = point("kp-20261203-0400", RestorePointSource::Keepsake, Some(RestorePointKind::Manual));
        manual.note = Some("before tidying the albums".into());
        manual.pinned = true;
        manual.immich_version = Some("v1.119.0".into());
        manual.postgres_version = Some("15".into());
        manual.size = 3 * 1024 * 1024 * 1024;
        manual.kept_because = vec!["pinned".into(), "manual".into()];
        manual.parts = vec![RestorePart {
            kind: RestorePartKind::Database,
            name: "db.sql.gz".into(),
            size: 1024,
            checksum: "ab".into(),
        }];
        let mut safety = point("kp-20261202-2300", RestorePointSource::Keepsake, Some(RestorePointKind::PreUpdate));
        safety.created_at = at("2026-12-02T22:00:00Z");
        safety.size = 1536;
        safety.kept_because = vec!["safety".into()];
        safety.expires_at = Some(at("2026-12-16T22:00:00Z"));
        let mut sanoid =
            point("sanoid:tank/immich@autosnap_2026-12-02_00:00:01_daily", RestorePointSource::Sanoid, None);
        sanoid.created_at = at("2026-12-02T00:00:01Z");
        let mut immich = point("immich:immich-db-backup-1733100000000.sql.gz", RestorePointSource::Immich, None);
        immich.created_at = at("2026-12-01T02:00:00Z");
        immich.immich_version = Some("v1.118.2".into());
        immich.size = 512;
        let mut making = point("kp-20261203-0500", RestorePointSource::Keepsake, Some(RestorePointKind::Scheduled));
        making.state = RestorePointState::Creating;
        making.created_at = at("2026-12-03T04:00:00Z");
        RestorePointList {
            points: vec![making, manual, safety, sanoid, immich],
            drill: Some(DrillStatus {
                job_id: 7,
                point_id: "kp-20261203-0400".into(),
                finished_at: at("2026-12-03T03:10:00Z"),
                ok: true,
                detail: "12 tables, 48211 rows".into(),
                tables: Vec::new(),
                next_due: Some(at("2026-12-10T03:00:00Z")),
            }),
            undo_reset: Some(UndoReset {
                point_id: "kp-20261201-1200".into(),
                reset_at: at("2026-12-01T11:00:00Z"),
                until: Some(at("2026-12-15T11:00:00Z")),
            }),
            warnings: vec!["cannot list Sanoid's snapshots of tank/db: dataset busy".into()],
        }
    }

    #[test]
    fn the_timeline_is_a_table_in_local_time_with_drill_and_undo_lines() {
        let lines = list_lines(&timeline(), &cet());
        let expected = [
            "ID                                                     WHEN              KIND                    SIZE     VERSIONS                PINNED  KEPT BECAUSE / EXPIRES            NOTE",
            "kp-20261203-0500                                       2026-12-03 05:00  scheduled (being made)  0 B      -                       -       -",
            "kp-20261203-0400                                       2026-12-03 04:00  manual                  3.0 GiB  immich v1.119.0, pg 15  yes     pinned, manual                    before tidying the albums",
            "kp-20261202-2300                                       2026-12-02 23:00  pre-update              1.5 KiB  -                       -       safety, expires 2026-12-16 23:00",
            "sanoid:tank/immich@autosnap_2026-12-02_00:00:01_daily  2026-12-02 01:00  sanoid snapshot         0 B      -                       -       sanoid's own retention",
            "immich:immich-db-backup-1733100000000.sql.gz           2026-12-01 03:00  immich dump             512 B    immich v1.118.2         -       immich's own retention",
            "",
            "warning: cannot list Sanoid's snapshots of tank/db: dataset busy",
            "last restore drill: ok at 2026-12-03 04:10 with kp-20261203-0400: 12 tables, 48211 rows; next due 2026-12-10 04:00",
            "Immich was reset at 2026-12-01 12:00: `keepsake reset-immich --undo` brings it back from kp-20261201-1200 until 2026-12-15 12:00",
        ];
        assert_eq!(lines, expected, "\n{}", lines.join("\n"));
    }

    #[test]
    fn an_empty_timeline_says_how_to_start_and_a_failed_drill_shouts() {
        let mut l = timeline();
        l.points.clear();
        l.warnings.clear();
        l.undo_reset = None;
        let drill = l.drill.as_mut().unwrap();
        drill.ok = false;
        drill.detail = "table assets is empty".into();
        drill.next_due = None;
        assert_eq!(
            list_lines(&l, &Utc),
            [
                "no restore points yet; `keepsake restore-point create` makes one",
                "",
                "last restore drill: FAILED at 2026-12-03 03:10 with kp-20261203-0400: table assets is empty",
            ]
        );
        l.drill = None;
        assert_eq!(list_lines(&l, &Utc)[2], "restore drill: none yet; `keepsake restore-point drill` runs one");
    }

    #[test]
    fn a_plan_shows_its_impact_warnings_and_what_happens_around_it() {
        let plan = RestorePlan {
            point_id: "kp-1".into(),
            scope: RestoreScope::Database,
            impact: vec!["Albums, people and users go back to 3 December.".into(), "Photo files stay.".into()],
            warnings: vec!["This point is from Immich v1.118.2; you run v1.119.0.".into()],
            makes_pre_restore_point: true,
            stops_immich: true,
            size: 2048,
            confirmation: "restore database".into(),
        };
        assert_eq!(
            plan_lines(&plan),
            [
                "Restore the database from kp-1 (2.0 KiB to read):",
                "  - Albums, people and users go back to 3 December.",
                "  - Photo files stay.",
                "warning: This point is from Immich v1.118.2; you run v1.119.0.",
                "A pre-restore point is made first, so this restore can be undone.",
                "Immich is stopped while the restore runs.",
            ]
        );
        let plan = RestorePlan {
            scope: RestoreScope::Files,
            impact: Vec::new(),
            warnings: Vec::new(),
            makes_pre_restore_point: false,
            stops_immich: false,
            ..plan
        };
        assert_eq!(
            plan_lines(&plan),
            [
                "Restore chosen files from kp-1 (2.0 KiB to read):",
                "No pre-restore point is made: this restore cannot be undone.",
            ]
        );
    }

    #[test]
    fn settings_read_as_sentences() {
        let mut s = RestorePointSettings {
            daily_at_hour: Some(3),
            retention: RetentionSettings {
                keep_last: 3,
                keep_hourly: 0,
                keep_daily: 7,
                keep_weekly: 4,
                keep_monthly: 12,
                keep_yearly: 2,
                safety_days: 14,
            },
            drill_every_days: Some(7),
        };
        assert_eq!(
            settings_lines(&s),
            [
                "scheduled points: every day at 03:00 (the box's local time)",
                "keep scheduled:   last 3, hourly 0, daily 7, weekly 4, monthly 12, yearly 2",
                "keep safety:      14 days (points made before an update, a restore or a reset)",
                "                  manual points stay until deleted; pinned points always stay",
                "restore drill:    every 7 days",
            ]
        );
        s.daily_at_hour = None;
        s.drill_every_days = Some(1);
        let lines = settings_lines(&s);
        assert_eq!(lines[0], "scheduled points: never");
        assert_eq!(lines[4], "restore drill:    every day");
        s.drill_every_days = None;
        assert_eq!(settings_lines(&s)[4], "restore drill:    never");
    }

    #[test]
    fn finished_jobs_say_what_they_did_and_how_to_undo_it() {
        let made =
            JobResult::RestorePointCreated(RestorePointReport { point_id: "kp-2".into(), size: 1536, pruned: vec![] });
        assert_eq!(result_lines(&made), ["restore point kp-2 made (1.5 KiB)"]);
        let made = JobResult::RestorePointCreated(RestorePointReport {
            point_id: "kp-2".into(),
            size: 0,
            pruned: vec!["kp-0".into(), "kp-1".into()],
        });
        assert_eq!(result_lines(&made)[1], "retention removed 2 older: kp-0, kp-1");

        let report = RestoreReport {
            point_id: "kp-1".into(),
            scope: RestoreScope::Instance,
            pre_point_id: "kp-3".into(),
            tables: vec![
                TableRows { table: "assets".into(), rows: 48000 },
                TableRows { table: "albums".into(), rows: 12 },
            ],
            files_written: 10,
            files_removed: 2,
            bytes_copied: 1024 * 1024,
        };
        assert_eq!(
            result_lines(&JobResult::Restored(report.clone())),
            [
                "restored Immich (database and library) from kp-1",
                "  assets  48000 rows",
                "  albums  12 rows",
                "10 files written, 2 removed, 1.0 MiB copied",
                "to undo: `keepsake restore-point restore kp-3 --scope instance`",
            ]
        );
        let db = RestoreReport { scope: RestoreScope::Database, tables: vec![], ..report.clone() };
        assert_eq!(
            result_lines(&JobResult::Restored(db)),
            ["restored the database from kp-1", "to undo: `keepsake restore-point restore kp-3 --scope database`",]
        );
        let files = RestoreReport { scope: RestoreScope::Files, tables: vec![], ..report.clone() };
        assert_eq!(
            result_lines(&JobResult::Restored(files))[2],
            "to undo: `keepsake restore-point restore kp-3 --scope files` with the same --path options"
        );
        assert_eq!(
            result_lines(&JobResult::Reset(report.clone())),
            ["Immich is empty now.", "to undo: `keepsake reset-immich --undo` (brings back point kp-3)",]
        );
        assert_eq!(
            result_lines(&JobResult::ResetUndone(report))[0],
            "reset undone: Immich is back as it was, from kp-1"
        );
        let drill = JobResult::Drilled(DrillReport {
            point_id: "kp-1".into(),
            tables: vec![TableRows { table: "users".into(), rows: 3 }],
            millis: 2500,
        });
        assert_eq!(
            result_lines(&drill),
            ["restore drill passed: kp-1 loaded into a throwaway database in 2.5 s", "  users  3 rows",]
        );
    }
}
