//! Handlers for the Immich stack: its status, installing or converging it (a job), and starting,
//! stopping or restarting one service. Thin: the `stack` module does the work; these name the
//! audit target.

use std::sync::Arc;

use keepsake_api::{Done, Job, StackActionRequest, StackInstallRequest, StackService, StackStatus};

use super::ApiError;
use super::contract::{Cx, NoBody, NoQuery};
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

pub async fn service_action(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: StackActionRequest) -> Result<Done, ApiError> {
    let name = cx.param("service").to_owned();
    cx.note(|n| {
        n.target = Some(format!("service={name}"));
        n.detail = Some(r.action.as_str().to_owned());
    });
    let service = StackService::parse(&name).ok_or_else(|| {
        ApiError::new(
            http::StatusCode::NOT_FOUND,
            "stack.no_such_service",
            "no such service: the stack has database, redis, machine_learning and server",
        )
    })?;
    Ok(agent.stack.service_action(service, r.action).await?)
}
