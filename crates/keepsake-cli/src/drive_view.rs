//! What `keepsake drive` prints, as lines: the drives with the age of their last backup, the
//! devices plugged in, a drive's history, a folder of its backup, the backup settings, and what a
//! finished drive job produced. Pure functions of the wire types, a time zone and "now", so the
//! tests pin down the exact text.

use std::fmt::Display;

use chrono::{DateTime, TimeZone, Utc};
use keepsake_api::{
    AttachedDevice, BackupHistory, BackupOutcome, BackupRun, BackupSettings, Drive, DriveActivity, DriveFileList,
    DriveList, DriveRestoreScope, DriveTrigger, JobResult, VerifyDepth,
};

use crate::drive_args::trigger_word;
use crate::restore_view::when;
use crate::term::{human_bytes, humanize_secs, table};

/// How long ago, for a person: `3h 5m ago`, `never`.
pub fn ago(t: Option<&DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        None => "never".to_owned(),
        Some(t) => format!("{} ago", humanize_secs(u64::try_from((now - *t).num_seconds()).unwrap_or(0))),
    }
}

fn activity_word(a: DriveActivity) -> &'static str {
    match a {
        DriveActivity::Absent => "absent",
        DriveActivity::Idle => "attached (safe to remove)",
        DriveActivity::BackingUp => "backing up",
        DriveActivity::Verifying => "verifying",
        DriveActivity::Restoring => "restoring",
    }
}

fn trigger_words(d: &Drive) -> String {
    match (d.trigger, d.schedule_hour) {
        (DriveTrigger::Schedule, Some(h)) => format!("daily {h:02}:00"),
        (t, _) => trigger_word(t).to_owned(),
    }
}

pub fn outcome_word(o: BackupOutcome) -> &'static str {
    match o {
        BackupOutcome::Running => "running",
        BackupOutcome::Succeeded => "succeeded",
        BackupOutcome::Failed => "failed",
        BackupOutcome::Cancelled => "cancelled",
        BackupOutcome::Skipped => "skipped",
    }
}

fn free_words(d: &Drive) -> String {
    match (d.free, d.size) {
        (Some(f), Some(s)) => format!("{} of {}", human_bytes(f), human_bytes(s)),
        _ => "-".to_owned(),
    }
}

fn check_words<Tz: TimeZone>(d: &Drive, tz: &Tz) -> String
where
    Tz::Offset: Display,
{
    match (&d.last_verified_at, d.last_verify_ok) {
        (None, _) => "never".to_owned(),
        (Some(t), Some(false)) => format!("{} PROBLEMS", when(t, tz)),
        (Some(t), _) => format!("{} ok", when(t, tz)),
    }
}

/// `keepsake drive list`: the enrolled drives, then the devices plugged in and not enrolled, then
/// warnings.
pub fn list_lines<Tz: TimeZone>(l: &DriveList, tz: &Tz, now: DateTime<Utc>) -> Vec<String>
where
    Tz::Offset: Display,
{
    let mut lines = if l.drives.is_empty() {
        vec![
            "no backup drives enrolled; plug one in and `keepsake drive enroll UUID --name … --trigger plug-in`"
                .to_owned(),
        ]
    } else {
        let rows: Vec<Vec<String>> = l
            .drives
            .iter()
            .map(|d| {
                let last = match &d.last_success_at {
                    Some(t) => format!("{} ({})", when(t, tz), ago(Some(t), now)),
                    None => "never".to_owned(),
                };
                let mut state = activity_word(d.activity).to_owned();
                if let Some(r) = d.last_run.as_ref().filter(|r| r.outcome == BackupOutcome::Failed) {
                    state.push_str(&format!("; last run failed: {}", r.error.as_deref().unwrap_or("no reason given")));
                }
                vec![d.uuid.clone(), d.name.clone(), trigger_words(d), last, free_words(d), check_words(d, tz), state]
            })
            .collect();
        table(&["UUID", "NAME", "TRIGGER", "LAST BACKUP", "FREE", "LAST CHECK", "STATE"], &rows)
    };
    let devices: Vec<&AttachedDevice> = l.attached.iter().filter(|d| !d.enrolled).collect();
    lines.push(String::new());
    if devices.is_empty() {
        lines.push("no other drives plugged in".to_owned());
    } else {
        lines.push("plugged in, not enrolled:".to_owned());
        let rows: Vec<Vec<String>> = devices.iter().map(|d| device_row(d)).collect();
        lines.extend(table(&["DEVICE", "UUID", "FS", "LABEL", "SIZE", "BUS", "NOTE"], &rows));
    }
    lines.extend(l.warnings.iter().map(|w| format!("warning: {w}")));
    lines
}

fn device_row(d: &AttachedDevice) -> Vec<String> {
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
    let note = if d.system {
        "part of the system: cannot be used".to_owned()
    } else if d.fs_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("exfat")) && d.fs_uuid.is_some() {
        "can be enrolled".to_owned()
    } else {
        "format to exFAT first (erases it)".to_owned()
    };
    vec![
        d.device.clone(),
        dash(&d.fs_uuid),
        dash(&d.fs_type),
        dash(&d.fs_label),
        human_bytes(d.size),
        dash(&d.bus),
        note,
    ]
}

fn run_words(r: &BackupRun) -> String {
    if r.outcome == BackupOutcome::Skipped {
        return r.error.clone().unwrap_or_else(|| "not plugged in at the scheduled time".to_owned());
    }
    let mut s = format!(
        "copied {} files ({}), holds {} files ({})",
        r.files_copied,
        human_bytes(r.bytes_copied),
        r.files_total,
        human_bytes(r.bytes_total)
    );
    if r.files_set_aside > 0 {
        s.push_str(&format!(", {} set aside", r.files_set_aside));
    }
    if r.files_verified > 0 {
        s.push_str(&format!(", {} verified", r.files_verified));
    }
    if let Some(e) = r.error.as_deref().filter(|_| r.outcome != BackupOutcome::Succeeded) {
        s.push_str(&format!(": {e}"));
    }
    s
}

/// `keepsake drive history UUID`.
pub fn history_lines<Tz: TimeZone>(h: &BackupHistory, tz: &Tz) -> Vec<String>
where
    Tz::Offset: Display,
{
    if h.runs.is_empty() {
        return vec![format!("no backups to {} yet", h.uuid)];
    }
    let rows: Vec<Vec<String>> = h
        .runs
        .iter()
        .map(|r| {
            let took = r
                .finished_at
                .map(|f| humanize_secs(u64::try_from((f - r.started_at).num_seconds()).unwrap_or(0)))
                .unwrap_or_else(|| "-".to_owned());
            vec![
                when(&r.started_at, tz),
                r.kind.as_str().to_owned(),
                outcome_word(r.outcome).to_owned(),
                took,
                r.job_id.map(|j| j.to_string()).unwrap_or_else(|| "-".to_owned()),
                run_words(r),
            ]
        })
        .collect();
    table(&["STARTED", "RUN", "OUTCOME", "TOOK", "JOB", "WHAT IT DID"], &rows)
}

/// `keepsake drive files UUID [PATH]`.
pub fn files_lines<Tz: TimeZone>(l: &DriveFileList, tz: &Tz) -> Vec<String>
where
    Tz::Offset: Display,
{
    let mut lines = vec![format!("{}:/{}", l.uuid, l.path)];
    if let Some(w) = &l.written_by {
        let last = l.last_run.as_ref().map(|t| format!(", last run {}", when(t, tz))).unwrap_or_default();
        lines.push(format!("written by {w}{last}"));
    }
    if l.entries.is_empty() {
        lines.push("(empty)".to_owned());
    } else {
        let rows: Vec<Vec<String>> = l
            .entries
            .iter()
            .map(|e| {
                let name = if e.dir { format!("{}/", e.name) } else { e.name.clone() };
                let files = if e.dir { e.files.to_string() } else { String::new() };
                vec![human_bytes(e.size), files, name]
            })
            .collect();
        lines.extend(table(&["SIZE", "FILES", "NAME"], &rows));
    }
    if l.truncated {
        lines.push(format!("(only the first {} entries)", l.entries.len()));
    }
    lines
}

/// `keepsake drive settings`.
pub fn settings_lines(s: &BackupSettings) -> Vec<String> {
    let check = match (s.verify_every_days, s.verify_depth) {
        (None, _) => "never".to_owned(),
        (Some(d), VerifyDepth::Full) => format!("every {d} days, every file"),
        (Some(d), VerifyDepth::Sample) => format!("every {d} days, {}% of the files", s.verify_sample_percent),
    };
    let lock = match (s.bundle_passphrase_set, &s.bundle_recipient) {
        (true, Some(r)) => format!("passphrase (set) and age key {r}"),
        (true, None) => "passphrase (set)".to_owned(),
        (false, Some(r)) => format!("age key {r}"),
        (false, None) => "NOT SET: `keepsake drive settings --set-passphrase`".to_owned(),
    };
    vec![
        format!("deleted files kept on the drives: {} days", s.keep_deleted_days),
        format!("read back after each backup:      {}", if s.verify_after_backup { "yes" } else { "no" }),
        format!("periodic check:                   {check}"),
        format!("configuration copy locked with:   {lock}"),
    ]
}

/// What a finished drive job produced; empty for other kinds.
pub fn result_lines(r: &JobResult) -> Vec<String> {
    match r {
        JobResult::BackedUp(b) => {
            let mut lines = vec![format!(
                "backup to {} ({}) {}: {}",
                b.name,
                b.uuid,
                outcome_word(b.run.outcome),
                run_words(&b.run)
            )];
            lines.push(format!("{} free on the drive", human_bytes(b.free)));
            if !b.skipped.is_empty() {
                lines.push(format!("not copied as they are ({}):", b.skipped.len()));
                lines.extend(b.skipped.iter().map(|s| format!("  {s}")));
            }
            if b.safe_to_remove {
                lines.push("safe to remove: the drive can be unplugged now".to_owned());
            }
            lines
        }
        JobResult::DriveVerified(v) => {
            let mut lines = vec![format!(
                "checked {} files ({}) on {}{}: {}",
                v.files_checked,
                human_bytes(v.bytes_checked),
                v.uuid,
                if v.full { ", every file" } else { ", a sample" },
                if v.problem_count == 0 { "all intact".to_owned() } else { format!("{} PROBLEMS", v.problem_count) }
            )];
            lines.extend(v.problems.iter().map(|p| format!("  {}: {}", p.path, p.problem)));
            lines
        }
        JobResult::DriveRestored(r) => {
            let what = match r.scope {
                DriveRestoreScope::Instance => "the whole instance",
                DriveRestoreScope::Files => "chosen files",
            };
            let mut lines = vec![format!(
                "restored {what} from {}: {} files ({}), {} already there",
                r.uuid,
                r.files_restored,
                human_bytes(r.bytes_restored),
                r.files_unchanged
            )];
            if let Some(d) = &r.dump {
                lines.push(format!("database loaded from {d}"));
            }
            if !r.conflicts.is_empty() {
                lines.push(format!(
                    "kept as they were ({}; the library's copy differs from the drive's):",
                    r.conflicts.len()
                ));
                lines.extend(r.conflicts.iter().map(|c| format!("  {c}")));
            }
            if let Some(p) = &r.pre_point_id {
                lines.push(format!("to undo: `keepsake restore-point restore {p} --scope instance`"));
            }
            lines
        }
        JobResult::DriveFormatted(f) => vec![format!(
            "{} formatted to exFAT: label {}, UUID {}{}",
            f.device,
            f.label,
            f.uuid,
            if f.enrolled { ", enrolled" } else { "" }
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[path = "drive_view_tests.rs"]
mod tests;
