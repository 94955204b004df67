//! Browser-facing guards: same-origin checks for mutating requests, security headers, and JSON
//! errors in the agent's format.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::Reply;
use warp::reply::Response;

/// An error in the agent's error format, so the dashboard has one shape to show.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>, hint: Option<&str>) -> Response {
    let body = keepsake_api::ApiError { code: code.to_owned(), message: message.into(), hint: hint.map(str::to_owned) };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

/// Why a mutating request must be refused as cross-origin, or `None` if it may pass.
///
/// Browsers attach `Origin` to every cross-origin POST and `Sec-Fetch-Site` to every request, and
/// a page cannot forge either; non-browser clients (curl, scripts on the box) send neither and are
/// judged by the agent alone. Safe methods are never refused here.
pub fn cross_origin_refusal(method: &Method, headers: &HeaderMap) -> Option<String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return Some(format!("Sec-Fetch-Site is `{site}`"));
    }
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if origin_host(origin) != Some(host) || host.is_empty() {
            return Some(format!("Origin `{origin}` is not this site (`{host}`)"));
        }
    }
    None
}

/// The response to a refused cross-origin request.
pub fn cross_origin_response(method: &Method, why: &str) -> Response {
    error(
        StatusCode::FORBIDDEN,
        "cross_origin",
        format!("refused a cross-origin {method} request: {why}"),
        Some("Use the Keepsake dashboard itself; other sites may not change anything here."),
    )
}

/// `https://immich.local:8443` → `immich.local:8443`.
fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))?;
    Some(rest.trim_end_matches('/'))
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

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn same_origin_and_non_browser_requests_pass() {
        let h = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")]);
        assert_eq!(cross_origin_refusal(&Method::POST, &h), None);
        assert_eq!(cross_origin_refusal(&Method::POST, &headers(&[("host", "x")])), None);
        assert_eq!(cross_origin_refusal(&Method::POST, &headers(&[("sec-fetch-site", "same-origin")])), None);
    }

    #[test]
    fn cross_origin_mutations_are_refused_but_reads_are_not() {
        let h = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.example")]);
        let why = cross_origin_refusal(&Method::POST, &h).unwrap();
        assert!(why.contains("evil.example"), "{why}");
        assert_eq!(cross_origin_response(&Method::POST, &why).status(), StatusCode::FORBIDDEN);
        assert!(cross_origin_refusal(&Method::DELETE, &h).is_some());
        assert!(cross_origin_refusal(&Method::GET, &h).is_none());
        let h = headers(&[("host", "a"), ("sec-fetch-site", "cross-site")]);
        assert!(cross_origin_refusal(&Method::PUT, &h).is_some());
        let h = headers(&[("host", "a:1"), ("sec-fetch-site", "same-site")]);
        assert!(cross_origin_refusal(&Method::POST, &h).is_some());
        // A different port is a different origin.
        let h = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:9090")]);
        assert!(cross_origin_refusal(&Method::POST, &h).is_some());
        // A null origin (sandboxed iframe, file://) is never this site.
        let h = headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]);
        assert!(cross_origin_refusal(&Method::POST, &h).is_some());
    }
}
