//! The route table: the single source of truth for what the agent's API offers.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::Method;
use keepsake_api::{Health, Job, JobList, JobLog, Status};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use warp::reply::Response;

use super::{ApiError, Req, host, jobs};
use crate::Agent;

/// What a caller must be allowed to do to use a route. Every route declares one; the identity
/// layer maps roles and groups onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Anyone who can reach the socket (liveness, the API description).
    Public,
    /// See agent status and host facilities.
    StatusRead,
    /// See jobs, their logs and live progress.
    JobsRead,
    /// Cancel a job.
    JobsCancel,
    /// Run host checks.
    HostCheck,
}

impl Permission {
    /// The stable name used in the OpenAPI description (`x-keepsake-permission`) and role tables.
    pub fn name(self) -> &'static str {
        match self {
            Permission::Public => "public",
            Permission::StatusRead => "status.read",
            Permission::JobsRead => "jobs.read",
            Permission::JobsCancel => "jobs.cancel",
            Permission::HostCheck => "host.check",
        }
    }
}

pub type Handler = fn(Arc<Agent>, Req) -> BoxFuture<'static, Result<Response, ApiError>>;
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// What a route answers with when it succeeds.
#[derive(Clone, Copy)]
pub enum Answer {
    /// JSON with this status code and schema.
    Json(u16, SchemaFn),
    /// A `text/event-stream` of `job` (and `log`) events.
    EventStream,
}

/// A documented query parameter.
#[derive(Clone, Copy)]
pub struct QueryParam {
    pub name: &'static str,
    pub description: &'static str,
    pub integer: bool,
}

pub struct Route {
    pub method: Method,
    /// Path with `{param}` segments, as in OpenAPI.
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub permission: Permission,
    pub query: &'static [QueryParam],
    /// Schema of the JSON request body, for routes that take one.
    pub body: Option<SchemaFn>,
    pub answer: Answer,
    pub handler: Handler,
}

impl Route {
    /// Anything but GET changes something, and is audited.
    pub fn mutating(&self) -> bool {
        self.method != Method::GET && self.method != Method::HEAD
    }
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

fn any_object(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({ "type": "object" })
}

/// The body of a request that takes no parameters: `{}` (or nothing).
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

const JOB_QUERY: &[QueryParam] = &[
    QueryParam { name: "limit", description: "At most this many jobs (1 to 500, default 50).", integer: true },
    QueryParam { name: "kind", description: "Only jobs of this kind, e.g. `host.self_check`.", integer: false },
    QueryParam {
        name: "state",
        description: "Only jobs in this state: queued, running, succeeded, failed or cancelled.",
        integer: false,
    },
];

pub static ROUTES: &[Route] = &[
    Route {
        method: Method::GET,
        path: "/api/v1/health",
        operation_id: "health",
        summary: "Is the agent alive",
        permission: Permission::Public,
        query: &[],
        body: None,
        answer: Answer::Json(200, schema::<Health>),
        handler: |a, r| Box::pin(host::health(a, r)),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/status",
        operation_id: "status",
        summary: "Agent version, uptime and the host facilities it found",
        permission: Permission::StatusRead,
        query: &[],
        body: None,
        answer: Answer::Json(200, schema::<Status>),
        handler: |a, r| Box::pin(host::status(a, r)),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/openapi.json",
        operation_id: "openapi",
        summary: "This API, described in OpenAPI 3",
        permission: Permission::Public,
        query: &[],
        body: None,
        answer: Answer::Json(200, any_object),
        handler: |a, r| Box::pin(host::openapi(a, r)),
    },
    Route {
        method: Method::POST,
        path: "/api/v1/host/self-check",
        operation_id: "host.self_check",
        summary: "Start a host self-check job (202: the queued job)",
        permission: Permission::HostCheck,
        query: &[],
        body: Some(schema::<NoParams>),
        answer: Answer::Json(202, schema::<Job>),
        handler: |a, r| Box::pin(host::start_self_check(a, r)),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/jobs",
        operation_id: "jobs.list",
        summary: "Jobs, newest first",
        permission: Permission::JobsRead,
        query: JOB_QUERY,
        body: None,
        answer: Answer::Json(200, schema::<JobList>),
        handler: |a, r| Box::pin(jobs::list(a, r)),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/jobs/{id}",
        operation_id: "jobs.get",
        summary: "One job",
        permission: Permission::JobsRead,
        query: &[],
        body: None,
        answer: Answer::Json(200, schema::<Job>),
        handler: |a, r| Box::pin(jobs::get(a, r)),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/jobs/{id}/log",
        operation_id: "jobs.log",
        summary: "A job's log lines",
        permission: Permission::JobsRead,
        query: &[],
        body: None,
        answer: Answer::Json(200, schema::<JobLog>),
        handler: |a, r| Box::pin(jobs::log(a, r)),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/jobs/{id}/events",
        operation_id: "jobs.events",
        summary: "Live events of one job: `job` snapshots and `log` lines; ends after the job ends",
        permission: Permission::JobsRead,
        query: &[],
        body: None,
        answer: Answer::EventStream,
        handler: |a, r| Box::pin(jobs::events(a, r)),
    },
    Route {
        method: Method::POST,
        path: "/api/v1/jobs/{id}/cancel",
        operation_id: "jobs.cancel",
        summary: "Cancel a queued or running job",
        permission: Permission::JobsCancel,
        query: &[],
        body: Some(schema::<NoParams>),
        answer: Answer::Json(200, schema::<Job>),
        handler: |a, r| Box::pin(jobs::cancel(a, r)),
    },
    Route {
        method: Method::GET,
        path: "/api/v1/events",
        operation_id: "events",
        summary: "Live `job` events of every job (active jobs are sent first)",
        permission: Permission::JobsRead,
        query: &[],
        body: None,
        answer: Answer::EventStream,
        handler: |a, r| Box::pin(jobs::all_events(a, r)),
    },
];
