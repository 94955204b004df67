//! Handlers for jobs: listing, detail, log, cancel and live events.

use std::sync::Arc;

use http::StatusCode;
use keepsake_api::{JobList, JobLog, JobState};
use warp::reply::Response;

use super::routes::NoParams;
use super::{ApiError, Req, json, sse};
use crate::Agent;
use crate::store::JobFilter;

pub async fn list(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let state = match req.query.get("state") {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown job state `{s}`; use queued, running, succeeded, failed or cancelled"
            ))
        })?),
    };
    let filter = JobFilter { kind: req.query.get("kind").cloned(), state, limit: req.query_u32("limit", 50, 500)? };
    Ok(json(StatusCode::OK, &JobList { jobs: agent.store.jobs(&filter)? }))
}

pub async fn get(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    let job = agent.store.job(id)?.ok_or_else(|| ApiError::not_found(format!("no job with id {id}")))?;
    Ok(json(StatusCode::OK, &job))
}

pub async fn log(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    agent.store.job(id)?.ok_or_else(|| ApiError::not_found(format!("no job with id {id}")))?;
    Ok(json(StatusCode::OK, &JobLog { lines: agent.store.job_log(id)? }))
}

pub async fn cancel(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    let NoParams {} = req.json()?;
    let job = agent.jobs.cancel(id, &req.caller.actor())?;
    Ok(json(StatusCode::OK, &job))
}

pub async fn events(agent: Arc<Agent>, req: Req) -> Result<Response, ApiError> {
    let id = req.id_param("id")?;
    // Subscribe before reading the snapshot, so no change between the two is lost.
    let rx = agent.jobs.subscribe();
    let job = agent.store.job(id)?.ok_or_else(|| ApiError::not_found(format!("no job with id {id}")))?;
    let log = agent.store.job_log(id)?;
    Ok(sse::job_stream(Arc::clone(agent.jobs.store()), rx, job, log))
}

pub async fn all_events(agent: Arc<Agent>, _: Req) -> Result<Response, ApiError> {
    let rx = agent.jobs.subscribe();
    let mut active = Vec::new();
    for state in [JobState::Queued, JobState::Running] {
        active.extend(agent.store.jobs(&JobFilter { kind: None, state: Some(state), limit: 100 })?);
    }
    active.sort_by_key(|j| j.id);
    Ok(sse::all_jobs_stream(rx, active))
}
