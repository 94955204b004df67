//! Persistence of jobs, their log lines, and what their work recorded for reconciliation.
//!
//! Every move to a terminal state goes through [`Store::finish_job`], which also puts a
//! `JobFinished` event in the outbox in the same transaction.

use keepsake_api::{Job, JobResult, JobState, LogLevel, LogLine, Progress};
use rusqlite::{OptionalExtension, Row, params};

use super::outbox::insert_event;
use super::{Result, Store, StoreError, now, parse_ts, ts};
use crate::events::Event;

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub kind: Option<String>,
    pub state: Option<JobState>,
    pub limit: u32,
}

/// A named safe point a job's work recorded, with whatever state it needs to be reconciled or
/// resumed from there (a snapshot name, a transient unit name...).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub name: String,
    pub data: serde_json::Value,
}

/// A job found `queued` or `running` when the agent started: what the dead process left.
#[derive(Debug, Clone)]
pub struct Unfinished {
    /// The row as last written (its progress at most ~1 s old).
    pub job: Job,
    /// The last checkpoint its work recorded, if any.
    pub checkpoint: Option<Checkpoint>,
}

const JOB_COLUMNS: &str = "id, kind, target, state, progress_done, progress_total, progress_unit, \
    progress_phase, requested_by, created_at, started_at, finished_at, cancel_requested, result, error, \
    point_of_no_return";

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Job>> {
    let state: String = r.get(3)?;
    let created: String = r.get(9)?;
    let started: Option<String> = r.get(10)?;
    let finished: Option<String> = r.get(11)?;
    let result: Option<String> = r.get(13)?;
    let build = || -> Result<Job> {
        Ok(Job {
            id: r.get(0)?,
            kind: r.get(1)?,
            target: r.get(2)?,
            state: JobState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("job state {state:?}")))?,
            progress: Progress {
                done: r.get::<_, i64>(4)? as u64,
                total: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
                unit: r.get(6)?,
                phase: r.get(7)?,
            },
            requested_by: r.get(8)?,
            created_at: parse_ts(&created)?,
            started_at: started.as_deref().map(parse_ts).transpose()?,
            finished_at: finished.as_deref().map(parse_ts).transpose()?,
            cancel_requested: r.get::<_, i64>(12)? != 0,
            result: result
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("job result: {e}")))?,
            error: r.get(14)?,
            point_of_no_return: r.get(15)?,
        })
    };
    Ok(build())
}

impl Store {
    /// Records a new queued job and returns it.
    pub fn insert_job(&self, kind: &str, target: Option<&str>, requested_by: &str) -> Result<Job> {
        let id = {
            let conn = self.lock();
            conn.execute(
                "INSERT INTO jobs (kind, target, state, requested_by, created_at) VALUES (?1, ?2, 'queued', ?3, ?4)",
                params![kind, target, requested_by, ts(now())],
            )?;
            conn.last_insert_rowid()
        };
        self.job(id)?.ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished after insert")))
    }

    pub fn job(&self, id: i64) -> Result<Option<Job>> {
        let conn = self.lock();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
        conn.query_row(&sql, [id], job_from_row).optional()?.transpose()
    }

    pub fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR state = ?2) \
             ORDER BY id DESC LIMIT ?3"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params![filter.kind, filter.state.map(JobState::as_str), filter.limit.max(1)], job_from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    pub fn mark_job_running(&self, id: i64) -> Result<()> {
        self.lock().execute(
            "UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?2) WHERE id = ?1 AND state = 'queued'",
            params![id, ts(now())],
        )?;
        Ok(())
    }

    pub fn set_job_progress(&self, id: i64, p: &Progress) -> Result<()> {
        self.lock().execute(
            "UPDATE jobs SET progress_done = ?2, progress_total = ?3, progress_unit = ?4, progress_phase = ?5 WHERE id = ?1",
            params![id, p.done as i64, p.total.map(|t| t as i64), p.unit, p.phase],
        )?;
        Ok(())
    }

    pub fn set_job_cancel_requested(&self, id: i64) -> Result<()> {
        self.lock()
            .execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state IN ('queued', 'running')", [id])?;
        Ok(())
    }

    /// Records the checkpoint a running job reached, replacing the previous one.
    pub fn set_job_checkpoint(&self, id: i64, name: &str, data: &serde_json::Value) -> Result<()> {
        self.lock().execute(
            "UPDATE jobs SET checkpoint = ?2, checkpoint_data = ?3 WHERE id = ?1",
            params![id, name, data.to_string()],
        )?;
        Ok(())
    }

    /// Records that a running job passed the point after which it cannot be cancelled.
    pub fn set_job_point_of_no_return(&self, id: i64, point: &str) -> Result<()> {
        self.lock().execute("UPDATE jobs SET point_of_no_return = ?2 WHERE id = ?1", params![id, point])?;
        Ok(())
    }

    /// Moves a job to a terminal state with its final progress (when given), and records a
    /// `JobFinished` event in the same transaction. A job already terminal is left as it is and no
    /// event is recorded; returns whether the job moved.
    pub fn finish_job(
        &self,
        id: i64,
        state: JobState,
        progress: Option<&Progress>,
        result: Option<&JobResult>,
        error: Option<&str>,
    ) -> Result<bool> {
        debug_assert!(state.is_terminal());
        let result = result
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("cannot encode job result: {e}")))?;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let kind: Option<String> = tx
            .query_row(
                "UPDATE jobs SET state = ?2, finished_at = ?3, result = ?4, error = ?5 \
                 WHERE id = ?1 AND state IN ('queued', 'running') RETURNING kind",
                params![id, state.as_str(), ts(now()), result, error],
                |r| r.get(0),
            )
            .optional()?;
        let Some(kind) = kind else { return Ok(false) };
        if let Some(p) = progress {
            tx.execute(
                "UPDATE jobs SET progress_done = ?2, progress_total = ?3, progress_unit = ?4, progress_phase = ?5 \
                 WHERE id = ?1",
                params![id, p.done as i64, p.total.map(|t| t as i64), p.unit, p.phase],
            )?;
        }
        let seq = insert_event(&tx, &Event::JobFinished { job_id: id, kind, outcome: state })?;
        tx.commit()?;
        drop(conn);
        self.outbox_advanced(seq);
        Ok(true)
    }

    /// Jobs a previous agent process left `queued` or `running`, oldest first, with what their work
    /// recorded.
    pub fn unfinished_jobs(&self) -> Result<Vec<Unfinished>> {
        let ids: Vec<(i64, Option<String>, Option<String>)> = {
            let conn = self.lock();
            let mut stmt = conn.prepare(
                "SELECT id, checkpoint, checkpoint_data FROM jobs WHERE state IN ('queued', 'running') ORDER BY id",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        for (id, name, data) in ids {
            let job = self.job(id)?.ok_or_else(|| StoreError::Corrupt(format!("job {id} vanished")))?;
            let checkpoint = match name {
                Some(name) => {
                    let data = data
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("job {id} checkpoint data: {e}")))?
                        .unwrap_or(serde_json::Value::Null);
                    Some(Checkpoint { name, data })
                }
                None => None,
            };
            out.push(Unfinished { job, checkpoint });
        }
        Ok(out)
    }

    /// Puts an interrupted job back in the queue to be resumed (its checkpoint is kept).
    pub fn requeue_job(&self, id: i64) -> Result<()> {
        self.lock().execute(
            "UPDATE jobs SET state = 'queued', cancel_requested = 0 WHERE id = ?1 AND state IN ('queued', 'running')",
            [id],
        )?;
        Ok(())
    }

    /// Appends a line to a job's log and returns it with its sequence number.
    pub fn append_job_log(&self, job_id: i64, level: LogLevel, message: &str) -> Result<LogLine> {
        let at = now();
        let conn = self.lock();
        let seq: i64 = conn.query_row(
            "INSERT INTO job_log (job_id, seq, at, level, message) \
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_log WHERE job_id = ?1), ?2, ?3, ?4) \
             RETURNING seq",
            params![job_id, ts(at), level_str(level), message],
            |r| r.get(0),
        )?;
        Ok(LogLine { job_id, seq, at, level, message: message.to_owned() })
    }

    pub fn job_log(&self, job_id: i64) -> Result<Vec<LogLine>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT seq, at, level, message FROM job_log WHERE job_id = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([job_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, level, message) = row?;
            let level = match level.as_str() {
                "info" => LogLevel::Info,
                "warn" => LogLevel::Warn,
                "error" => LogLevel::Error,
                other => return Err(StoreError::Corrupt(format!("log level {other:?}"))),
            };
            out.push(LogLine { job_id, seq, at: parse_ts(&at)?, level, message });
        }
        Ok(out)
    }
}

fn level_str(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use keepsake_api::{FacilityKind, FacilityState, SelfCheckReport};

    use super::*;

    fn report() -> JobResult {
        JobResult::SelfCheck(SelfCheckReport { checks: vec![], problems: 0 })
    }

    #[test]
    fn job_lifecycle_round_trips() {
        let s = Store::open_in_memory().unwrap();
        let j = s.insert_job("host.self_check", None, "root@console").unwrap();
        assert_eq!(j.state, JobState::Queued);
        s.mark_job_running(j.id).unwrap();
        let p = Progress { done: 2, total: Some(6), unit: "checks".into(), phase: "Checking ZFS".into() };
        s.set_job_progress(j.id, &p).unwrap();
        s.append_job_log(j.id, LogLevel::Info, "first").unwrap();
        let second = s.append_job_log(j.id, LogLevel::Warn, "second").unwrap();
        assert_eq!(second.seq, 2);
        s.set_job_point_of_no_return(j.id, "switching").unwrap();
        let last = Progress { done: 6, ..p.clone() };
        assert!(s.finish_job(j.id, JobState::Succeeded, Some(&last), Some(&report()), None).unwrap());
        let j = s.job(j.id).unwrap().unwrap();
        assert_eq!(j.state, JobState::Succeeded);
        assert_eq!(j.progress, last);
        assert!(j.started_at.is_some() && j.finished_at.is_some());
        assert_eq!(j.result, Some(report()));
        assert_eq!(j.point_of_no_return.as_deref(), Some("switching"));
        let log = s.job_log(j.id).unwrap();
        assert_eq!(log.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(), ["first", "second"]);
    }

    #[test]
    fn finishing_records_one_job_finished_event_and_a_finished_job_is_never_reopened() {
        let s = Store::open_in_memory().unwrap();
        s.register_outbox_consumer("t").unwrap();
        let j = s.insert_job("k", None, "t").unwrap();
        assert!(s.finish_job(j.id, JobState::Cancelled, None, None, Some("cancelled")).unwrap());
        assert!(!s.finish_job(j.id, JobState::Succeeded, None, None, None).unwrap());
        assert_eq!(s.job(j.id).unwrap().unwrap().state, JobState::Cancelled);
        let events: Vec<Event> = s.outbox_pending("t", 10).unwrap().into_iter().map(|d| d.event).collect();
        assert_eq!(events, vec![Event::JobFinished { job_id: j.id, kind: "k".into(), outcome: JobState::Cancelled }]);
    }

    #[test]
    fn unfinished_jobs_come_with_their_checkpoint_and_can_be_requeued() {
        let s = Store::open_in_memory().unwrap();
        let running = s.insert_job("k", None, "t").unwrap();
        s.mark_job_running(running.id).unwrap();
        s.set_job_checkpoint(running.id, "copied", &serde_json::json!({"files": 3})).unwrap();
        let queued = s.insert_job("k", None, "t").unwrap();
        let done = s.insert_job("k", None, "t").unwrap();
        s.finish_job(done.id, JobState::Succeeded, None, None, None).unwrap();
        let left = s.unfinished_jobs().unwrap();
        assert_eq!(left.iter().map(|u| u.job.id).collect::<Vec<_>>(), vec![running.id, queued.id]);
        assert_eq!(
            left[0].checkpoint,
            Some(Checkpoint { name: "copied".into(), data: serde_json::json!({"files": 3}) })
        );
        assert_eq!(left[1].checkpoint, None);
        s.requeue_job(running.id).unwrap();
        let r = s.job(running.id).unwrap().unwrap();
        assert_eq!(r.state, JobState::Queued);
        s.mark_job_running(running.id).unwrap();
        assert_eq!(s.job(running.id).unwrap().unwrap().started_at, r.started_at, "first start time kept");
    }

    #[test]
    fn results_written_before_they_were_tagged_read_back_as_self_check_reports() {
        // A database at schema 3 with a result as the previous agent wrote it.
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = rusqlite::Connection::open(dir.path().join("keepsake.db")).unwrap();
            for sql in &super::super::migrations::MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            let old = serde_json::json!({"checks": [{"kind": "zfs", "label": "ZFS", "state": "missing",
                "version": null, "detail": "x", "remedy": null}], "problems": 1});
            conn.execute(
                "INSERT INTO jobs (kind, state, requested_by, created_at, result) \
                 VALUES ('host.self_check', 'succeeded', 't', ?1, ?2)",
                params![ts(now()), old.to_string()],
            )
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let j = s.jobs(&JobFilter { limit: 1, ..Default::default() }).unwrap().remove(0);
        let Some(JobResult::SelfCheck(r)) = j.result else { panic!("{j:?}") };
        assert_eq!(r.problems, 1);
        assert_eq!(r.checks[0].kind, FacilityKind::Zfs);
        assert_eq!(r.checks[0].state, FacilityState::Missing);
        assert_eq!(j.point_of_no_return, None);
    }

    #[test]
    fn listing_filters_by_kind_and_state_newest_first() {
        let s = Store::open_in_memory().unwrap();
        let a = s.insert_job("a", None, "t").unwrap();
        let b = s.insert_job("b", None, "t").unwrap();
        let a2 = s.insert_job("a", None, "t").unwrap();
        s.finish_job(a2.id, JobState::Failed, None, None, Some("x")).unwrap();
        let all = s.jobs(&JobFilter { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(all.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a2.id, b.id, a.id]);
        let only_a = s.jobs(&JobFilter { kind: Some("a".into()), limit: 10, ..Default::default() }).unwrap();
        assert_eq!(only_a.len(), 2);
        let failed = s.jobs(&JobFilter { state: Some(JobState::Failed), limit: 10, ..Default::default() }).unwrap();
        assert_eq!(failed.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a2.id]);
        let one = s.jobs(&JobFilter { limit: 1, ..Default::default() }).unwrap();
        assert_eq!(one.len(), 1);
    }
}
