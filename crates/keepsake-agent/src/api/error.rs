//! API errors: a status code and the JSON body every client understands.

use http::{Method, StatusCode};
use warp::Reply;
use warp::reply::Response;

use crate::jobs::JobsError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn not_found_route(path: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "no_such_route", format!("there is no API route {path}"))
            .with_hint("See /api/v1/openapi.json for the routes the agent has.")
    }

    pub fn method_not_allowed(method: &Method, path: &str, allowed: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed on {path}; allowed: {allowed}"),
        )
    }

    pub fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = keepsake_api::ApiError { code: self.code.to_owned(), message: self.message, hint: self.hint };
        warp::reply::with_status(warp::reply::json(&body), self.status).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if let StoreError::Conflict { code, message } = e {
            return ApiError::new(StatusCode::CONFLICT, code, message);
        }
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("the agent's database failed: {e}"))
            .with_hint("See the agent's log (journalctl -u keepsake-agent).")
    }
}

impl From<JobsError> for ApiError {
    fn from(e: JobsError) -> ApiError {
        match e {
            JobsError::NotFound(_) => ApiError::not_found(e.to_string()),
            JobsError::AlreadyFinished { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string()),
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
            A::BadRequest { .. } | A::TooLong { .. } => ApiError::new(StatusCode::BAD_REQUEST, code, msg),
            A::Secrets(S::Empty | S::TooLong { .. }) => ApiError::new(StatusCode::BAD_REQUEST, code, msg),
            A::NotFound { .. } | A::Secrets(S::UnknownName { .. }) => ApiError::new(StatusCode::NOT_FOUND, code, msg),
            A::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, code, msg),
            A::BadCredentials => ApiError::new(StatusCode::UNAUTHORIZED, code, msg)
                .with_hint("Check the name and password. After several failures, sign-in slows down."),
            A::TooManyAttempts { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, msg)
                .with_hint("This protects your account from guessing. Wait, then try again."),
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
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", e.to_string())
            }
            keepsake_api::body::BodyError::Read(_) => ApiError::bad_request(e.to_string()),
        }
    }
}
