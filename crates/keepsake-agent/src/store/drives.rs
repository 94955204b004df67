//! Persistence of backup drives: the enrolled drives (by filesystem UUID) with their settings and
//! the size and free space last seen, and the history of their backup and verification runs.
//! Enrolling and forgetting a drive publish their events in the same transaction, so the alert
//! engine's "no recent backup" clock starts and stops exactly with the row. What a backup does is
//! `crate::drives`'s business; this file only stores and fetches.

use chrono::{DateTime, Utc};
use keepsake_api::{BackupOutcome, BackupRun, DriveConfig, DriveTrigger};
use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store, Tx, now, parse_ts, ts};
use crate::events::Event;

/// An enrolled drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveRow {
    pub uuid: String,
    pub config: DriveConfig,
    pub enrolled_at: DateTime<Utc>,
    /// Capacity and free bytes as last seen (at the last run).
    pub size: Option<u64>,
    pub free: Option<u64>,
}

/// What a run did (the wire type, so the history can say it).
pub use keepsake_api::drives::DriveRunKind as RunKind;

/// One recorded run, with its row id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub id: i64,
    pub uuid: String,
    pub kind: RunKind,
    pub run: BackupRun,
}

pub fn trigger_str(t: DriveTrigger) -> &'static str {
    match t {
        DriveTrigger::PlugIn => "plug_in",
        DriveTrigger::Schedule => "schedule",
        DriveTrigger::Manual => "manual",
    }
}

fn parse_trigger(s: &str) -> DriveTrigger {
    match s {
        "plug_in" => DriveTrigger::PlugIn,
        "schedule" => DriveTrigger::Schedule,
        _ => DriveTrigger::Manual,
    }
}

pub fn outcome_str(o: BackupOutcome) -> &'static str {
    match o {
        BackupOutcome::Running => "running",
        BackupOutcome::Succeeded => "succeeded",
        BackupOutcome::Failed => "failed",
        BackupOutcome::Cancelled => "cancelled",
        BackupOutcome::Skipped => "skipped",
    }
}

fn parse_outcome(s: &str) -> BackupOutcome {
    match s {
        "running" => BackupOutcome::Running,
        "succeeded" => BackupOutcome::Succeeded,
        "cancelled" => BackupOutcome::Cancelled,
        "skipped" => BackupOutcome::Skipped,
        _ => BackupOutcome::Failed,
    }
}

const DRIVE_COLUMNS: &str =
    "uuid, name, trigger, schedule_hour, include_thumbs, include_encoded_video, enrolled_at, size, free";

type RawDrive = (DriveRow, String);

fn drive_row(r: &Row<'_>) -> rusqlite::Result<RawDrive> {
    let trigger: String = r.get(2)?;
    Ok((
        DriveRow {
            uuid: r.get(0)?,
            config: DriveConfig {
                name: r.get(1)?,
                trigger: parse_trigger(&trigger),
                schedule_hour: r.get::<_, Option<i64>>(3)?.map(|h| h.clamp(0, 23) as u8),
                include_thumbs: r.get(4)?,
                include_encoded_video: r.get(5)?,
            },
            enrolled_at: Utc::now(),
            size: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
            free: r.get::<_, Option<i64>>(8)?.map(|v| v as u64),
        },
        r.get(6)?,
    ))
}

fn finish_drive((mut d, enrolled): RawDrive) -> Result<DriveRow> {
    d.enrolled_at = parse_ts(&enrolled)?;
    Ok(d)
}

const RUN_COLUMNS: &str = "id, uuid, job_id, kind, started_at, finished_at, outcome, files_total, bytes_total, \
                           files_copied, bytes_copied, files_set_aside, files_verified, error";

type RawRun = (RunRow, String, Option<String>);

fn run_row(r: &Row<'_>) -> rusqlite::Result<RawRun> {
    let kind: String = r.get(3)?;
    let outcome: String = r.get(6)?;
    let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    Ok((
        RunRow {
            id: r.get(0)?,
            uuid: r.get(1)?,
            kind: if kind == "verify" { RunKind::Verify } else { RunKind::Backup },
            run: BackupRun {
                kind: if kind == "verify" { RunKind::Verify } else { RunKind::Backup },
                job_id: r.get(2)?,
                started_at: Utc::now(),
                finished_at: None,
                outcome: parse_outcome(&outcome),
                files_total: n(7)?,
                bytes_total: n(8)?,
                files_copied: n(9)?,
                bytes_copied: n(10)?,
                files_set_aside: n(11)?,
                files_verified: n(12)?,
                error: r.get(13)?,
            },
        },
        r.get(4)?,
        r.get(5)?,
    ))
}

fn finish_run((mut row, started, finished): RawRun) -> Result<RunRow> {
    row.run.started_at = parse_ts(&started)?;
    row.run.finished_at = finished.as_deref().map(parse_ts).transpose()?;
    Ok(row)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Tx<'_> {
    /// Enrolls a drive and starts its "no recent backup" clock (the event, in this transaction).
    /// Refused (a conflict) if it is enrolled already.
    pub fn insert_drive(&self, uuid: &str, c: &DriveConfig) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO drives (uuid, name, trigger, schedule_hour, include_thumbs, include_encoded_video, enrolled_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    uuid,
                    c.name,
                    trigger_str(c.trigger),
                    c.schedule_hour.map(i64::from),
                    c.include_thumbs,
                    c.include_encoded_video,
                    ts(now())
                ],
            )
            .map_err(super::on_constraint("drive.enrolled", || format!("the drive {uuid} is enrolled already")))?;
        self.publish_event(&Event::DriveEnrolled { drive: uuid.to_owned(), label: c.name.clone() })?;
        Ok(())
    }

    /// Changes a drive's settings; false when it is not enrolled.
    pub fn update_drive(&self, uuid: &str, c: &DriveConfig) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE drives SET name = ?2, trigger = ?3, schedule_hour = ?4, include_thumbs = ?5, \
             include_encoded_video = ?6 WHERE uuid = ?1",
            params![
                uuid,
                c.name,
                trigger_str(c.trigger),
                c.schedule_hour.map(i64::from),
                c.include_thumbs,
                c.include_encoded_video
            ],
        )? > 0)
    }

    /// Forgets a drive and its history (the files on the drive stay); its alerts resolve.
    pub fn delete_drive(&self, uuid: &str) -> Result<bool> {
        let n = self.conn.execute("DELETE FROM drives WHERE uuid = ?1", [uuid])?;
        if n > 0 {
            self.publish_event(&Event::DriveForgotten { drive: uuid.to_owned() })?;
        }
        Ok(n > 0)
    }

    pub fn drives(&self) -> Result<Vec<DriveRow>> {
        let mut stmt = self.conn.prepare(&format!("SELECT {DRIVE_COLUMNS} FROM drives ORDER BY enrolled_at, uuid"))?;
        let rows = stmt.query_map([], drive_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(finish_drive).collect()
    }

    pub fn drive(&self, uuid: &str) -> Result<Option<DriveRow>> {
        let row = self
            .conn
            .query_row(&format!("SELECT {DRIVE_COLUMNS} FROM drives WHERE uuid = ?1"), [uuid], drive_row)
            .optional()?;
        row.map(finish_drive).transpose()
    }

    pub fn set_drive_space(&self, uuid: &str, size: u64, free: u64) -> Result<()> {
        self.conn.execute("UPDATE drives SET size = ?2, free = ?3 WHERE uuid = ?1", params![uuid, i(size), i(free)])?;
        Ok(())
    }

    /// Records a run that starts now (`running`), or one that is over at once (`skipped`).
    pub fn insert_drive_run(
        &self,
        uuid: &str,
        job_id: Option<i64>,
        kind: RunKind,
        outcome: BackupOutcome,
        error: Option<&str>,
    ) -> Result<i64> {
        let at = ts(now());
        let finished = (outcome != BackupOutcome::Running).then(|| at.clone());
        self.conn
            .execute(
                "INSERT INTO drive_runs (uuid, job_id, kind, started_at, finished_at, outcome, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![uuid, job_id, kind.as_str(), at, finished, outcome_str(outcome), error],
            )
            .map_err(super::on_constraint("drive.unknown", || format!("the drive {uuid} is not enrolled")))?;
        // A history, not an archive: the last 500 runs of a drive are plenty.
        self.conn.execute(
            "DELETE FROM drive_runs WHERE uuid = ?1 AND id NOT IN \
             (SELECT id FROM drive_runs WHERE uuid = ?1 ORDER BY id DESC LIMIT 500)",
            [uuid],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a run with its outcome and counts.
    pub fn finish_drive_run(&self, id: i64, run: &BackupRun) -> Result<()> {
        self.conn.execute(
            "UPDATE drive_runs SET finished_at = ?2, outcome = ?3, files_total = ?4, bytes_total = ?5, \
             files_copied = ?6, bytes_copied = ?7, files_set_aside = ?8, files_verified = ?9, error = ?10 \
             WHERE id = ?1",
            params![
                id,
                ts(run.finished_at.unwrap_or_else(now)),
                outcome_str(run.outcome),
                i(run.files_total),
                i(run.bytes_total),
                i(run.files_copied),
                i(run.bytes_copied),
                i(run.files_set_aside),
                i(run.files_verified),
                run.error
            ],
        )?;
        Ok(())
    }

    /// A drive's runs, newest first (`kind`: only those).
    pub fn drive_runs(&self, uuid: &str, kind: Option<RunKind>, limit: u32) -> Result<Vec<RunRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM drive_runs WHERE uuid = ?1 AND (?2 IS NULL OR kind = ?2) \
             ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = stmt
            .query_map(params![uuid, kind.map(RunKind::as_str), limit.max(1)], run_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(finish_run).collect()
    }

    /// The newest run of `kind` with `outcome`.
    pub fn last_drive_run(&self, uuid: &str, kind: RunKind, outcome: Option<BackupOutcome>) -> Result<Option<RunRow>> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM drive_runs WHERE uuid = ?1 AND kind = ?2 \
                     AND (?3 IS NULL OR outcome = ?3) ORDER BY id DESC LIMIT 1"
                ),
                params![uuid, kind.as_str(), outcome.map(outcome_str)],
                run_row,
            )
            .optional()?;
        row.map(finish_run).transpose()
    }

    /// Runs left `running` by an agent that died: failed, with the reason.
    pub fn fail_running_drive_runs(&self, why: &str) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE drive_runs SET outcome = 'failed', finished_at = ?1, error = ?2 WHERE outcome = 'running'",
            params![ts(now()), why],
        )?)
    }
}

in_own_transaction! {
    fn insert_drive(&self, uuid: &str, c: &DriveConfig) -> ();
    fn update_drive(&self, uuid: &str, c: &DriveConfig) -> bool;
    fn delete_drive(&self, uuid: &str) -> bool;
    fn drives(&self) -> Vec<DriveRow>;
    fn drive(&self, uuid: &str) -> Option<DriveRow>;
    fn set_drive_space(&self, uuid: &str, size: u64, free: u64) -> ();
    fn insert_drive_run(&self, uuid: &str, job_id: Option<i64>, kind: RunKind, outcome: BackupOutcome, error: Option<&str>) -> i64;
    fn finish_drive_run(&self, id: i64, run: &BackupRun) -> ();
    fn drive_runs(&self, uuid: &str, kind: Option<RunKind>, limit: u32) -> Vec<RunRow>;
    fn last_drive_run(&self, uuid: &str, kind: RunKind, outcome: Option<BackupOutcome>) -> Option<RunRow>;
    fn fail_running_drive_runs(&self, why: &str) -> usize;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    fn cfg(name: &str) -> DriveConfig {
        DriveConfig {
            name: name.into(),
            trigger: DriveTrigger::PlugIn,
            schedule_hour: None,
            include_thumbs: true,
            include_encoded_video: false,
        }
    }

    #[test]
    fn a_drive_enrolls_once_and_its_runs_are_kept_newest_first() {
        let s = Store::open_in_memory().unwrap();
        s.insert_drive("1234-ABCD", &cfg("Blue")).unwrap();
        let err = s.insert_drive("1234-ABCD", &cfg("Blue")).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { code: "drive.enrolled", .. }), "{err:?}");
        let d = s.drive("1234-ABCD").unwrap().unwrap();
        assert_eq!(d.config, cfg("Blue"));
        let a = s.insert_drive_run("1234-ABCD", Some(3), RunKind::Backup, BackupOutcome::Running, None).unwrap();
        let mut run = s.drive_runs("1234-ABCD", None, 10).unwrap()[0].run.clone();
        assert_eq!(run.outcome, BackupOutcome::Running);
        run.outcome = BackupOutcome::Succeeded;
        run.files_copied = 5;
        run.finished_at = Some(Utc::now());
        s.finish_drive_run(a, &run).unwrap();
        s.insert_drive_run("1234-ABCD", None, RunKind::Backup, BackupOutcome::Skipped, Some("absent")).unwrap();
        let runs = s.drive_runs("1234-ABCD", Some(RunKind::Backup), 10).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].run.outcome, BackupOutcome::Skipped);
        assert!(runs[0].run.finished_at.is_some());
        let ok = s.last_drive_run("1234-ABCD", RunKind::Backup, Some(BackupOutcome::Succeeded)).unwrap().unwrap();
        assert_eq!(ok.run.files_copied, 5);
        assert!(s.delete_drive("1234-ABCD").unwrap());
        assert!(s.drive_runs("1234-ABCD", None, 10).unwrap().is_empty(), "history goes with the drive");
    }

    #[test]
    fn a_run_for_an_unknown_drive_is_refused() {
        let s = Store::open_in_memory().unwrap();
        let err = s.insert_drive_run("nope", None, RunKind::Backup, BackupOutcome::Skipped, None).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    }
}
