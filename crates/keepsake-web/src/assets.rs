//! The dashboard's static files: built into release binaries, or read from a folder.
//!
//! The dashboard is a single-page app: any path that is not a file gets `index.html`, and the app
//! routes in the browser. Vite's hashed files under `/assets/` never change, so they are cached
//! for good; `index.html` is always revalidated so an update shows at once.

use std::borrow::Cow;
use std::path::PathBuf;

use http::{HeaderValue, Method, StatusCode};
use rust_embed::RustEmbed;
use warp::Reply;
use warp::reply::Response;

use crate::guard;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../../frontend/dist"]
#[allow_missing = true]
struct Embedded;

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Keepsake</title>\
<p>The Keepsake dashboard has not been built. Run <code>npm --prefix frontend ci &amp;&amp; npm --prefix frontend run build</code>, \
then rebuild keepsake-web (or start it with <code>--assets frontend/dist</code>).</p>";

pub struct Assets {
    dir: Option<PathBuf>,
}

impl Assets {
    pub fn new(dir: Option<PathBuf>) -> Assets {
        Assets { dir }
    }

    fn load(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        match &self.dir {
            Some(dir) => {
                // Only plain relative names: never `..`, never absolute.
                if path.split('/').any(|seg| seg == ".." || seg.starts_with('.')) {
                    return None;
                }
                std::fs::read(dir.join(path)).ok().map(Cow::Owned)
            }
            None => Embedded::get(path).map(|f| f.data),
        }
    }

    pub fn serve(&self, method: &Method, path: &str) -> Response {
        if method != Method::GET && method != Method::HEAD {
            let mut r = guard::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "web.method_not_allowed",
                format!("{method} is not allowed here: the dashboard's files can only be read"),
                Some("Only GET and HEAD are allowed outside /api/."),
            );
            r.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let rel = path.trim_start_matches('/');
        let (name, body) = match (!rel.is_empty()).then(|| self.load(rel)).flatten() {
            Some(b) => (rel, b),
            None => {
                // A missing file with an extension is a real 404, not an app route.
                let last = rel.rsplit('/').next().unwrap_or("");
                if last.contains('.') {
                    return guard::error(StatusCode::NOT_FOUND, "web.not_found", format!("no file /{rel}"), None);
                }
                match self.load("index.html") {
                    Some(b) => ("index.html", b),
                    None => {
                        let mut r = warp::reply::html(NOT_BUILT).into_response();
                        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                        return r;
                    }
                }
            }
        };
        let mime = mime_guess::from_path(name).first_or_octet_stream();
        let mut resp = Response::new(body.into_owned().into());
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
            h.insert(http::header::CONTENT_TYPE, v);
        }
        let cache = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
        h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static(cache));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_files_falls_back_to_index_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<p>home</p>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app-1a2b.js"), "x").unwrap();
        std::fs::write(dir.path().parent().unwrap().join("secret.txt"), "no").ok();
        let a = Assets::new(Some(dir.path().to_owned()));
        let r = a.serve(&Method::GET, "/assets/app-1a2b.js");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        assert_eq!(r.headers()["content-type"], "text/javascript");
        let r = a.serve(&Method::GET, "/settings/users");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert_eq!(a.serve(&Method::GET, "/missing.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(a.serve(&Method::GET, "/../secret.txt").status(), StatusCode::NOT_FOUND);
        let post = a.serve(&Method::POST, "/");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()["allow"], "GET, HEAD");
    }

    #[test]
    fn says_how_to_build_when_the_dashboard_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let r = Assets::new(Some(dir.path().to_owned())).serve(&Method::GET, "/");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
