//! Persistence of restore points: Keepsake's own points and their parts, restore drills, resets
//! that can be undone, and the intents of operations that stop Immich or swap its database (so a
//! restarted agent can put things back). What a point is and how it is made is
//! `crate::restore_points`'s business; this file only stores and fetches.

use chrono::{DateTime, Utc};
use keepsake_api::{RestorePart, RestorePointKind, TableRows};
use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store, Tx, now, parse_ts, ts};

/// One of Keepsake's own restore points.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRow {
    pub id: String,
    pub kind: RestorePointKind,
    /// False while it is being made.
    pub complete: bool,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub pinned: bool,
    pub immich_version: Option<String>,
    pub postgres_version: Option<String>,
    pub size: u64,
    pub parts: Vec<RestorePart>,
    pub job_id: Option<i64>,
}

/// A recorded restore drill.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillRow {
    pub job_id: i64,
    pub point_id: String,
    pub finished_at: DateTime<Utc>,
    pub ok: bool,
    pub detail: String,
    pub tables: Vec<TableRows>,
}

/// A reset, and whether it was undone.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceResetRow {
    pub job_id: i64,
    pub point_id: String,
    pub reset_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
}

/// An operation that stopped Immich or is swapping databases, and how far it got.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentRow {
    pub job_id: i64,
    pub what: String,
    pub state: String,
    pub started_at: DateTime<Utc>,
}

const POINT_COLUMNS: &str = "id, kind, state, created_at, completed_at, note, pinned, immich_version, \
                             postgres_version, size, parts, job_id";

fn point_row(r: &Row<'_>) -> rusqlite::Result<(PointRow, String, Option<String>, String)> {
    let kind: String = r.get(1)?;
    let parts: String = r.get(10)?;
    Ok((
        PointRow {
            id: r.get(0)?,
            kind: RestorePointKind::parse(&kind).unwrap_or(RestorePointKind::Manual),
            complete: r.get::<_, String>(2)? == "complete",
            created_at: Utc::now(),
            completed_at: None,
            note: r.get(5)?,
            pinned: r.get::<_, i64>(6)? != 0,
            immich_version: r.get(7)?,
            postgres_version: r.get(8)?,
            size: r.get::<_, i64>(9)? as u64,
            parts: serde_json::from_str(&parts).unwrap_or_default(),
            job_id: r.get(11)?,
        },
        r.get(3)?,
        r.get(4)?,
        kind,
    ))
}

fn finish_point((mut p, created, completed, _): (PointRow, String, Option<String>, String)) -> Result<PointRow> {
    p.created_at = parse_ts(&created)?;
    p.completed_at = completed.as_deref().map(parse_ts).transpose()?;
    Ok(p)
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

impl Tx<'_> {
    /// Records a point being made. Refused (a conflict) if the id is taken.
    pub fn insert_point(&self, id: &str, kind: RestorePointKind, note: Option<&str>, job_id: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO restore_points (id, kind, state, created_at, note, job_id) \
                 VALUES (?1, ?2, 'creating', ?3, ?4, ?5)",
                params![id, kind.as_str(), ts(now()), note, job_id],
            )
            .map_err(super::on_constraint("restore.point_exists", || {
                format!("a restore point named {id} already exists")
            }))?;
        Ok(())
    }

    /// Marks a point complete with everything its manifest lists.
    pub fn complete_point(
        &self,
        id: &str,
        immich_version: Option<&str>,
        postgres_version: Option<&str>,
        parts: &[RestorePart],
    ) -> Result<()> {
        let size: u64 = parts.iter().map(|p| p.size).sum();
        self.conn.execute(
            "UPDATE restore_points SET state = 'complete', completed_at = ?2, immich_version = ?3, \
             postgres_version = ?4, size = ?5, parts = ?6 WHERE id = ?1",
            params![id, ts(now()), immich_version, postgres_version, size as i64, json(&parts)],
        )?;
        Ok(())
    }

    pub fn points(&self) -> Result<Vec<PointRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {POINT_COLUMNS} FROM restore_points ORDER BY created_at DESC, id DESC"))?;
        let rows = stmt.query_map([], point_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(finish_point).collect()
    }

    pub fn point(&self, id: &str) -> Result<Option<PointRow>> {
        let row = self
            .conn
            .query_row(&format!("SELECT {POINT_COLUMNS} FROM restore_points WHERE id = ?1"), [id], point_row)
            .optional()?;
        row.map(finish_point).transpose()
    }

    pub fn set_point_pinned(&self, id: &str, pinned: bool) -> Result<bool> {
        Ok(self.conn.execute("UPDATE restore_points SET pinned = ?2 WHERE id = ?1", params![id, pinned])? > 0)
    }

    pub fn delete_point(&self, id: &str) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM restore_points WHERE id = ?1", [id])? > 0)
    }

    pub fn record_drill(&self, d: &DrillRow) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO restore_drills (job_id, point_id, finished_at, ok, detail, tables) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![d.job_id, d.point_id, ts(d.finished_at), d.ok, d.detail, json(&d.tables)],
        )?;
        // Drills are a health signal, not an archive: the last hundred are plenty.
        self.conn.execute(
            "DELETE FROM restore_drills WHERE job_id NOT IN \
             (SELECT job_id FROM restore_drills ORDER BY finished_at DESC LIMIT 100)",
            [],
        )?;
        Ok(())
    }

    pub fn last_drill(&self) -> Result<Option<DrillRow>> {
        let row = self
            .conn
            .query_row(
                "SELECT job_id, point_id, finished_at, ok, detail, tables FROM restore_drills \
                 ORDER BY finished_at DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(job_id, point_id, at, ok, detail, tables)| {
            Ok(DrillRow {
                job_id,
                point_id,
                finished_at: parse_ts(&at)?,
                ok,
                detail,
                tables: serde_json::from_str(&tables).unwrap_or_default(),
            })
        })
        .transpose()
    }

    pub fn record_reset(&self, job_id: i64, point_id: &str) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO instance_resets (job_id, point_id, reset_at) VALUES (?1, ?2, ?3)",
            params![job_id, point_id, ts(now())],
        )?;
        Ok(())
    }

    /// The newest reset, if it was not undone.
    pub fn open_reset(&self) -> Result<Option<InstanceResetRow>> {
        let row = self
            .conn
            .query_row(
                "SELECT job_id, point_id, reset_at, undone_at FROM instance_resets ORDER BY reset_at DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()?;
        match row {
            Some((job_id, point_id, at, None)) => {
                Ok(Some(InstanceResetRow { job_id, point_id, reset_at: parse_ts(&at)?, undone_at: None }))
            }
            _ => Ok(None),
        }
    }

    pub fn mark_reset_undone(&self, job_id: i64) -> Result<()> {
        self.conn.execute("UPDATE instance_resets SET undone_at = ?2 WHERE job_id = ?1", params![job_id, ts(now())])?;
        Ok(())
    }

    /// Records (or moves on) what an operation is doing that a restart must finish.
    pub fn set_intent(&self, job_id: i64, what: &str, state: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO restore_intents (job_id, what, state, started_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(job_id) DO UPDATE SET state = ?3",
            params![job_id, what, state, ts(now())],
        )?;
        Ok(())
    }

    pub fn clear_intent(&self, job_id: i64) -> Result<()> {
        self.conn.execute("DELETE FROM restore_intents WHERE job_id = ?1", [job_id])?;
        Ok(())
    }

    pub fn intents(&self) -> Result<Vec<IntentRow>> {
        let mut stmt =
            self.conn.prepare("SELECT job_id, what, state, started_at FROM restore_intents ORDER BY job_id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(job_id, what, state, at)| Ok(IntentRow { job_id, what, state, started_at: parse_ts(&at)? }))
            .collect()
    }
}

in_own_transaction! {
    fn insert_point(&self, id: &str, kind: RestorePointKind, note: Option<&str>, job_id: i64) -> ();
    fn complete_point(&self, id: &str, immich_version: Option<&str>, postgres_version: Option<&str>, parts: &[RestorePart]) -> ();
    fn points(&self) -> Vec<PointRow>;
    fn point(&self, id: &str) -> Option<PointRow>;
    fn set_point_pinned(&self, id: &str, pinned: bool) -> bool;
    fn delete_point(&self, id: &str) -> bool;
    fn record_drill(&self, d: &DrillRow) -> ();
    fn last_drill(&self) -> Option<DrillRow>;
    fn record_reset(&self, job_id: i64, point_id: &str) -> ();
    fn open_reset(&self) -> Option<InstanceResetRow>;
    fn mark_reset_undone(&self, job_id: i64) -> ();
    fn set_intent(&self, job_id: i64, what: &str, state: &str) -> ();
    fn clear_intent(&self, job_id: i64) -> ();
    fn intents(&self) -> Vec<IntentRow>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use keepsake_api::RestorePartKind;

    #[test]
    fn a_point_is_creating_until_completed_and_ids_are_unique() {
        let s = Store::open_in_memory().unwrap();
        s.insert_point("p1", RestorePointKind::Manual, Some("note"), 7).unwrap();
        let p = s.point("p1").unwrap().unwrap();
        assert!(!p.complete && p.note.as_deref() == Some("note") && p.job_id == Some(7));
        let err = s.insert_point("p1", RestorePointKind::Manual, None, 8).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { code: "restore.point_exists", .. }), "{err:?}");
        let parts = vec![
            RestorePart { kind: RestorePartKind::Database, name: "d.sql.zst".into(), size: 10, checksum: "ab".into() },
            RestorePart { kind: RestorePartKind::Snapshot, name: "t/l@p1".into(), size: 5, checksum: "1".into() },
        ];
        s.complete_point("p1", Some("1.136.0"), Some("15.4"), &parts).unwrap();
        let p = s.point("p1").unwrap().unwrap();
        assert!(p.complete && p.size == 15 && p.parts == parts && p.completed_at.is_some());
        assert!(s.set_point_pinned("p1", true).unwrap());
        assert!(s.point("p1").unwrap().unwrap().pinned);
        assert!(s.delete_point("p1").unwrap() && s.points().unwrap().is_empty());
    }

    #[test]
    fn resets_intents_and_drills() {
        let s = Store::open_in_memory().unwrap();
        assert!(s.open_reset().unwrap().is_none());
        s.record_reset(3, "pre").unwrap();
        assert_eq!(s.open_reset().unwrap().unwrap().point_id, "pre");
        s.mark_reset_undone(3).unwrap();
        assert!(s.open_reset().unwrap().is_none());
        s.set_intent(4, "restore", "server_stopped").unwrap();
        s.set_intent(4, "restore", "swapping").unwrap();
        assert_eq!(s.intents().unwrap()[0].state, "swapping");
        s.clear_intent(4).unwrap();
        assert!(s.intents().unwrap().is_empty());
        let d = DrillRow {
            job_id: 1,
            point_id: "p".into(),
            finished_at: now(),
            ok: true,
            detail: "ok".into(),
            tables: vec![TableRows { table: "asset".into(), rows: 3 }],
        };
        s.record_drill(&d).unwrap();
        assert_eq!(s.last_drill().unwrap().unwrap().tables, d.tables);
    }
}
