//! The audit log: who did what, to what, with what outcome, from where.
//!
//! Append-only, with a hash chain: each row's `hash` covers its own fields and the previous row's
//! hash, so editing or deleting any row breaks the chain at that row. Two markers in `settings`
//! close the ends: `audit.anchor` (where the chain starts after retention pruned old rows) and
//! `audit.head` (the last row written), so cutting rows off either end is detected too. A trigger
//! refuses UPDATEs, so a mistake cannot edit history; someone who drops it is caught by `verify`.
//!
//! Root can still rewrite the whole chain and recompute every hash. What stops that is a witness
//! outside the box: the head ([`Store::audit_head`]) is published where root cannot reach it later,
//! and [`Store::verify_audit_to`] checks that the chain still passes through a published head.
//! Verification walks the log in chunks, releasing the store between them, up to the head read
//! when it started. Fields are cut to `keepsake_api::limits::AUDIT_*` before they are stored.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use super::outbox::insert_event;
use super::{Result, Store, StoreError, now, parse_ts, ts};
use crate::events::Event;

/// Rows come back as the wire type: the store and the API agree on what an audit entry is.
pub use keepsake_api::AuditEntry;

/// A row to append.
#[derive(Debug, Clone, Default)]
pub struct NewAudit<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub outcome: &'a str,
    pub source: &'a str,
    pub detail: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
}

/// The last row of the chain: what a witness outside the box records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditHead {
    pub id: i64,
    pub hash: String,
}

/// A row as verification reads it: id, timestamp text, fields, previous hash, hash.
type ChainRow = (i64, String, AuditEntry, String, String);

/// Rows read per lock while verifying: bounds how long other requests wait on the store.
const VERIFY_CHUNK: i64 = 500;

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditVerdict {
    pub ok: bool,
    pub checked: u64,
    /// The first row that does not fit the chain, and why.
    pub bad_row: Option<i64>,
    pub problem: Option<String>,
}

fn row_hash(prev: &str, e: &AuditEntry, at: &str) -> String {
    // The id is left out: the chain itself orders rows, and leaving it out lets a row be written
    // with its hash in one INSERT.
    let fields = serde_json::json!([prev, at, e.actor, e.action, e.target, e.outcome, e.source, e.detail]);
    hex(&Sha256::digest(fields.to_string().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const NO_UPDATE_TRIGGER: &str = "CREATE TRIGGER IF NOT EXISTS audit_log_append_only BEFORE UPDATE ON audit_log \
     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

/// Run once by migration 2: chains the rows written before the chain existed.
pub(super) fn seal_existing(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    type Raw = (i64, String, String, String, Option<String>, String, String, String);
    let rows: Vec<Raw> = {
        let mut stmt =
            tx.prepare("SELECT id, at, actor, action, target, outcome, source, detail FROM audit_log ORDER BY id")?;
        stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    let mut prev = String::new();
    for (id, at, actor, action, target, outcome, source, detail) in rows {
        let e = AuditEntry { id, at: Utc::now(), actor, action, target, outcome, source, detail };
        let h = row_hash(&prev, &e, &at);
        tx.execute("UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE id = ?1", params![id, prev, h])?;
        prev = h;
    }
    if let Some(last) = tx.query_row("SELECT MAX(id) FROM audit_log", [], |r| r.get::<_, Option<i64>>(0))? {
        set_marker(tx, "audit.head", last, &prev)?;
    }
    tx.execute_batch(NO_UPDATE_TRIGGER)?;
    Ok(())
}

fn set_marker(tx: &Transaction<'_>, key: &str, id: i64, hash: &str) -> rusqlite::Result<()> {
    let v = serde_json::json!({"id": id, "hash": hash}).to_string();
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, v],
    )?;
    Ok(())
}

fn marker(tx: &Transaction<'_>, key: &str) -> Result<Option<(i64, String)>> {
    let v: Option<String> =
        tx.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?;
    v.map(|v| {
        let j: serde_json::Value = serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))?;
        Ok((j["id"].as_i64().unwrap_or(0), j["hash"].as_str().unwrap_or("").to_owned()))
    })
    .transpose()
}

impl Store {
    /// Appends a row, chained to the previous one. Returns its id. A `security.*` action is also
    /// published on the event bus, in the same transaction.
    pub fn append_audit(&self, a: &NewAudit<'_>) -> Result<i64> {
        use keepsake_api::limits::{
            AUDIT_ACTOR_MAX, AUDIT_DETAIL_MAX, AUDIT_SOURCE_MAX, AUDIT_TARGET_MAX, AUDIT_WORD_MAX,
            truncate_for_record as cut,
        };
        // Callers may pass what a client claimed (a sign-in name of any length): bound it here, once.
        let (actor, action, outcome, source, detail) = (
            cut(a.actor, AUDIT_ACTOR_MAX),
            cut(a.action, AUDIT_WORD_MAX),
            cut(a.outcome, AUDIT_WORD_MAX),
            cut(a.source, AUDIT_SOURCE_MAX),
            cut(a.detail, AUDIT_DETAIL_MAX),
        );
        let target = a.target.map(|t| cut(t, AUDIT_TARGET_MAX));
        let a = &NewAudit {
            actor: &actor,
            action: &action,
            target: target.as_deref(),
            outcome: &outcome,
            source: &source,
            detail: &detail,
        };
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let prev: String = tx
            .query_row("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
            .optional()?
            .or_else(|| marker(&tx, "audit.anchor").ok().flatten().map(|(_, h)| h))
            .unwrap_or_default();
        let at = ts(now());
        let e = AuditEntry {
            id: 0,
            at: Utc::now(),
            actor: a.actor.to_owned(),
            action: a.action.to_owned(),
            target: a.target.map(str::to_owned),
            outcome: a.outcome.to_owned(),
            source: a.source.to_owned(),
            detail: a.detail.to_owned(),
        };
        let h = row_hash(&prev, &e, &at);
        tx.execute(
            "INSERT INTO audit_log (at, actor, action, target, outcome, source, detail, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![at, a.actor, a.action, a.target, a.outcome, a.source, a.detail, prev, h],
        )?;
        let id = tx.last_insert_rowid();
        set_marker(&tx, "audit.head", id, &h)?;
        let event = a.action.starts_with("security.").then(|| Event::Security {
            audit_id: id,
            action: a.action.to_owned(),
            actor: a.actor.to_owned(),
            target: a.target.map(str::to_owned),
            outcome: a.outcome.to_owned(),
            source: a.source.to_owned(),
        });
        let seq = event.map(|e| insert_event(&tx, &e)).transpose()?;
        tx.commit()?;
        drop(conn);
        if let Some(seq) = seq {
            self.outbox_advanced(seq);
        }
        Ok(id)
    }

    /// Entries matching `f`, newest first.
    pub fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, at, actor, action, target, outcome, source, detail FROM audit_log \
             WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action LIKE ?2 || '%') \
               AND (?3 IS NULL OR outcome LIKE ?3 || '%') AND (?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at <= ?5) \
             ORDER BY id DESC LIMIT ?6",
        )?;
        let rows = stmt
            .query_map(params![f.actor, f.action, f.outcome, f.since.map(ts), f.until.map(ts), f.limit.max(1)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, at, actor, action, target, outcome, source, detail)| {
                Ok(AuditEntry { id, at: parse_ts(&at)?, actor, action, target, outcome, source, detail })
            })
            .collect()
    }

    /// The chain's last row (`None` while the log is empty): the value to publish as a witness.
    pub fn audit_head(&self) -> Result<Option<AuditHead>> {
        Ok(self
            .lock()
            .query_row("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", [], |r| {
                Ok(AuditHead { id: r.get(0)?, hash: r.get(1)? })
            })
            .optional()?)
    }

    /// Walks the whole chain and names the first row that does not fit.
    pub fn verify_audit(&self) -> Result<AuditVerdict> {
        self.verify_audit_to(None)
    }

    /// Walks the chain, as it stood when the walk started, and names the first row that does not
    /// fit. With `expected_head` (the hash of a head published earlier), the chain must also pass
    /// through that row: a log cut back before it, or rewritten up to it with recomputed hashes,
    /// fails even though it is consistent in itself.
    pub fn verify_audit_to(&self, expected_head: Option<&str>) -> Result<AuditVerdict> {
        let expected = expected_head.map(|h| h.trim().to_ascii_lowercase());
        let (anchor, head, end_id) = {
            let mut conn = self.lock();
            let tx = conn.transaction()?;
            let anchor = marker(&tx, "audit.anchor")?;
            let head = marker(&tx, "audit.head")?;
            let end: Option<i64> = tx.query_row("SELECT MAX(id) FROM audit_log", [], |r| r.get(0))?;
            (anchor, head, end)
        };
        let bad = |id: i64, checked: u64, why: String| AuditVerdict {
            ok: false,
            checked,
            bad_row: Some(id),
            problem: Some(why),
        };
        let mut prev = anchor.as_ref().map(|(_, h)| h.clone()).unwrap_or_default();
        let mut witnessed = expected.as_deref().is_some_and(|e| !prev.is_empty() && prev == e);
        // Without an anchor the chain starts at row 1 (ids count up from 1 and are never reused).
        let mut expected_id = anchor.as_ref().map(|(id, _)| *id).unwrap_or(1);
        let mut checked = 0;
        let mut last: Option<(i64, String)> = None;
        let end_id = end_id.unwrap_or(0);
        while expected_id <= end_id {
            let rows = self.audit_chunk(expected_id - 1, end_id)?;
            if rows.is_empty() {
                break;
            }
            for (id, at, e, prev_hash, hash) in &rows {
                if *id != expected_id {
                    return Ok(bad(
                        expected_id,
                        checked,
                        format!("row {expected_id} is missing (the next row is {id})"),
                    ));
                }
                if *prev_hash != prev {
                    return Ok(bad(
                        *id,
                        checked,
                        format!("row {id} does not follow the row before it (a row was deleted or changed)"),
                    ));
                }
                if *hash != row_hash(prev_hash, e, at) {
                    return Ok(bad(*id, checked, format!("row {id} was edited: its contents do not match its hash")));
                }
                witnessed |= expected.as_deref() == Some(hash.as_str());
                prev = hash.clone();
                expected_id = id + 1;
                checked += 1;
                last = Some((*id, hash.clone()));
            }
        }
        match (head, &last) {
            // Both ends were read together before the walk; rows appended since are not walked.
            (Some((hid, hhash)), Some((lid, lhash))) if hid != *lid || hhash != *lhash => {
                return Ok(bad(hid, checked, format!("row {hid}, the last one written, is missing or changed")));
            }
            (Some((hid, _)), None) => {
                return Ok(bad(hid, checked, format!("the log is empty but row {hid} was written")));
            }
            _ => {}
        }
        if let Some(e) = expected
            && !witnessed
        {
            return Ok(AuditVerdict {
                ok: false,
                checked,
                bad_row: None,
                problem: Some(format!(
                    "the chain does not pass through the published head {e}: the log was cut back or rewritten since it was published (or the head is older than the retained log)"
                )),
            });
        }
        Ok(AuditVerdict { ok: true, checked, bad_row: None, problem: None })
    }

    /// Up to [`VERIFY_CHUNK`] rows after `after` (and at most `end`), holding the store only for
    /// this read.
    fn audit_chunk(&self, after: i64, end: i64) -> Result<Vec<ChainRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, at, actor, action, target, outcome, source, detail, prev_hash, hash FROM audit_log \
             WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
        )?;
        Ok(stmt
            .query_map(params![after, end, VERIFY_CHUNK], |r| {
                let at: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    at,
                    AuditEntry {
                        id: r.get(0)?,
                        at: Utc::now(),
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        target: r.get(4)?,
                        outcome: r.get(5)?,
                        source: r.get(6)?,
                        detail: r.get(7)?,
                    },
                    r.get(8)?,
                    r.get(9)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes rows older than `cutoff` and moves the chain's anchor to the first row kept.
    pub fn prune_audit(&self, cutoff: DateTime<Utc>) -> Result<usize> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let first_kept: Option<(i64, String)> = tx
            .query_row("SELECT id, prev_hash FROM audit_log WHERE at >= ?1 ORDER BY id LIMIT 1", [ts(cutoff)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let n = match &first_kept {
            Some((id, prev)) => {
                let n = tx.execute("DELETE FROM audit_log WHERE id < ?1", [id])?;
                if n > 0 {
                    set_marker(&tx, "audit.anchor", *id, prev)?;
                }
                n
            }
            // Everything is older than the cutoff: keep the newest row so the chain has a head.
            None => {
                let last: Option<(i64, String)> = tx
                    .query_row("SELECT id, prev_hash FROM audit_log ORDER BY id DESC LIMIT 1", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                match last {
                    Some((id, prev)) => {
                        let n = tx.execute("DELETE FROM audit_log WHERE id < ?1", [id])?;
                        if n > 0 {
                            set_marker(&tx, "audit.anchor", id, &prev)?;
                        }
                        n
                    }
                    None => 0,
                }
            }
        };
        tx.commit()?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &Store, action: &str) -> i64 {
        s.append_audit(&NewAudit { actor: "alice", action, outcome: "ok", source: "test", ..Default::default() })
            .unwrap()
    }

    #[test]
    fn a_clean_chain_verifies() {
        let s = Store::open_in_memory().unwrap();
        for a in ["a", "b", "c"] {
            add(&s, a);
        }
        let v = s.verify_audit().unwrap();
        assert!(v.ok, "{v:?}");
        assert_eq!(v.checked, 3);
    }

    #[test]
    fn updates_are_refused_by_the_trigger() {
        let s = Store::open_in_memory().unwrap();
        add(&s, "a");
        let err = s.lock().execute("UPDATE audit_log SET actor = 'mallory'", []).unwrap_err();
        assert!(err.to_string().contains("append-only"));
    }

    #[test]
    fn an_edited_row_is_named() {
        let s = Store::open_in_memory().unwrap();
        let ids: Vec<i64> = ["a", "b", "c"].iter().map(|a| add(&s, a)).collect();
        let conn = s.lock();
        conn.execute_batch("DROP TRIGGER audit_log_append_only").unwrap();
        conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE id = ?1", [ids[1]]).unwrap();
        drop(conn);
        let v = s.verify_audit().unwrap();
        assert_eq!(v.bad_row, Some(ids[1]), "{v:?}");
        assert!(v.problem.unwrap().contains("edited"));
    }

    #[test]
    fn deleted_rows_in_the_middle_or_at_either_end_are_detected() {
        for victim in 0..3 {
            let s = Store::open_in_memory().unwrap();
            let ids: Vec<i64> = ["a", "b", "c"].iter().map(|a| add(&s, a)).collect();
            s.lock().execute("DELETE FROM audit_log WHERE id = ?1", [ids[victim]]).unwrap();
            let v = s.verify_audit().unwrap();
            assert!(!v.ok, "deleting row {} went unnoticed", ids[victim]);
            assert_eq!(v.bad_row, Some(ids[victim]), "{v:?}");
        }
    }

    #[test]
    fn pruning_keeps_the_chain_verifiable() {
        let s = Store::open_in_memory().unwrap();
        for a in ["a", "b", "c"] {
            add(&s, a);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        let cutoff = Utc::now();
        add(&s, "d");
        assert_eq!(s.prune_audit(cutoff).unwrap(), 3);
        let v = s.verify_audit().unwrap();
        assert!(v.ok, "{v:?}");
        add(&s, "e");
        assert!(s.verify_audit().unwrap().ok);
        // Deleting the new first row is still caught, through the anchor.
        let first = s.audit_entries(&AuditFilter { limit: 10, ..Default::default() }).unwrap().last().unwrap().id;
        s.lock().execute("DELETE FROM audit_log WHERE id = ?1", [first]).unwrap();
        assert!(!s.verify_audit().unwrap().ok);
    }

    /// Rewrites the whole chain as root could: drops the trigger, applies `edit`, recomputes every
    /// hash and both markers.
    fn forge(s: &Store, edit: &str) {
        let mut conn = s.lock();
        conn.execute_batch("DROP TRIGGER audit_log_append_only").unwrap();
        conn.execute_batch(edit).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute("DELETE FROM settings WHERE key IN ('audit.head', 'audit.anchor')", []).unwrap();
        seal_existing(&tx).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn a_forged_chain_passes_alone_but_not_against_the_published_head() {
        for edit in [
            // Cut back before the published head.
            "DELETE FROM audit_log WHERE id >= 3",
            // Rewrite a row the published head covers.
            "UPDATE audit_log SET outcome = 'denied' WHERE id = 2",
        ] {
            let s = Store::open_in_memory().unwrap();
            for a in ["a", "b", "c"] {
                add(&s, a);
            }
            let head = s.audit_head().unwrap().unwrap();
            assert_eq!(head.id, 3);
            assert!(s.verify_audit_to(Some(&head.hash)).unwrap().ok);
            add(&s, "d");
            assert!(s.verify_audit_to(Some(&head.hash)).unwrap().ok, "later rows do not break the witness");
            forge(&s, edit);
            assert!(s.verify_audit().unwrap().ok, "{edit}: the forgery is consistent in itself");
            let v = s.verify_audit_to(Some(&head.hash)).unwrap();
            assert!(!v.ok, "{edit}: went unnoticed against the published head");
            assert!(v.problem.unwrap().contains("published head"));
        }
    }

    #[test]
    fn verification_walks_more_than_one_chunk_and_stops_at_the_head_it_started_with() {
        let s = Store::open_in_memory().unwrap();
        for i in 0..(VERIFY_CHUNK * 2 + 7) {
            add(&s, &format!("a{i}"));
        }
        let v = s.verify_audit().unwrap();
        assert!(v.ok, "{v:?}");
        assert_eq!(v.checked, (VERIFY_CHUNK * 2 + 7) as u64);
        let middle = VERIFY_CHUNK + 3;
        s.lock().execute("DELETE FROM audit_log WHERE id = ?1", [middle]).unwrap();
        assert_eq!(s.verify_audit().unwrap().bad_row, Some(middle));
    }

    #[test]
    fn oversized_fields_are_cut_before_they_are_stored() {
        let s = Store::open_in_memory().unwrap();
        let huge = "x".repeat(1 << 20);
        s.append_audit(&NewAudit {
            actor: &huge,
            action: "auth.login",
            target: Some(&huge),
            outcome: "denied",
            source: &huge,
            detail: &huge,
        })
        .unwrap();
        let e = &s.audit_entries(&AuditFilter { limit: 1, ..Default::default() }).unwrap()[0];
        let total = e.actor.len() + e.target.as_ref().unwrap().len() + e.source.len() + e.detail.len();
        assert!(total < 4096, "{total} bytes stored for one row");
        assert!(s.verify_audit().unwrap().ok);
    }

    #[test]
    fn security_actions_are_published_with_their_row_and_others_are_not() {
        let s = Store::open_in_memory().unwrap();
        s.register_outbox_consumer("t").unwrap();
        add(&s, "login.success");
        let id = s
            .append_audit(&NewAudit {
                actor: "bob",
                action: "security.login_backoff",
                target: Some("bob"),
                outcome: "locked",
                source: "web 192.0.2.1",
                ..Default::default()
            })
            .unwrap();
        let got: Vec<Event> = s.outbox_pending("t", 10).unwrap().into_iter().map(|d| d.event).collect();
        assert_eq!(
            got,
            vec![Event::Security {
                audit_id: id,
                action: "security.login_backoff".into(),
                actor: "bob".into(),
                target: Some("bob".into()),
                outcome: "locked".into(),
                source: "web 192.0.2.1".into(),
            }]
        );
    }

    #[test]
    fn filters_by_actor_action_and_outcome() {
        let s = Store::open_in_memory().unwrap();
        add(&s, "login.success");
        s.append_audit(&NewAudit {
            actor: "bob",
            action: "login.failure",
            outcome: "denied",
            source: "x",
            ..Default::default()
        })
        .unwrap();
        let f = |actor: Option<&str>, action: Option<&str>| AuditFilter {
            actor: actor.map(Into::into),
            action: action.map(Into::into),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(s.audit_entries(&f(Some("bob"), None)).unwrap().len(), 1);
        assert_eq!(s.audit_entries(&f(None, Some("login."))).unwrap().len(), 2);
        assert_eq!(s.audit_entries(&f(Some("alice"), Some("login.failure"))).unwrap().len(), 0);
    }
}
