//! The Keepsake web server: serves the dashboard and forwards `/api/` to the agent's socket.
//!
//! It is deliberately powerless. It runs as an unprivileged user, holds no secrets, and can only do
//! what the agent lets its user do; the agent checks and audits every request anyway. What it adds
//! is browser and network hygiene the agent should not need to know about: requests for other
//! names (DNS rebinding) and cross-origin mutating requests are refused, request bodies and slow or
//! surplus connections are bounded, security headers are set, and server-sent events are passed
//! through as they come, unbuffered.

pub mod assets;
pub mod guard;
pub mod proxy;
pub mod server;
pub mod site;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Reverse proxies (Caddy) whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Addresses the dashboard is opened at (`https://keepsake.local`).
    pub public_origins: Vec<site::PublicOrigin>,
    /// Further host names this server answers for.
    pub allowed_hosts: Vec<site::AllowedHost>,
    pub limits: server::Limits,
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot listen on {addr}: {source}. Is another program using that port?")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// All routes of the web server. `site` is built for the address actually listened on.
pub fn routes(
    config: &WebConfig,
    site: site::Site,
) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone + use<> {
    let proxy = Arc::new(proxy::Proxy::new(
        config.agent_socket.clone(),
        config.max_body,
        config.body_timeout,
        config.trusted_proxies.clone(),
    ));
    let assets = Arc::new(assets::Assets::new(config.assets_dir.clone()));
    let site = Arc::new(site);
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<server::ConnInfo>())
        .and(warp::body::stream())
        .then(
            move |method, path: warp::path::FullPath, query: String, headers, from: Option<server::ConnInfo>, body| {
                let (proxy, assets, site) = (Arc::clone(&proxy), Arc::clone(&assets), Arc::clone(&site));
                async move {
                    // Before anything else, reads included: a rebound page could read the answer.
                    let target = from.as_ref().and_then(|f| f.target_authority.as_ref()).map(|a| a.as_str());
                    if let Err(refusal) = site.check(&method, target, &headers) {
                        return site.refusal_response(&method, &refusal);
                    }
                    let path = path.as_str();
                    if path == "/api" || path.starts_with("/api/") {
                        proxy.forward(method, path, &query, headers, from.map(|f| f.peer), body).await
                    } else {
                        assets.serve(&method, path)
                    }
                }
            },
        )
        // The only filter that can reject is the body's, if it was taken twice: a bug, not input.
        .recover(|r: warp::Rejection| async move {
            let msg = format!("keepsake-web could not read the request: {r:?}");
            Ok::<_, std::convert::Infallible>(guard::error(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "web.internal",
                msg,
                None,
            ))
        })
        .unify()
        .map(guard::with_security_headers)
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
    let site = site::Site::new(config.public_origins.clone(), config.allowed_hosts.clone(), addr);
    tracing::info!(
        %addr,
        agent = %config.agent_socket.display(),
        answers_for = %site.describe(),
        "keepsake-web listening on http://{addr}/"
    );
    let routes = routes(&config, site);
    server::serve(listener, routes, config.limits.clone(), config.trusted_proxies.clone(), shutdown).await;
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
