//! API errors: a status, a stable dotted code the dashboard can branch on (`user.unknown_group`,
//! `auth.last_owner`, ...), a message for a person, and the headers some statuses call for
//! (`Retry-After` on 429, `Allow` on 405).

use http::{HeaderName, HeaderValue, Method, StatusCode};
use warp::reply::Response;

use crate::jobs::JobsError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), hint: None, headers: Vec::new() }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    fn with_header(mut self, name: HeaderName, value: &str) -> ApiError {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            .with_hint("See the agent's log (journalctl -u keepsake-agent).")
    }

    pub fn not_found_route(path: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "api.no_such_route", format!("there is no API route {}", clip(path, 200)))
            .with_hint("See /api/v1/openapi.json for the routes the agent has.")
    }

    pub fn method_not_allowed(method: &Method, path: &str, allowed: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "api.method_not_allowed",
            format!("{} is not allowed on {path}; allowed: {allowed}", clip(method.as_str(), 20)),
        )
        .with_header(http::header::ALLOW, allowed)
    }

    pub fn too_many_attempts(message: String, retry_after_secs: u64) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "auth.too_many_attempts", message)
            .with_hint("This protects your account from guessing. Wait, then try again.")
            .with_header(http::header::RETRY_AFTER, &retry_after_secs.max(1).to_string())
    }

    pub fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = keepsake_api::ApiError { code: self.code.to_owned(), message: self.message, hint: self.hint };
        let mut resp = super::contract::json(self.status, &body);
        for (k, v) in self.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

/// At most `max` bytes of `s`, cut at a character boundary: for text that came from a request.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if let StoreError::Conflict { code, message } = e {
            return ApiError::new(StatusCode::CONFLICT, code, message);
        }
        ApiError::internal(format!("the agent's database failed: {e}"))
    }
}

impl From<JobsError> for ApiError {
    fn from(e: JobsError) -> ApiError {
        match e {
            JobsError::NotFound(_) => ApiError::not_found("job.not_found", e.to_string()),
            JobsError::AlreadyFinished { .. } => ApiError::new(StatusCode::CONFLICT, "job.finished", e.to_string()),
            JobsError::PastPointOfNoReturn { .. } => {
                ApiError::new(StatusCode::CONFLICT, "job.past_point_of_no_return", e.to_string())
            }
            JobsError::Store(s) => s.into(),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    /// The status follows the kind of error; the code is the error's own stable code.
    fn from(e: crate::auth::AuthError) -> ApiError {
        use crate::auth::AuthError as A;
        use crate::vault::SecretsError as S;
        let code = e.code();
        let msg = e.to_string();
        match e {
            A::Unauthenticated => ApiError::new(StatusCode::UNAUTHORIZED, code, "sign in first")
                .with_hint("Your session may have ended; sign in again."),
            A::Forbidden { .. } => ApiError::new(StatusCode::FORBIDDEN, code, msg),
            // Valid by the document but refused by a rule (a wrong code, a password equal to the
            // name): 422, so that a 400 always means "not what the document says".
            A::BadRequest { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg),
            // Over a documented limit: only input the document already refuses gets here.
            A::TooLong { .. } => ApiError::new(StatusCode::BAD_REQUEST, code, msg),
            A::Secrets(S::Empty | S::TooLong { .. }) => ApiError::new(StatusCode::BAD_REQUEST, code, msg),
            A::NotFound { .. } | A::Secrets(S::UnknownName { .. }) => ApiError::new(StatusCode::NOT_FOUND, code, msg),
            A::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, code, msg),
            A::BadCredentials => ApiError::new(StatusCode::UNAUTHORIZED, code, msg)
                .with_hint("Check the name and password. After several failures, sign-in slows down."),
            A::TooManyAttempts { retry_after_secs } => ApiError::too_many_attempts(msg, retry_after_secs),
            A::Store(s) | A::Secrets(S::Store(s)) => s.into(),
            A::Internal(_) | A::Secrets(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, format!("identity check failed: {msg}"))
            }
        }
    }
}

impl From<keepsake_api::body::BodyError> for ApiError {
    fn from(e: keepsake_api::body::BodyError) -> ApiError {
        match e {
            keepsake_api::body::BodyError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", e.to_string())
            }
            keepsake_api::body::BodyError::Read(_) => ApiError::bad_request("request.unreadable", e.to_string()),
        }
    }
}

impl From<crate::alerts::AlertsError> for ApiError {
    fn from(e: crate::alerts::AlertsError) -> ApiError {
        use crate::alerts::AlertsError as E;
        let code = e.code();
        match e {
            E::Store(e) => e.into(),
            E::NotFound { message, .. } => ApiError::new(StatusCode::NOT_FOUND, code, message),
            E::Invalid { message, .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            E::Secrets(e) => crate::auth::AuthError::from(e).into(),
        }
    }
}

impl From<crate::restore_points::RestoreError> for ApiError {
    fn from(e: crate::restore_points::RestoreError) -> ApiError {
        use crate::restore_points::RestoreError as E;
        let code = e.code();
        match e {
            E::Store(e) => e.into(),
            E::Jobs(e) => e.into(),
            E::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, code, e.to_string()),
            E::Refused(_) | E::Confirm { .. } | E::BadPath { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
            }
            E::Busy(_) => ApiError::new(StatusCode::CONFLICT, code, e.to_string()),
            E::NoZfs => ApiError::new(StatusCode::CONFLICT, code, e.to_string())
                .with_hint("Install Keepsake on a machine with ZFS (the NixOS module sets --zfs-root)."),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, e.to_string()),
        }
    }
}

impl From<crate::drives::DriveError> for ApiError {
    fn from(e: crate::drives::DriveError) -> ApiError {
        use crate::drives::DriveError as E;
        let code = e.code();
        match e {
            E::Store(e) => e.into(),
            E::Jobs(e) => e.into(),
            E::Secrets(e) => crate::auth::AuthError::from(e).into(),
            E::NotEnrolled(_) => ApiError::new(StatusCode::NOT_FOUND, code, e.to_string()),
            E::Refused(_) | E::Confirm { .. } | E::System(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
            }
            E::Busy(_) | E::Absent(_) => ApiError::new(StatusCode::CONFLICT, code, e.to_string()),
            E::Udev(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string()),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, e.to_string()),
        }
    }
}

impl From<crate::stack::StackError> for ApiError {
    fn from(e: crate::stack::StackError) -> ApiError {
        use crate::stack::StackError as E;
        match e {
            E::Store(e) => e.into(),
            E::Jobs(e) => e.into(),
            E::Secrets(e) => crate::auth::AuthError::from(e).into(),
            E::Refused(_) | E::Spec(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "stack.refused", e.to_string())
            }
            E::NotInstalled => ApiError::new(StatusCode::CONFLICT, "stack.not_installed", e.to_string())
                .with_hint("Install the stack from the stack page first."),
            E::Busy(_) => ApiError::new(StatusCode::CONFLICT, "stack.busy", e.to_string()),
            E::Engine(crate::stack::EngineError::Unreachable { .. }) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stack.engine_unreachable", e.to_string())
            }
            E::Engine(_) => ApiError::new(StatusCode::BAD_GATEWAY, "stack.engine", e.to_string()),
        }
    }
}
