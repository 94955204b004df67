//! Earlier versions: which the box ran, whether it can go back to one (its images still local, a
//! restore point made while it ran), the manual rollback job, and pruning the images of versions
//! too old to keep.
//!
//! A rollback is an update in reverse with one difference: the database must go back too (Immich
//! has no down-migrations), so it loads the newest restore point of the target version. What was
//! added since is undone, which is why it needs a typed confirmation and makes a point of now
//! first; its intent is the update's, so a failure or a kill brings back the version it left,
//! with the database from that point.

use std::sync::Arc;

use keepsake_api::{
    Job, JobResult, RestorePointKind, StackRollbackReport, StackRollbackRequest, StackVersion, StackVersions,
};
use keepsake_stack::Role;

use super::state::{PastVersion, StackState, UpdateIntent};
use super::update::{create_app, gate, remove_app, rollback};
use super::{Inner, StackError, state};
use crate::jobs::{JobContext, JobKind, Outcome};

/// The running version and this many before it keep their images.
pub const KEEP_VERSIONS: usize = 3;
/// What a rollback's confirmation must say.
pub const CONFIRM_ROLLBACK: &str = "roll back";

use super::job_failed as failed;

fn bare(v: &str) -> &str {
    v.strip_prefix('v').unwrap_or(v)
}

/// The newest of Keepsake's restore points made while `version` ran.
async fn point_of(inner: &Inner, version: &str) -> Result<Option<String>, StackError> {
    let Some(points) = &inner.points else { return Ok(None) };
    let list = points.list().await.map_err(|e| StackError::Refused(e.to_string()))?;
    Ok(list
        .points
        .into_iter()
        .find(|p| p.kind.is_some() && p.immich_version.as_deref().map(bare) == Some(bare(version)))
        .map(|p| p.id))
}

async fn images_local(inner: &Inner, st: &StackState, past: &PastVersion) -> Result<bool, StackError> {
    let pinned = StackState {
        version: Some(past.version.clone()),
        server_digest: past.server_digest.clone(),
        ml_digest: past.ml_digest.clone(),
        ..st.clone()
    };
    let spec = inner.spec(&pinned)?;
    for role in [Role::Server, Role::MachineLearning] {
        if let Some(s) = spec.service(role)
            && !inner.engine.image_present(&s.image.reference()).await?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn list(inner: &Inner) -> Result<StackVersions, StackError> {
    let st = state::load(&inner.store)?;
    let mut versions = Vec::new();
    if let Some(v) = &st.version {
        versions.push(StackVersion {
            version: v.clone(),
            until: None,
            images_local: true,
            restore_point: point_of(inner, v).await?,
            not_possible: Some("it is running now".into()),
        });
    }
    for past in &st.history {
        let local = images_local(inner, &st, past).await?;
        let point = point_of(inner, &past.version).await?;
        let not_possible = match (local, &point) {
            (false, _) => Some("its images are no longer on this box".to_owned()),
            (true, None) => Some("no restore point was made while it ran".to_owned()),
            (true, Some(_)) => None,
        };
        versions.push(StackVersion {
            version: past.version.clone(),
            until: Some(past.until),
            images_local: local,
            restore_point: point,
            not_possible,
        });
    }
    Ok(StackVersions { current: st.version, versions })
}

pub async fn submit(inner: &Arc<Inner>, r: &StackRollbackRequest, by: &str) -> Result<Job, StackError> {
    if r.confirm.trim() != CONFIRM_ROLLBACK {
        return Err(StackError::Refused(format!(
            "type `{CONFIRM_ROLLBACK}` to confirm: the database goes back to the restore point's, and what was added since is undone"
        )));
    }
    let st = state::load(&inner.store)?;
    if !st.installed {
        return Err(StackError::NotInstalled);
    }
    if st.update.is_some() {
        return Err(StackError::Busy("an update is still being finished; wait for it".into()));
    }
    let target: keepsake_stack::ImmichVersion = r.version.parse().map_err(|e| StackError::Refused(format!("{e}")))?;
    let target = target.to_string();
    let listed = list(inner).await?;
    let Some(v) = listed.versions.iter().find(|v| v.version == target) else {
        return Err(StackError::Refused(format!(
            "this box never ran {target}: it can only go back to a version it ran"
        )));
    };
    if let Some(why) = &v.not_possible {
        return Err(StackError::Refused(format!("cannot go back to {target}: {why}")));
    }
    let point = v.restore_point.clone().expect("possible means a point");
    let from = st.version.clone().expect("installed means a version");
    let inner = Arc::clone(inner);
    Ok(inner.jobs.clone().submit(
        JobKind::StackRollback { to: target.clone() },
        by,
        Box::new(move |ctx| Box::pin(async move { run(&inner, &ctx, from, target, point).await })),
    )?)
}

async fn run(inner: &Inner, ctx: &JobContext, from: String, to: String, point: String) -> Outcome {
    let points = inner.points.as_ref().ok_or_else(|| failed("restore points are not set up"))?;
    ctx.info(format!("rolling Immich back from {from} to {to}, with the database of {point}"));
    ctx.progress(0, None, "steps", "making a restore point of now");
    let note = Some(format!("before rolling Immich back from {from} to {to}"));
    let pre = points
        .make_point_in_job(ctx, RestorePointKind::PreRestore, note)
        .await
        .map_err(|e| failed(format!("could not make a restore point of now, so nothing was changed: {e}")))?;
    ctx.info(format!("restore point {pre} made: restoring it undoes this rollback"));

    let mut st = state::load(&inner.store).map_err(failed)?;
    let past =
        st.history.iter().find(|p| p.version == to).cloned().ok_or_else(|| failed(format!("{to} left the history")))?;
    st.update = Some(UpdateIntent {
        from: from.clone(),
        to: to.clone(),
        restore_point: pre.clone(),
        from_server_digest: st.server_digest.clone(),
        from_ml_digest: st.ml_digest.clone(),
        started_new: true,
    });
    state::save(&inner.store, &st).map_err(failed)?;
    ctx.point_of_no_return("replacing Immich and its database")?;

    let target = StackState {
        version: Some(to.clone()),
        server_digest: past.server_digest.clone(),
        ml_digest: past.ml_digest.clone(),
        ..st.clone()
    };
    let attempt = async {
        let spec = inner.spec_for(&to, target.machine_learning, &target).map_err(|e| e.to_string())?;
        remove_app(inner).await?;
        ctx.progress(0, None, "steps", "loading the database of the restore point");
        points.restore_database_in_job(ctx, &point).await.map_err(|e| e.to_string())?;
        create_app(inner, ctx, &spec).await?;
        gate(inner, ctx, &spec, &to).await
    }
    .await;
    match attempt {
        Ok(()) => {
            let mut done = StackState { update: None, ..target };
            done.history.retain(|p| p.version != to);
            done.history.insert(
                0,
                PastVersion {
                    version: from.clone(),
                    server_digest: st.server_digest.clone(),
                    ml_digest: st.ml_digest.clone(),
                    until: chrono::Utc::now(),
                },
            );
            state::save(&inner.store, &done).map_err(failed)?;
            ctx.info(format!("Immich {to} is back and healthy"));
            Ok(Some(JobResult::StackRolledBack(StackRollbackReport {
                from,
                to,
                restored_from: point,
                pre_rollback_point: pre,
            })))
        }
        Err(why) => {
            ctx.error(format!("going back to {to} failed: {why}; returning to {from}"));
            match rollback(inner, ctx).await {
                Ok(()) => {
                    Err(failed(format!("going back to {to} failed ({why}); Immich is on {from} again, as it was")))
                }
                Err(e) => Err(failed(format!(
                    "going back to {to} failed ({why}), and returning to {from} failed too ({e}). Restore point {pre} holds Immich as it was"
                ))),
            }
        }
    }
}

/// Records `past` as the version the box just left, and removes the images of versions beyond the
/// last [`KEEP_VERSIONS`] (an image still in use is kept; a failure is only logged).
pub async fn moved_on(inner: &Inner, st: &mut StackState, past: PastVersion) {
    st.history.retain(|p| p.version != past.version);
    st.history.insert(0, past);
    let old: Vec<PastVersion> = st.history.split_off(st.history.len().min(KEEP_VERSIONS - 1));
    for p in old {
        let pinned = StackState {
            version: Some(p.version.clone()),
            server_digest: p.server_digest.clone(),
            ml_digest: p.ml_digest.clone(),
            ..st.clone()
        };
        let Ok(spec) = inner.spec(&pinned) else { continue };
        for role in [Role::Server, Role::MachineLearning] {
            if let Some(s) = spec.service(role)
                && let Err(e) = inner.engine.remove_image(&s.image.reference()).await
            {
                tracing::warn!("cannot remove the old image {}: {e}", s.image.reference());
            }
        }
    }
}
