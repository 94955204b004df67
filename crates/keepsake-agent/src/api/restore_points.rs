//! Handlers for restore points, restores, drills and the instance reset. Thin: the
//! `restore_points` module does the work; these check who may reset and name the audit target.

use std::sync::Arc;

use keepsake_api::{
    Done, Job, NoParams, ResetRequest, RestoreFileList, RestoreFilesQuery, RestorePlan, RestorePoint,
    RestorePointCreate, RestorePointKind, RestorePointList, RestorePointPin, RestorePointSettings, RestoreRequest,
};

use super::ApiError;
use super::contract::{Cx, NoBody, NoQuery};
use crate::Agent;
use crate::auth::{Identity, Role};

pub async fn list(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<RestorePointList, ApiError> {
    Ok(agent.restore_points.list().await?)
}

pub async fn create(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: RestorePointCreate) -> Result<Job, ApiError> {
    let job = agent.restore_points.submit_create(RestorePointKind::Manual, r.note.clone(), &cx.caller.actor())?;
    cx.note(|n| n.detail = r.note.map(|note| format!("note: {note}")));
    Ok(job)
}

pub async fn pin(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: RestorePointPin) -> Result<RestorePoint, ApiError> {
    let id = cx.param("id").to_owned();
    let point = agent.restore_points.set_pinned(&id, r.pinned).await?;
    cx.note(|n| {
        n.target = Some(format!("restore_point={id}"));
        n.detail = Some(if r.pinned { "pinned" } else { "unpinned" }.into());
    });
    Ok(point)
}

pub async fn delete(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    let id = cx.param("id").to_owned();
    cx.note(|n| n.target = Some(format!("restore_point={id}")));
    agent.restore_points.delete(&id).await?;
    Ok(Done::new(format!("restore point {id} deleted")))
}

pub async fn files(agent: Arc<Agent>, cx: Cx, q: RestoreFilesQuery, _: NoBody) -> Result<RestoreFileList, ApiError> {
    let id = cx.param("id").to_owned();
    Ok(agent.restore_points.files(&id, q.path.as_deref().unwrap_or("")).await?)
}

pub async fn plan(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: RestoreRequest) -> Result<RestorePlan, ApiError> {
    let id = cx.param("id").to_owned();
    cx.note(|n| n.target = Some(format!("restore_point={id}")));
    Ok(agent.restore_points.plan(&id, &r).await?)
}

pub async fn restore(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: RestoreRequest) -> Result<Job, ApiError> {
    let id = cx.param("id").to_owned();
    cx.note(|n| {
        n.target = Some(format!("restore_point={id}"));
        n.detail = Some(format!("scope {:?}, {} paths", r.scope, r.paths.len()));
    });
    Ok(agent.restore_points.submit_restore(&id, &r, &cx.caller.actor()).await?)
}

pub async fn settings(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<RestorePointSettings, ApiError> {
    Ok(agent.restore_points.settings()?)
}

pub async fn set_settings(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    s: RestorePointSettings,
) -> Result<RestorePointSettings, ApiError> {
    let saved = agent.restore_points.set_settings(&s)?;
    cx.note(|n| n.detail = Some(format!("{saved:?}")));
    Ok(saved)
}

pub async fn drill(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<Job, ApiError> {
    Ok(agent.restore_points.submit_drill(&cx.caller.actor())?)
}

/// Emptying Immich is the one thing only an owner (or root) may do: an admin can restore, but not
/// wipe the family's photos, even with an undo.
fn owner_only(cx: &Cx) -> Result<(), ApiError> {
    match &cx.caller.identity {
        Identity::Root => Ok(()),
        Identity::User(u) if u.role == Role::Owner => Ok(()),
        _ => Err(ApiError::new(
            http::StatusCode::FORBIDDEN,
            "restore.owner_only",
            "only an owner can reset Immich or undo a reset",
        )
        .with_hint("Ask an owner of this box.")),
    }
}

pub async fn reset(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: ResetRequest) -> Result<Job, ApiError> {
    owner_only(&cx)?;
    Ok(agent.restore_points.submit_reset(&r.confirm, &cx.caller.actor()).await?)
}

pub async fn undo_reset(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: ResetRequest) -> Result<Job, ApiError> {
    owner_only(&cx)?;
    Ok(agent.restore_points.submit_undo_reset(&r.confirm, &cx.caller.actor()).await?)
}
