//! The Keepsake web server: serves the dashboard and forwards `/api/` to the agent's socket.
//!
//! It is deliberately powerless. It runs as an unprivileged user, holds no secrets, and can only do
//! what the agent lets its user do; the agent checks and audits every request anyway. What it adds
//! is browser hygiene the agent should not need to know about: cross-origin mutating requests are
//! refused, request bodies are bounded, security headers are set, and server-sent events are passed
//! through as they come, unbuffered.

pub mod assets;
pub mod guard;
pub mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use warp::Filter;

/// How the web server is set up.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub listen: SocketAddr,
    pub agent_socket: PathBuf,
    /// Serve the dashboard from this folder instead of the files built into the binary.
    pub assets_dir: Option<PathBuf>,
    /// Largest request body forwarded to the agent.
    pub max_body: usize,
    /// Reverse proxies (Caddy) whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot listen on {addr}: {source}. Is another program using that port?")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// All routes of the web server.
pub fn routes(
    config: &WebConfig,
) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone + use<> {
    let proxy =
        Arc::new(proxy::Proxy::new(config.agent_socket.clone(), config.max_body, config.trusted_proxies.clone()));
    let assets = Arc::new(assets::Assets::new(config.assets_dir.clone()));
    let api = warp::path("api")
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::body::stream())
        .then(move |method, path: warp::path::FullPath, query: String, headers, remote, body| {
            let proxy = Arc::clone(&proxy);
            async move { proxy.forward(method, path.as_str(), &query, headers, remote, body).await }
        });
    let site = warp::path::full()
        .and(warp::method())
        .map(move |path: warp::path::FullPath, method| assets.serve(&method, path.as_str()));
    // `site` answers every path, so nothing is ever rejected: no recover step is needed.
    api.or(site).unify().map(guard::with_security_headers)
}

/// Serves until `shutdown` resolves.
pub async fn run(
    config: WebConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    if running_as_root() {
        tracing::warn!("keepsake-web is running as root; it needs no privileges, run it as an unprivileged user");
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| WebError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| WebError::Listen { addr: config.listen, source })?;
    tracing::info!(%addr, agent = %config.agent_socket.display(), "keepsake-web listening on http://{addr}/");
    warp::serve(routes(&config)).incoming(listener).graceful(shutdown).run().await;
    Ok(())
}

/// Whether this process runs as root. Read from /proc rather than through libc: one number does
/// not justify a dependency, and this crate stays free of `unsafe`.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}
