//! The audit log: who did what, to what, with what outcome, from where.
//!
//! Every mutating API request lands here (the API layer writes it, so no route can forget).
//! The identity issue extends this table with a hash chain; rows are only ever appended.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Result, Store, now, parse_ts, ts};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub source: String,
}

impl Store {
    pub fn append_audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        outcome: &str,
        source: &str,
    ) -> Result<i64> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, target, outcome, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![ts(now()), actor, action, target, outcome, source],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The newest `limit` entries, newest first.
    pub fn audit_entries(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, at, actor, action, target, outcome, source FROM audit_log ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at, actor, action, target, outcome, source) = row?;
            out.push(AuditEntry { id, at: parse_ts(&at)?, actor, action, target, outcome, source });
        }
        Ok(out)
    }
}
