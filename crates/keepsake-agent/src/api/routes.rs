//! The route table: the single source of truth for what the agent's API offers.

use std::sync::{Arc, LazyLock};

use futures_util::future::BoxFuture;
use http::Method;
use keepsake_api::{Health, Job, JobList, JobLog, Status};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use warp::reply::Response;

use super::{ApiError, Req, account, admin, host, jobs, session};
use crate::Agent;

pub use crate::auth::Permission;

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

const AUDIT_QUERY: &[QueryParam] = &[
    QueryParam { name: "actor", description: "Only entries by this actor.", integer: false },
    QueryParam {
        name: "action",
        description: "Only actions starting with this, e.g. `auth.` or `users.`.",
        integer: false,
    },
    QueryParam {
        name: "outcome",
        description: "Only outcomes starting with this: ok, denied, error, ...",
        integer: false,
    },
    QueryParam { name: "since", description: "Only entries at or after this RFC 3339 time.", integer: false },
    QueryParam { name: "until", description: "Only entries at or before this RFC 3339 time.", integer: false },
    QueryParam { name: "limit", description: "At most this many entries (default 200).", integer: true },
    QueryParam { name: "format", description: "`json` (default) or `csv` (a download).", integer: false },
];

/// One row of the table: `route!(METHOD, path, operation id, permission, query, body, answer,
/// handler, summary)`.
macro_rules! route {
    ($m:ident, $path:literal, $op:literal, $perm:ident, $query:expr, $body:expr, $answer:expr, $h:path, $summary:literal) => {
        Route {
            method: Method::$m,
            path: $path,
            operation_id: $op,
            summary: $summary,
            permission: Permission::$perm,
            query: $query,
            body: $body,
            answer: $answer,
            handler: |a, r| Box::pin($h(a, r)),
        }
    };
}

fn ok<T: JsonSchema>() -> Answer {
    Answer::Json(200, schema::<T>)
}

const fn created(s: SchemaFn) -> Answer {
    Answer::Json(201, s)
}

const DONE: Answer = Answer::Json(200, any_object);
const NO_QUERY: &[QueryParam] = &[];
const NO_BODY: Option<SchemaFn> = None;

const fn body(s: SchemaFn) -> Option<SchemaFn> {
    Some(s)
}

use keepsake_api as w;

pub static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    vec![
        // Agent and host
        route!(
            GET,
            "/api/v1/health",
            "health",
            Public,
            NO_QUERY,
            NO_BODY,
            ok::<Health>(),
            host::health,
            "Is the agent alive"
        ),
        route!(
            GET,
            "/api/v1/status",
            "status",
            HostView,
            NO_QUERY,
            NO_BODY,
            ok::<Status>(),
            host::status,
            "Agent version, uptime and the host facilities it found"
        ),
        route!(
            GET,
            "/api/v1/openapi.json",
            "openapi",
            Public,
            NO_QUERY,
            NO_BODY,
            DONE,
            host::openapi,
            "This API, described in OpenAPI 3"
        ),
        route!(
            POST,
            "/api/v1/host/self-check",
            "host.self_check",
            HostCheck,
            NO_QUERY,
            body(schema::<NoParams>),
            Answer::Json(202, schema::<Job>),
            host::start_self_check,
            "Start a host self-check job (202: the queued job)"
        ),
        // Jobs
        route!(
            GET,
            "/api/v1/jobs",
            "jobs.list",
            JobsView,
            JOB_QUERY,
            NO_BODY,
            ok::<JobList>(),
            jobs::list,
            "Jobs, newest first"
        ),
        route!(GET, "/api/v1/jobs/{id}", "jobs.get", JobsView, NO_QUERY, NO_BODY, ok::<Job>(), jobs::get, "One job"),
        route!(
            GET,
            "/api/v1/jobs/{id}/log",
            "jobs.log",
            JobsView,
            NO_QUERY,
            NO_BODY,
            ok::<JobLog>(),
            jobs::log,
            "A job's log lines"
        ),
        route!(
            GET,
            "/api/v1/jobs/{id}/events",
            "jobs.events",
            JobsView,
            NO_QUERY,
            NO_BODY,
            Answer::EventStream,
            jobs::events,
            "Live events of one job: `job` snapshots and `log` lines; ends after the job ends"
        ),
        route!(
            POST,
            "/api/v1/jobs/{id}/cancel",
            "jobs.cancel",
            JobsCancel,
            NO_QUERY,
            body(schema::<NoParams>),
            ok::<Job>(),
            jobs::cancel,
            "Cancel a queued or running job"
        ),
        route!(
            GET,
            "/api/v1/events",
            "events",
            JobsView,
            NO_QUERY,
            NO_BODY,
            Answer::EventStream,
            jobs::all_events,
            "Live `job` events of every job (active jobs are sent first)"
        ),
        // Signing in and out
        route!(
            GET,
            "/api/v1/auth/state",
            "auth.state",
            Public,
            NO_QUERY,
            NO_BODY,
            ok::<w::AuthState>(),
            session::state,
            "Whether setup is needed, who is signed in, and any second factor owed"
        ),
        route!(
            POST,
            "/api/v1/auth/setup",
            "auth.setup",
            Public,
            NO_QUERY,
            body(schema::<w::SetupRequest>),
            created(schema::<w::LoginResponse>),
            session::setup,
            "First run only: create the owner account and sign in"
        ),
        route!(
            POST,
            "/api/v1/auth/login",
            "auth.login",
            Public,
            NO_QUERY,
            body(schema::<w::LoginRequest>),
            ok::<w::LoginResponse>(),
            session::login,
            "Sign in with name and password (a second factor may follow)"
        ),
        route!(
            POST,
            "/api/v1/auth/login/totp",
            "auth.login_totp",
            Public,
            NO_QUERY,
            body(schema::<w::CodeRequest>),
            ok::<w::LoginResponse>(),
            session::login_totp,
            "Second factor: a code from the authenticator app"
        ),
        route!(
            POST,
            "/api/v1/auth/login/recovery",
            "auth.login_recovery",
            Public,
            NO_QUERY,
            body(schema::<w::CodeRequest>),
            ok::<w::LoginResponse>(),
            session::login_recovery,
            "Second factor: a one-time recovery code"
        ),
        route!(
            POST,
            "/api/v1/auth/passkey/begin",
            "auth.passkey_begin",
            Public,
            NO_QUERY,
            body(schema::<w::NameRequest>),
            ok::<w::PasskeyChallenge>(),
            session::passkey_begin,
            "Start signing in with a passkey (passwordless, or as the second factor)"
        ),
        route!(
            POST,
            "/api/v1/auth/passkey/finish",
            "auth.passkey_finish",
            Public,
            NO_QUERY,
            body(schema::<w::PasskeyAnswer>),
            ok::<w::LoginResponse>(),
            session::passkey_finish,
            "Finish signing in with a passkey"
        ),
        route!(
            POST,
            "/api/v1/auth/logout",
            "auth.logout",
            Authenticated,
            NO_QUERY,
            body(schema::<NoParams>),
            DONE,
            session::logout,
            "Sign out (end this session)"
        ),
        // My account
        route!(
            GET,
            "/api/v1/me",
            "me.get",
            Authenticated,
            NO_QUERY,
            NO_BODY,
            ok::<w::Me>(),
            account::me,
            "The signed-in user"
        ),
        route!(
            POST,
            "/api/v1/me/password",
            "me.password",
            Authenticated,
            NO_QUERY,
            body(schema::<w::PasswordChange>),
            DONE,
            account::change_password,
            "Change my password (ends my other sessions)"
        ),
        route!(
            POST,
            "/api/v1/me/totp/begin",
            "me.totp_begin",
            Authenticated,
            NO_QUERY,
            body(schema::<NoParams>),
            ok::<w::TotpEnrollment>(),
            account::totp_begin,
            "Start setting up an authenticator app"
        ),
        route!(
            POST,
            "/api/v1/me/totp/confirm",
            "me.totp_confirm",
            Authenticated,
            NO_QUERY,
            body(schema::<w::CodeRequest>),
            ok::<w::RecoveryCodes>(),
            account::totp_confirm,
            "Confirm the authenticator app with a code; returns recovery codes"
        ),
        route!(
            POST,
            "/api/v1/me/totp/disable",
            "me.totp_disable",
            Authenticated,
            NO_QUERY,
            body(schema::<w::PasswordConfirm>),
            DONE,
            account::totp_disable,
            "Remove the authenticator app"
        ),
        route!(
            POST,
            "/api/v1/me/recovery-codes",
            "me.recovery_codes",
            Authenticated,
            NO_QUERY,
            body(schema::<w::PasswordConfirm>),
            ok::<w::RecoveryCodes>(),
            account::recovery_codes,
            "Make new recovery codes (the old ones stop working)"
        ),
        route!(
            GET,
            "/api/v1/me/passkeys",
            "me.passkeys",
            Authenticated,
            NO_QUERY,
            NO_BODY,
            ok::<w::PasskeyList>(),
            account::passkeys,
            "My passkeys"
        ),
        route!(
            POST,
            "/api/v1/me/passkeys/begin",
            "me.passkey_begin",
            Authenticated,
            NO_QUERY,
            body(schema::<w::NameRequest>),
            ok::<w::PasskeyChallenge>(),
            account::passkey_register_begin,
            "Start adding a passkey"
        ),
        route!(
            POST,
            "/api/v1/me/passkeys/finish",
            "me.passkey_finish",
            Authenticated,
            NO_QUERY,
            body(schema::<w::PasskeyAnswer>),
            created(schema::<w::PasskeyInfo>),
            account::passkey_register_finish,
            "Finish adding a passkey"
        ),
        route!(
            DELETE,
            "/api/v1/me/passkeys/{id}",
            "me.passkey_delete",
            Authenticated,
            NO_QUERY,
            NO_BODY,
            DONE,
            account::passkey_delete,
            "Remove one of my passkeys"
        ),
        route!(
            GET,
            "/api/v1/me/sessions",
            "me.sessions",
            Authenticated,
            NO_QUERY,
            NO_BODY,
            ok::<w::SessionList>(),
            account::sessions,
            "My sessions"
        ),
        route!(
            DELETE,
            "/api/v1/me/sessions/{id}",
            "me.session_revoke",
            Authenticated,
            NO_QUERY,
            NO_BODY,
            DONE,
            account::revoke_session,
            "End one of my sessions"
        ),
        // Users and groups
        route!(
            GET,
            "/api/v1/users",
            "users.list",
            UsersView,
            NO_QUERY,
            NO_BODY,
            ok::<w::UserList>(),
            admin::users,
            "All accounts"
        ),
        route!(
            POST,
            "/api/v1/users",
            "users.create",
            UsersManage,
            NO_QUERY,
            body(schema::<w::NewUser>),
            created(schema::<w::UserInfo>),
            admin::create_user,
            "Create an account"
        ),
        route!(
            GET,
            "/api/v1/users/{id}",
            "users.get",
            UsersView,
            NO_QUERY,
            NO_BODY,
            ok::<w::UserInfo>(),
            admin::get_user,
            "One account"
        ),
        route!(
            PATCH,
            "/api/v1/users/{id}",
            "users.update",
            UsersManage,
            NO_QUERY,
            body(schema::<w::UserUpdate>),
            ok::<w::UserInfo>(),
            admin::update_user,
            "Change an account's role, name, groups or disabled state"
        ),
        route!(
            DELETE,
            "/api/v1/users/{id}",
            "users.delete",
            UsersManage,
            NO_QUERY,
            NO_BODY,
            DONE,
            admin::delete_user,
            "Delete an account"
        ),
        route!(
            POST,
            "/api/v1/users/{id}/password",
            "users.set_password",
            UsersManage,
            NO_QUERY,
            body(schema::<w::PasswordSet>),
            DONE,
            admin::set_password,
            "Set someone's password (ends their sessions)"
        ),
        route!(
            POST,
            "/api/v1/users/{id}/reset-second-factor",
            "users.reset_second_factor",
            UsersManage,
            NO_QUERY,
            body(schema::<NoParams>),
            DONE,
            admin::reset_second_factor,
            "Remove someone's authenticator app, recovery codes and passkeys"
        ),
        route!(
            GET,
            "/api/v1/groups",
            "groups.list",
            UsersView,
            NO_QUERY,
            NO_BODY,
            ok::<w::GroupList>(),
            admin::groups,
            "Custom groups"
        ),
        route!(
            POST,
            "/api/v1/groups",
            "groups.create",
            UsersManage,
            NO_QUERY,
            body(schema::<w::GroupUpsert>),
            created(schema::<w::GroupInfo>),
            admin::create_group,
            "Create a group with a set of permissions"
        ),
        route!(
            PUT,
            "/api/v1/groups/{id}",
            "groups.update",
            UsersManage,
            NO_QUERY,
            body(schema::<w::GroupUpsert>),
            ok::<w::GroupInfo>(),
            admin::update_group,
            "Rename a group or change its permissions"
        ),
        route!(
            DELETE,
            "/api/v1/groups/{id}",
            "groups.delete",
            UsersManage,
            NO_QUERY,
            NO_BODY,
            DONE,
            admin::delete_group,
            "Delete a group"
        ),
        route!(
            GET,
            "/api/v1/permissions",
            "permissions",
            UsersView,
            NO_QUERY,
            NO_BODY,
            ok::<w::PermissionCatalog>(),
            admin::permissions,
            "What can be granted, and what each role holds"
        ),
        // Audit, security settings, secrets
        route!(
            GET,
            "/api/v1/audit",
            "audit.list",
            AuditView,
            AUDIT_QUERY,
            NO_BODY,
            ok::<w::AuditList>(),
            admin::audit,
            "The audit log, newest first; filter, or export as CSV"
        ),
        route!(
            POST,
            "/api/v1/audit/verify",
            "audit.verify",
            AuditView,
            NO_QUERY,
            body(schema::<NoParams>),
            ok::<w::AuditVerification>(),
            admin::audit_verify,
            "Check the audit log's hash chain"
        ),
        route!(
            GET,
            "/api/v1/settings/security",
            "settings.security_get",
            HostSettings,
            NO_QUERY,
            NO_BODY,
            ok::<w::SecuritySettings>(),
            admin::security_settings,
            "Security settings"
        ),
        route!(
            PUT,
            "/api/v1/settings/security",
            "settings.security_set",
            HostSettings,
            NO_QUERY,
            body(schema::<w::SecuritySettings>),
            ok::<w::SecuritySettings>(),
            admin::set_security_settings,
            "Change security settings"
        ),
        route!(
            GET,
            "/api/v1/secrets",
            "secrets.list",
            HostSettings,
            NO_QUERY,
            NO_BODY,
            ok::<w::SecretList>(),
            admin::secrets,
            "Which secrets are set (never their values)"
        ),
        route!(
            PUT,
            "/api/v1/secrets/{name}",
            "secrets.set",
            HostSettings,
            NO_QUERY,
            body(schema::<w::SecretValue>),
            DONE,
            admin::set_secret,
            "Set a secret (write-only)"
        ),
        route!(
            DELETE,
            "/api/v1/secrets/{name}",
            "secrets.delete",
            HostSettings,
            NO_QUERY,
            NO_BODY,
            DONE,
            admin::delete_secret,
            "Remove a secret"
        ),
    ]
});
