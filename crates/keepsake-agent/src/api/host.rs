//! Handlers for agent status and host checks.

use std::sync::Arc;

use http::StatusCode;
use keepsake_api::{Health, Status};
use warp::reply::Response;

use super::routes::NoParams;
use super::{ApiError, Req, json, openapi as doc};
use crate::Agent;
use crate::host::self_check;
use crate::jobs::JobKind;

pub async fn health(_: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &Health { status: "ok".into() }))
}

pub async fn status(agent: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    let (facilities, checked) = agent.facilities.snapshot();
    let uptime = chrono::Utc::now().signed_duration_since(agent.started_at).num_seconds().max(0) as u64;
    Ok(json(
        StatusCode::OK,
        &Status {
            version: crate::VERSION.to_owned(),
            started_at: agent.started_at,
            uptime_seconds: uptime,
            facilities,
            facilities_checked_at: checked,
        },
    ))
}

pub async fn openapi(_: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, doc::document()))
}

pub async fn start_self_check(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let NoParams {} = req.json()?;
    let cfg = agent.host.clone();
    let cache = agent.facilities.clone();
    let job = agent.jobs.submit(
        JobKind::HostSelfCheck,
        &req.caller.actor(),
        Box::new(move |ctx| Box::pin(self_check::run(ctx, cfg, cache))),
    )?;
    Ok(json(StatusCode::ACCEPTED, &job))
}
