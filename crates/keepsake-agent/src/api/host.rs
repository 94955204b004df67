//! Handlers for agent status and host checks.

use std::sync::Arc;

use keepsake_api::{Health, Job, NoParams, OpenApiDocument, Status};

use super::contract::{Cx, NoBody, NoQuery};
use super::{ApiError, openapi as doc};
use crate::Agent;
use crate::host::self_check;
use crate::jobs::JobKind;

pub async fn health(_: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<Health, ApiError> {
    Ok(Health { status: "ok".into() })
}

pub async fn status(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<Status, ApiError> {
    let (facilities, checked) = agent.facilities.snapshot();
    let uptime = chrono::Utc::now().signed_duration_since(agent.started_at).num_seconds().max(0) as u64;
    Ok(Status {
        version: crate::VERSION.to_owned(),
        started_at: agent.started_at,
        uptime_seconds: uptime,
        facilities,
        facilities_checked_at: checked,
    })
}

pub async fn openapi(_: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<OpenApiDocument, ApiError> {
    Ok(doc::document().clone())
}

pub async fn start_self_check(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<Job, ApiError> {
    let cfg = agent.host.clone();
    let cache = agent.facilities.clone();
    let job = agent.jobs.submit(
        JobKind::HostSelfCheck,
        &cx.caller.actor(),
        Box::new(move |ctx| Box::pin(self_check::run(ctx, cfg, cache))),
    )?;
    Ok(job)
}
