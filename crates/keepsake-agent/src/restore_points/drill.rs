//! The restore drill: proof that the newest dump can really be restored. It checks the dump's
//! hash, loads it into a throwaway database (in one transaction, stopping at the first error, as
//! a real restore does), checks every table got the rows the dump carries and that the key tables
//! (assets, users) are not empty, then drops the throwaway database. The result is recorded and
//! published, so the alert rule `restore.drill_failed` speaks on a failure and on recovery.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use keepsake_api::{DrillReport, JobResult, RestorePartKind, TableRows};

use super::create::fail;
use super::{Inner, RestoreError, database};
use crate::events::Event;
use crate::jobs::{JobContext, Outcome};
use crate::store::DrillRow;

/// Tables that must have rows in a real Immich database (names before and after Immich's move to
/// singular names in 1.137).
const KEY_TABLES: [&str; 4] = ["public.asset", "public.assets", "public.\"user\"", "public.users"];

pub async fn run(inner: &Arc<Inner>, ctx: &JobContext) -> Outcome {
    let started = Instant::now();
    let outcome = drill(inner, ctx).await;
    let (point_id, result) = match outcome {
        Ok((point, tables)) => (point, Ok(tables)),
        Err((point, e)) => (point, Err(e)),
    };
    let (ok, detail, tables) = match &result {
        Ok(t) => (
            true,
            format!(
                "the dump loaded into a throwaway database: {} tables, {} rows",
                t.len(),
                t.iter().map(|t| t.rows).sum::<u64>()
            ),
            t.clone(),
        ),
        Err(e) => (false, e.to_string(), Vec::new()),
    };
    if !matches!(&result, Err(RestoreError::Sync(super::sync::SyncError::Cancelled))) {
        let row = DrillRow {
            job_id: ctx.id(),
            point_id: point_id.clone(),
            finished_at: Utc::now(),
            ok,
            detail: detail.clone(),
            tables: tables.clone(),
        };
        if let Err(e) = inner.store.record_drill(&row) {
            ctx.warn(format!("could not record the drill's result: {e}"));
        }
        ctx.publish(&Event::RestoreDrillFinished { job_id: Some(ctx.id()), ok, error: (!ok).then(|| detail.clone()) });
    }
    let tables = result.map_err(|e| fail(ctx, e))?;
    ctx.info(detail);
    Ok(Some(JobResult::Drilled(DrillReport { point_id, tables, millis: started.elapsed().as_millis() as u64 })))
}

async fn drill(inner: &Arc<Inner>, ctx: &JobContext) -> Result<(String, Vec<TableRows>), (String, RestoreError)> {
    let point = inner
        .store
        .points()
        .map_err(|e| (String::new(), e.into()))?
        .into_iter()
        .find(|p| p.complete && p.parts.iter().any(|x| x.kind == RestorePartKind::Database))
        .ok_or_else(|| {
            (
                String::new(),
                RestoreError::Refused("there is no restore point with a database dump yet; make one first".into()),
            )
        })?;
    let id = point.id.clone();
    let err = |e: RestoreError| (id.clone(), e);
    let dump = point.parts.iter().find(|x| x.kind == RestorePartKind::Database).expect("checked above");
    let path = inner.config.points_dir.join(&point.id).join(&dump.name);
    ctx.info(format!("drilling {} ({})", point.id, dump.name));
    ctx.progress(0, Some(dump.size), "bytes", "checking the dump");
    keepsake_dump::verify(&path, dump.size, &dump.checksum)
        .await
        .map_err(|e| err(RestoreError::Corrupt(format!("{}: {e}", dump.name))))?;
    let docker = inner.stack.docker().await.map_err(|e| err(e.into()))?;
    let db = inner.stack.database().clone();
    let scratch = format!("{}drill_{}", database::SCRATCH_PREFIX, ctx.id());
    database::create_database(&docker, &db, &scratch).await.map_err(|e| err(e.into()))?;
    let size = dump.size;
    let p = ctx.clone();
    let checked = async {
        let expected = database::load(&docker, &db, &scratch, &path, move |n| {
            p.progress(n, Some(size), "bytes", "loading the dump")
        })
        .await?;
        let tables: Vec<String> = expected.keys().cloned().collect();
        let found = database::count_rows(&docker, &db, &scratch, &tables).await?;
        database::check_counts(&expected, &found)?;
        Ok::<_, RestoreError>(found)
    }
    .await;
    // The throwaway database goes whatever happened.
    if let Err(e) = database::drop_database(&docker, &db, &scratch).await {
        ctx.warn(format!("could not drop the throwaway database {scratch}: {e}; it is dropped at next start"));
    }
    let found = checked.map_err(err)?;
    let empty_keys: Vec<&str> = found
        .iter()
        .filter(|t| KEY_TABLES.contains(&t.table.as_str()) && t.rows == 0)
        .map(|t| t.table.as_str())
        .collect();
    if !empty_keys.is_empty() {
        return Err(err(RestoreError::Refused(format!(
            "the dump loads, but {} has no rows: the dump holds an empty Immich",
            empty_keys.join(" and ")
        ))));
    }
    if found.iter().all(|t| t.rows == 0) {
        return Err(err(RestoreError::Refused("the dump loads, but every table is empty".into())));
    }
    let mut shown = found;
    shown.sort_by(|a, b| b.rows.cmp(&a.rows).then(a.table.cmp(&b.table)));
    shown.truncate(20);
    Ok((id, shown))
}
