//! The agent's state: one SQLite database under the state directory.
//!
//! The store owns the schema (numbered migrations tracked in `PRAGMA user_version`) and every SQL
//! statement the agent runs; other modules call typed methods and never see SQL. The database is
//! opened in WAL mode with foreign keys on. Calls are short and synchronous behind a mutex: the agent
//! does little enough writing that a connection pool would only add moving parts.

mod audit;
mod identity;
mod jobs;
mod migrations;
mod outbox;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub use audit::{AuditEntry, AuditFilter, AuditVerdict, NewAudit};
pub use identity::{GroupRow, PasskeyRow, SessionRow, UserRow};
pub use jobs::{Checkpoint, JobFilter, Unfinished};
pub use outbox::Delivered;

/// Errors from the state database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the state database {path}: {source}. Check that the state directory exists and is writable by root"
    )]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("cannot migrate the state database to schema version {version}: {source}")]
    Migrate { version: usize, source: rusqlite::Error },
    #[error(
        "the state database has schema version {found}, newer than this agent knows ({known}); run the newer agent or restore a state backup"
    )]
    TooNew { found: usize, known: usize },
    #[error("state database query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("corrupt value in the state database: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The agent's database. Cheap to share behind an `Arc`.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The newest committed outbox sequence number, for waking event consumers.
    outbox_head: tokio::sync::watch::Sender<i64>,
}

impl Store {
    /// Opens (creating if needed) `keepsake.db` in `state_dir` and brings its schema up to date.
    pub fn open(state_dir: &Path) -> Result<Store> {
        let path = state_dir.join("keepsake.db");
        let conn = Connection::open(&path).map_err(|source| StoreError::Open { path: path.clone(), source })?;
        Self::setup(conn, path)
    }

    /// An in-memory database, for unit tests of code that needs a store.
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        Self::setup(conn, PathBuf::from(":memory:"))
    }

    fn setup(mut conn: Connection, path: PathBuf) -> Result<Store> {
        // WAL keeps readers (status, SSE snapshots) from waiting on job writes; NORMAL sync is
        // durable across an agent crash, which is the failure we design for.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::apply(&mut conn)?;
        let (outbox_head, _) = tokio::sync::watch::channel(outbox::head(&conn)?);
        Ok(Store { conn: Mutex::new(conn), path, outbox_head })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<usize> {
        let v: i64 = self.lock().pragma_query_value(None, "user_version", |r| r.get(0))?;
        Ok(v as usize)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are atomic),
        // so a poisoned mutex is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_with_wal_foreign_keys_and_latest_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conn = store.lock();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        drop(conn);
        assert_eq!(store.schema_version().unwrap(), migrations::MIGRATIONS.len());
    }

    #[test]
    fn reopening_does_not_reapply_migrations() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations::MIGRATIONS.len());
    }

    #[test]
    fn refuses_a_database_from_a_newer_agent() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("keepsake.db")).unwrap();
            conn.pragma_update(None, "user_version", 999).unwrap();
        }
        let err = Store::open(dir.path()).err().expect("must refuse");
        assert!(matches!(err, StoreError::TooNew { found: 999, .. }), "{err}");
    }
}
