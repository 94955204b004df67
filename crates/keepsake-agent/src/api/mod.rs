//! The agent's HTTP/JSON API: a route table, and the one dispatcher that runs it.
//!
//! - `routes.rs` is the table: every route is one row naming its method, path, permission, query
//!   type, body type and reply type. The router, request parsing, the OpenAPI document and the
//!   audit trail are all derived from it, so none of them can drift from the others.
//! - `contract.rs` turns a typed handler into a row: inputs are checked against the schema the
//!   OpenAPI document publishes, then deserialized, before the handler runs.
//! - `dispatch.rs` runs a request through peer check, routing, identification, authorization,
//!   parsing and the handler, and audits every mutating request whatever its outcome.
//! - `caller.rs` says who is calling; `error.rs` is the one error shape with stable codes.
//! - The rest are thin handlers, one file per area, that call the subsystems (`auth`, `jobs`,
//!   `host`, `store`) and never touch SQL, processes or sockets themselves.
//!
//! Dependencies point one way: `server` → `api::dispatch` → `api::routes` → handlers →
//! `api::contract`/`api::error`. Handlers never import the table.

mod account;
mod alerts;
mod audit;
pub mod caller;
pub mod contract;
pub mod dispatch;
mod drive_restore;
mod drives;
mod error;
mod groups;
mod host;
mod jobs;
pub mod openapi;
mod password_reset;
mod restore_points;
pub mod routes;
mod session;
mod settings;
mod sse;
mod stack;
mod users;

use std::sync::Arc;

pub use caller::{Caller, HEADER_CLIENT_ADDR, HEADER_CLIENT_HTTPS, HEADER_VIA_WEB, Peer};
pub use contract::{Cx, Route};
pub use dispatch::{MAX_BODY, Request, Router};
pub use error::ApiError;
pub use routes::ROUTES;

use crate::Agent;

/// Runs `f` on a blocking thread: for work that would stall the async runtime, such as argon2
/// password hashing (tens of milliseconds of CPU by design).
pub async fn blocking<T: Send + 'static>(
    agent: &Arc<Agent>,
    f: impl FnOnce(&Agent) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let a = Arc::clone(agent);
    tokio::task::spawn_blocking(move || f(&a))
        .await
        .map_err(|e| ApiError::internal(format!("a worker thread failed: {e}")))?
}
