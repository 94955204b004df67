//! Handlers for jobs: listing, detail, log, cancel and live events.

use std::sync::Arc;

use keepsake_api::{Job, JobList, JobLog, JobQuery, JobState, NoParams};

use super::contract::{Cx, JobEvents, NoBody, NoQuery};
use super::{ApiError, sse};
use crate::Agent;
use crate::store::JobFilter;

fn job(agent: &Agent, id: i64) -> Result<Job, ApiError> {
    // Through the manager: a running job's progress is fresher in memory than in the store.
    agent.jobs.job(id)?.ok_or_else(|| ApiError::not_found("job.not_found", format!("no job with id {id}")))
}

pub async fn list(agent: Arc<Agent>, _: Cx, q: JobQuery, _: NoBody) -> Result<JobList, ApiError> {
    let filter = JobFilter { kind: q.kind, state: q.state, limit: q.limit.unwrap_or(50) };
    Ok(JobList { jobs: agent.store.jobs(&filter)? })
}

pub async fn get(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Job, ApiError> {
    job(&agent, cx.id("id")?)
}

pub async fn log(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<JobLog, ApiError> {
    let id = cx.id("id")?;
    job(&agent, id)?;
    Ok(JobLog { lines: agent.store.job_log(id)? })
}

pub async fn cancel(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<Job, ApiError> {
    Ok(agent.jobs.cancel(cx.id("id")?, &cx.caller.actor())?)
}

pub async fn events(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<JobEvents, ApiError> {
    let id = cx.id("id")?;
    // Subscribe before reading the snapshot, so no change between the two is lost.
    let rx = agent.jobs.subscribe();
    let snapshot = job(&agent, id)?;
    let log = agent.store.job_log(id)?;
    Ok(JobEvents(sse::job_stream(Arc::clone(agent.jobs.store()), rx, snapshot, log)))
}

pub async fn all_events(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<JobEvents, ApiError> {
    let rx = agent.jobs.subscribe();
    let mut active = Vec::new();
    for state in [JobState::Queued, JobState::Running] {
        active.extend(agent.store.jobs(&JobFilter { kind: None, state: Some(state), limit: 100 })?);
    }
    active.sort_by_key(|j| j.id);
    Ok(JobEvents(sse::all_jobs_stream(rx, active)))
}
