//! The agent's state: one SQLite database under the state directory.
//!
//! The store owns the schema (numbered migrations tracked in `PRAGMA user_version`) and every SQL
//! statement the agent runs; other modules call typed methods and never see SQL. The database is
//! opened in WAL mode with foreign keys on. Calls are short and synchronous behind a mutex: the agent
//! does little enough writing that a connection pool would only add moving parts.
//!
//! Multi-step writes run in one SQLite transaction through [`Store::transaction`]: the closure gets
//! a [`Tx`] with the same typed methods, and an error from it rolls everything back, so bad input
//! changes nothing. Every write that can change who a caller is or what they may do (accounts,
//! groups, sessions, second factors, settings) bumps [`Store::identity_epoch`] after it commits;
//! the identity cache in `auth` trusts an entry only while the epoch is unchanged.

/// Declares `Store` methods that each run one `Tx` method in a transaction of its own.
macro_rules! in_own_transaction {
    ($( $(#[$m:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$m])*
                pub fn $name(&self $(, $arg: $ty)*) -> Result<$ret> {
                    self.transaction(|t| t.$name($($arg),*))
                }
            )*
        }
    };
}

mod alerts;
mod audit;
mod drives;
mod identity;
mod jobs;
mod migrations;
mod outbox;
mod restore_points;
mod settings;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub use alerts::{AlertRow, ChannelRow, DeliveryState, HistoryRow, NotificationRow, ResetRow, RuleOverride};
pub use audit::{AuditEntry, AuditFilter, AuditHead, AuditVerdict, NewAudit};
pub use drives::{DriveRow, RunKind, RunRow};
pub use identity::{FailureRecord, GroupRow, PasskeyRow, SessionRow, UserRow};
pub use jobs::{Checkpoint, JobFilter, Unfinished};
pub use outbox::Delivered;
pub use restore_points::{DrillRow, InstanceResetRow, IntentRow, PointRow};

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
    /// The input clashes with what is stored (a taken name, a reference to something that does
    /// not exist). `code` is a stable dotted code such as `group.name_taken`.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
}

impl StoreError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Conflict { code, message: message.into() }
    }

    /// The stable code of a conflict; `internal` for every other store failure.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Conflict { code, .. } => code,
            _ => "internal",
        }
    }
}

/// Maps a constraint violation (UNIQUE, FOREIGN KEY, CHECK), which input caused, to a conflict
/// with `code`; any other SQLite error stays an internal failure.
pub(crate) fn on_constraint(
    code: &'static str,
    message: impl FnOnce() -> String,
) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict { code, message: message() }
        }
        e => e.into(),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The agent's database. Cheap to share behind an `Arc`.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The newest committed outbox sequence number, for waking event consumers.
    outbox_head: tokio::sync::watch::Sender<i64>,
    identity_epoch: AtomicU64,
}

/// The store inside one transaction (or, through the store's own one-statement methods, inside
/// none). Its methods are the store's; see [`Store::transaction`].
pub struct Tx<'c> {
    conn: &'c Connection,
    identity_changed: Cell<bool>,
    /// The newest outbox sequence number this transaction published, to wake consumers after it
    /// commits.
    published: Cell<i64>,
}

impl Tx<'_> {
    /// Notes that this transaction changed identity data, so the epoch moves when it commits.
    fn identity_changed(&self) {
        self.identity_changed.set(true);
    }
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
        Ok(Store { conn: Mutex::new(conn), path, outbox_head, identity_epoch: AtomicU64::new(0) })
    }

    /// Runs `f` in one transaction: committed if it returns `Ok`, rolled back if it returns `Err`
    /// (or panics). Keep `f` short and free of slow work (no password hashing): the store is
    /// locked while it runs. Inside `f`, use only the `Tx`: calling a `Store` method there would
    /// wait forever for the lock `f` already holds.
    pub fn transaction<T, E: From<StoreError>>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(StoreError::from)?;
        let t = Tx { conn: &tx, identity_changed: Cell::new(false), published: Cell::new(0) };
        let out = f(&t)?;
        let changed = t.identity_changed.get();
        let published = t.published.get();
        tx.commit().map_err(StoreError::from)?;
        if published > 0 {
            self.outbox_advanced(published);
        }
        if changed {
            // Bumped while still holding the lock, after the commit: a reader that saw the old
            // epoch either read the old rows (and its entry is now stale) or waits for the lock.
            self.identity_epoch.fetch_add(1, Ordering::SeqCst);
        }
        Ok(out)
    }

    /// A counter that moves after every committed write to accounts, groups, sessions, second
    /// factors or settings. Read it before reading identity data; a cached identity is current
    /// only while the counter still has the value read.
    pub fn identity_epoch(&self) -> u64 {
        self.identity_epoch.load(Ordering::SeqCst)
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
    fn a_failed_transaction_changes_nothing_and_moves_no_epoch() {
        let store = Store::open_in_memory().unwrap();
        let e0 = store.identity_epoch();
        let r: Result<()> = store.transaction(|tx| {
            tx.insert_user("bob", "Bob", "x", "viewer", false)?;
            tx.set_user_groups(1, &[42])
        });
        assert_eq!(r.unwrap_err().code(), "user.unknown_group");
        assert_eq!(store.user_count().unwrap(), 0, "the user outlived the rollback");
        assert_eq!(store.identity_epoch(), e0, "a rolled-back write moved the epoch");
        store.user_count().unwrap();
        assert_eq!(store.identity_epoch(), e0, "a read moved the epoch");
        store.insert_user("bob", "Bob", "x", "viewer", false).unwrap();
        assert!(store.identity_epoch() > e0, "a committed identity write did not move the epoch");
        let taken = store.insert_user("BOB", "Bob", "x", "viewer", false).unwrap_err();
        assert_eq!(taken.code(), "user.name_taken");
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
