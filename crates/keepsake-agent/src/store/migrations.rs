//! Numbered schema migrations. Append only: a released migration is never edited, because
//! appliances in the field have already run it. `PRAGMA user_version` holds how many have run.

use rusqlite::Connection;

use super::{Result, StoreError};

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: jobs, their log lines, and the audit log.
    r#"
    CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        kind             TEXT NOT NULL,
        target           TEXT,
        state            TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
        progress_done    INTEGER NOT NULL DEFAULT 0,
        progress_total   INTEGER,
        progress_unit    TEXT NOT NULL DEFAULT '',
        progress_phase   TEXT NOT NULL DEFAULT '',
        requested_by     TEXT NOT NULL,
        created_at       TEXT NOT NULL,
        started_at       TEXT,
        finished_at      TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        result           TEXT,
        error            TEXT
    );
    CREATE INDEX jobs_by_state ON jobs(state);
    CREATE INDEX jobs_by_kind ON jobs(kind, id);

    CREATE TABLE job_log (
        job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq     INTEGER NOT NULL,
        at      TEXT NOT NULL,
        level   TEXT NOT NULL CHECK (level IN ('info','warn','error')),
        message TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    );

    CREATE TABLE audit_log (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        at       TEXT NOT NULL,
        actor    TEXT NOT NULL,
        action   TEXT NOT NULL,
        target   TEXT,
        outcome  TEXT NOT NULL,
        source   TEXT NOT NULL
    );
    "#,
];

pub(super) fn apply(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = current as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::TooNew { found: current, known: MIGRATIONS.len() });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i + 1;
        // Each migration and its version bump commit together, so a crash mid-way leaves the
        // database at the previous version, never between two.
        let tx = conn.transaction().map_err(|source| StoreError::Migrate { version, source })?;
        tx.execute_batch(sql).map_err(|source| StoreError::Migrate { version, source })?;
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(|source| StoreError::Migrate { version, source })?;
        tx.commit().map_err(|source| StoreError::Migrate { version, source })?;
        tracing::info!(version, "applied state database migration");
    }
    Ok(())
}
