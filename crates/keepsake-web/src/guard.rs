//! Browser-facing hygiene: security headers on every answer, and this server's own errors in the
//! agent's format. Which hosts and origins are accepted is `site`'s job.

use http::{HeaderMap, HeaderValue, StatusCode};
use warp::Reply;
use warp::reply::Response;

/// An error in the agent's error format, so the dashboard has one shape to show. This server's own
/// codes all start with `web.`, so they can never be mistaken for the agent's.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>, hint: Option<&str>) -> Response {
    let body = keepsake_api::ApiError { code: code.to_owned(), message: message.into(), hint: hint.map(str::to_owned) };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

pub fn with_security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_agents_shape_and_responses_get_security_headers() {
        let r = with_security_headers(error(StatusCode::BAD_GATEWAY, "web.agent_unreachable", "down", Some("wait")));
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    }
}
