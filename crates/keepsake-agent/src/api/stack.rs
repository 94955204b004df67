//! Handlers for the Immich stack: its status, installing or converging it (a job), and starting,
//! stopping or restarting one service. Thin: the `stack` module does the work; these name the
//! audit target.

use std::sync::Arc;

use keepsake_api::{
    ContainerLogQuery, ContainerLogs, Done, Job, StackActionRequest, StackInstallRequest, StackRollbackRequest,
    StackService, StackStatus, StackUpdateCheck, StackUpdateCheckQuery, StackUpdateRequest, StackVersions,
};

use super::ApiError;
use super::contract::{ContainerLogEvents, Cx, NoBody, NoQuery};
use crate::Agent;

pub async fn status(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<StackStatus, ApiError> {
    Ok(agent.stack.status().await?)
}

pub async fn install(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: StackInstallRequest) -> Result<Job, ApiError> {
    cx.note(|n| {
        n.detail = Some(format!(
            "version {}, machine learning {}",
            r.version.as_deref().unwrap_or("as set"),
            r.machine_learning.map_or("as set", |m| if m { "on" } else { "off" })
        ))
    });
    Ok(agent.stack.submit_install(&r, &cx.caller.actor())?)
}

pub async fn whole_action(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: StackActionRequest) -> Result<Job, ApiError> {
    cx.note(|n| {
        n.target = Some("stack".into());
        n.detail = Some(r.action.as_str().to_owned());
    });
    Ok(agent.stack.submit_whole_action(r.action, &cx.caller.actor())?)
}

pub async fn update(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: StackUpdateRequest) -> Result<Job, ApiError> {
    cx.note(|n| n.target = Some(format!("version={}", r.version)));
    Ok(agent.stack.submit_update(&r.version, &cx.caller.actor())?)
}

pub async fn updates(
    agent: Arc<Agent>,
    _: Cx,
    q: StackUpdateCheckQuery,
    _: NoBody,
) -> Result<StackUpdateCheck, ApiError> {
    Ok(agent.stack.check_updates(q.refresh.unwrap_or(false)).await?)
}

pub async fn versions(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<StackVersions, ApiError> {
    Ok(agent.stack.versions().await?)
}

pub async fn rollback(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: StackRollbackRequest) -> Result<Job, ApiError> {
    cx.note(|n| {
        n.target = Some(format!("version={}", r.version));
        n.detail = Some(format!("confirmation {}", if r.confirm.trim() == "roll back" { "typed" } else { "wrong" }));
    });
    Ok(agent.stack.submit_rollback(&r, &cx.caller.actor()).await?)
}

fn service(cx: &Cx) -> Result<StackService, ApiError> {
    StackService::parse(cx.param("service")).ok_or_else(|| {
        ApiError::new(
            http::StatusCode::NOT_FOUND,
            "stack.no_such_service",
            "no such service: the stack has database, redis, machine_learning and server",
        )
    })
}

pub async fn service_action(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: StackActionRequest) -> Result<Done, ApiError> {
    let name = cx.param("service").to_owned();
    cx.note(|n| {
        n.target = Some(format!("service={name}"));
        n.detail = Some(r.action.as_str().to_owned());
    });
    Ok(agent.stack.service_action(service(&cx)?, r.action).await?)
}

pub async fn logs(agent: Arc<Agent>, cx: Cx, q: ContainerLogQuery, _: NoBody) -> Result<ContainerLogs, ApiError> {
    Ok(agent.stack.logs(service(&cx)?, &q).await?)
}

pub async fn follow_logs(
    agent: Arc<Agent>,
    cx: Cx,
    q: ContainerLogQuery,
    _: NoBody,
) -> Result<ContainerLogEvents, ApiError> {
    let lines = agent.stack.follow_logs(service(&cx)?, q).await?;
    Ok(ContainerLogEvents(super::sse::container_log_stream(lines)))
}
