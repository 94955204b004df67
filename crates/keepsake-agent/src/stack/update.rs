//! Updating Immich as one transaction (the `stack.update` job), and finishing one the agent's death
//! interrupted (`stack.recover`).
//!
//! Phases: check the target (same version for server and machine learning by construction; no
//! downgrade; bridge versions and the v3 database image, `keepsake_stack::check_update`) before the
//! job starts; make a pre-update restore point; pull; write the update's intent into the stack
//! state; recreate server and machine learning from the new spec; health gate (containers healthy,
//! `/api/server/ping` answers, `/api/server/version` is the target) within the timeout. Success
//! moves the state to the new version and clears the intent in one write. Failure after the
//! containers changed rolls back: the server stopped, the pre-update dump loaded back (migrations
//! may have run), the old images recreated and gated the same way.
//!
//! The intent is the transaction's record: at start, an agent that finds one runs
//! `stack.recover`, which is the same rollback, so a kill in any phase ends on the old version
//! with its database, or (if the kill came after the intent was cleared) on the new one.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keepsake_api::{Job, JobResult, RestorePointKind, StackUpdateReport};
use keepsake_stack::{ImmichVersion, Role, StackSpec};

use super::install::{pull_missing, wait_healthy};
use super::state::{PastVersion, StackState, UpdateIntent};
use super::{Inner, StackError, probe, state};
use crate::jobs::{JobContext, JobFailure, JobKind, Outcome};

use super::job_failed as failed;

pub fn submit(inner: &Arc<Inner>, to: &str, by: &str) -> Result<Job, StackError> {
    let st = state::load(&inner.store)?;
    if !st.installed {
        return Err(StackError::NotInstalled);
    }
    if let Some(u) = &st.update {
        return Err(StackError::Busy(format!("an update to {} is still being finished; wait for it", u.to)));
    }
    let to: ImmichVersion = to.parse().map_err(|e| StackError::Refused(format!("{e}")))?;
    let from: ImmichVersion = st
        .version
        .as_deref()
        .unwrap_or(&inner.config.default_version)
        .parse()
        .map_err(|e| StackError::Spec(format!("{e}")))?;
    let spec = inner.spec_for(&to.to_string(), st.machine_learning, &StackState { version: None, ..st.clone() })?;
    let db_image = &spec.service(Role::Database).expect("the stack has a database").image;
    keepsake_stack::check_update(Some(&from), &to, db_image).map_err(|e| StackError::Refused(e.to_string()))?;
    if inner.points.is_none() {
        return Err(StackError::Refused(
            "restore points are not set up on this box (no ZFS root): an update could not be undone, so it is refused"
                .into(),
        ));
    }
    let inner = Arc::clone(inner);
    let (from, to) = (from.to_string(), to.to_string());
    Ok(inner.jobs.clone().submit(
        JobKind::StackUpdate { to: to.clone() },
        by,
        Box::new(move |ctx| Box::pin(async move { run(&inner, &ctx, from, to).await })),
    )?)
}

/// The spec of `version` with the pins in `st` (only used when `st.version` is that version).
fn spec_at(inner: &Inner, st: &StackState, version: &str) -> Result<StackSpec, JobFailure> {
    inner.spec_for(version, st.machine_learning, st).map_err(failed)
}

async fn run(inner: &Inner, ctx: &JobContext, from: String, to: String) -> Outcome {
    let points = inner.points.as_ref().ok_or_else(|| failed("restore points are not set up"))?;
    ctx.info(format!("updating Immich from {from} to {to}"));
    ctx.progress(0, None, "steps", "making a pre-update restore point");
    let note = Some(format!("before updating Immich from {from} to {to}"));
    let point = points
        .make_point_in_job(ctx, RestorePointKind::PreUpdate, note)
        .await
        .map_err(|e| failed(format!("could not make the pre-update restore point, so nothing was changed: {e}")))?;
    ctx.info(format!("pre-update restore point {point} made"));
    ctx.checkpoint("pre-update point", &serde_json::json!({ "point": point }))?;

    let mut st = state::load(&inner.store).map_err(failed)?;
    let new = StackState { version: Some(to.clone()), server_digest: None, ml_digest: None, ..st.clone() };
    let spec = spec_at(inner, &new, &to)?;
    let pulled = pull_missing(inner, ctx, &spec).await?;
    let spec_ref = &spec;
    let digest = |role: Role| async move {
        match spec_ref.service(role) {
            Some(s) => inner.engine.image_digest(&s.image.tagged()).await.map_err(failed),
            None => Ok(None),
        }
    };
    let new = StackState {
        server_digest: digest(Role::Server).await?,
        ml_digest: digest(Role::MachineLearning).await?,
        ..new
    };
    let spec = spec_at(inner, &new, &to)?;
    ctx.checkpoint("pulled", &serde_json::json!({ "pulled": pulled }))?;

    // From here on the intent is on record: whatever happens, the stack is brought back to `from`
    // unless the new version is proven healthy.
    let intent = UpdateIntent {
        from: from.clone(),
        to: to.clone(),
        restore_point: point.clone(),
        from_server_digest: st.server_digest.clone(),
        from_ml_digest: st.ml_digest.clone(),
        started_new: false,
    };
    st.update = Some(intent.clone());
    state::save(&inner.store, &st).map_err(failed)?;
    ctx.point_of_no_return("replacing Immich's containers")?;

    let started = Instant::now();
    let attempt = async {
        replace_app(inner, ctx, &spec, &mut st).await?;
        gate(inner, ctx, &spec, &to).await
    }
    .await;
    match attempt {
        Ok(()) => {
            let healthy_after_secs = started.elapsed().as_secs();
            let mut done = StackState { update: None, ..new };
            let past = PastVersion {
                version: from.clone(),
                server_digest: st.server_digest.clone(),
                ml_digest: st.ml_digest.clone(),
                until: chrono::Utc::now(),
            };
            super::versions::moved_on(inner, &mut done, past).await;
            state::save(&inner.store, &done).map_err(failed)?;
            ctx.info(format!("Immich {to} is healthy ({healthy_after_secs} s); the update is done"));
            Ok(Some(JobResult::StackUpdated(StackUpdateReport {
                from,
                to,
                restore_point: point,
                pulled,
                healthy_after_secs,
            })))
        }
        Err(why) => {
            ctx.error(format!("the update to {to} failed: {why}; rolling back to {from}"));
            match rollback(inner, ctx).await {
                Ok(()) => Err(failed(format!(
                    "the update to {to} failed ({why}). Immich is back on {from}, with its database as it was before the update (restore point {point})"
                ))),
                Err(e) => Err(failed(format!(
                    "the update to {to} failed ({why}), and rolling back to {from} failed too ({e}). Restore point {point} holds Immich as it was: restore it from the restore points page"
                ))),
            }
        }
    }
}

/// Replaces the server and machine learning with `spec`'s (the database and Valkey stay).
async fn replace_app(inner: &Inner, ctx: &JobContext, spec: &StackSpec, st: &mut StackState) -> Result<(), String> {
    ctx.progress(0, None, "steps", "creating Immich's containers");
    remove_app(inner).await?;
    if let Some(u) = st.update.as_mut()
        && !u.started_new
    {
        // Before the new server can touch the database: a rollback must load the dump.
        u.started_new = true;
        state::save(&inner.store, st).map_err(|e| e.to_string())?;
    }
    create_app(inner, ctx, spec).await
}

/// Stops and removes the server and machine learning: what an update, a rollback and its undoing
/// replace (the database and Valkey stay).
pub(super) async fn remove_app(inner: &Inner) -> Result<(), String> {
    for role in [Role::Server, Role::MachineLearning] {
        let name = keepsake_stack::container_name(&inner.config.container_prefix, role);
        inner.engine.stop(&name, inner.config.stop_grace).await.map_err(|e| e.to_string())?;
        inner.engine.remove(&name).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Creates and starts machine learning, then the server, from `spec`.
pub(super) async fn create_app(inner: &Inner, ctx: &JobContext, spec: &StackSpec) -> Result<(), String> {
    for role in [Role::MachineLearning, Role::Server] {
        let Some(s) = spec.service(role) else { continue };
        ctx.info(format!("creating {} ({})", s.container, s.image.reference()));
        inner.engine.create(s).await.map_err(|e| e.to_string())?;
        inner.engine.start(&s.container).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Healthy to the engine, and the server itself answers as `version`, within the timeout.
pub(super) async fn gate(inner: &Inner, ctx: &JobContext, spec: &StackSpec, version: &str) -> Result<(), String> {
    let deadline = Instant::now() + inner.config.health_timeout;
    wait_healthy(inner, ctx, spec, &BTreeSet::new()).await.map_err(|e| e.to_string())?;
    loop {
        match probe::version(inner.config.ports.server).await {
            Ok(v) if v.to_string() == version => return Ok(()),
            Ok(v) => return Err(format!("the server answers as {v}, not {version}")),
            Err(e) if Instant::now() >= deadline => return Err(format!("the server does not answer: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Brings back the version before the update on record, with its database if the new server may
/// have started. Idempotent: run again after a kill, it ends the same way.
pub async fn rollback(inner: &Inner, ctx: &JobContext) -> Result<(), String> {
    let st = state::load(&inner.store).map_err(|e| e.to_string())?;
    let Some(u) = st.update.clone() else { return Ok(()) };
    let points = inner.points.as_ref().ok_or("restore points are not set up")?;
    remove_app(inner).await?;
    if u.started_new {
        ctx.info(format!("loading the database back from {} (the new version may have changed it)", u.restore_point));
        // The database container must be running to load into.
        let db = keepsake_stack::container_name(&inner.config.container_prefix, Role::Database);
        inner.engine.start(&db).await.map_err(|e| e.to_string())?;
        points.restore_database_in_job(ctx, &u.restore_point).await.map_err(|e| e.to_string())?;
    }
    let old = StackState {
        version: Some(u.from.clone()),
        server_digest: u.from_server_digest.clone(),
        ml_digest: u.from_ml_digest.clone(),
        update: None,
        ..st.clone()
    };
    let spec = inner.spec_for(&u.from, old.machine_learning, &old).map_err(|e| e.to_string())?;
    create_app(inner, ctx, &spec).await?;
    gate(inner, ctx, &spec, &u.from).await?;
    state::save(&inner.store, &old).map_err(|e| e.to_string())?;
    ctx.info(format!("Immich {} is back and healthy", u.from));
    Ok(())
}

/// At start: an update on record means the agent died during it; roll it back in a job.
pub fn recover_at_start(inner: &Arc<Inner>) -> Result<Option<Job>, StackError> {
    let st = state::load(&inner.store)?;
    let Some(u) = st.update else { return Ok(None) };
    tracing::warn!(from = %u.from, to = %u.to, "an update was interrupted; rolling back");
    let inner2 = Arc::clone(inner);
    Ok(Some(inner.jobs.clone().submit(
        JobKind::StackRecover,
        "keepsake",
        Box::new(move |ctx| {
            Box::pin(async move {
                ctx.info(format!(
                    "the agent stopped during the update from {} to {}; bringing back {}",
                    u.from, u.to, u.from
                ));
                rollback(&inner2, &ctx).await.map_err(failed)?;
                Ok(None)
            })
        }),
    )?))
}
