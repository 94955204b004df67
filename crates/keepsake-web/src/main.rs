//! `keepsake-web`: glue only; see the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// The Keepsake web server: the dashboard, and a checked proxy to the agent. Needs no privileges.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "KEEPSAKE_WEB_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The agent's socket.
    #[arg(long, env = "KEEPSAKE_SOCKET", default_value = keepsake_api::DEFAULT_SOCKET)]
    agent_socket: PathBuf,
    /// Serve the dashboard from this folder instead of the built-in files.
    #[arg(long, env = "KEEPSAKE_WEB_ASSETS")]
    assets: Option<PathBuf>,
    /// Largest request body, in bytes, forwarded to the agent.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body: usize,
    /// A reverse proxy (e.g. Caddy on 127.0.0.1) whose X-Forwarded-For is believed; repeatable.
    #[arg(long = "trusted-proxy", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// An address the dashboard is opened at, as scheme://name[:port]; repeatable. Requests naming
    /// another host are refused (DNS rebinding), and changes must come from one of these origins.
    /// The same variable tells the agent which origin passkeys belong to.
    #[arg(
        long = "public-origin",
        env = "KEEPSAKE_PUBLIC_ORIGIN",
        value_delimiter = ',',
        default_value = "https://keepsake.local"
    )]
    public_origins: Vec<keepsake_web::site::PublicOrigin>,
    /// A further host name (name[:port], any port without one) the dashboard is opened at, e.g. the
    /// box's LAN address; repeatable. localhost, 127.0.0.1 and [::1] are always accepted when
    /// listening on loopback.
    #[arg(long = "allowed-host", env = "KEEPSAKE_WEB_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<keepsake_web::site::AllowedHost>,
    /// Seconds a client has to send a request's headers; also how long an idle kept-alive
    /// connection is kept.
    #[arg(long, env = "KEEPSAKE_WEB_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, env = "KEEPSAKE_WEB_BODY_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout: u64,
    /// Most connections open at once; beyond it new ones wait until one closes.
    #[arg(long, env = "KEEPSAKE_WEB_MAX_CONNECTIONS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Most connections open at once from one client address (an IPv6 /64 counts as one); beyond
    /// it new ones are closed. Trusted proxies are exempt.
    #[arg(long, env = "KEEPSAKE_WEB_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_client: u64,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KEEPSAKE_LOG").unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .init();
    let a = Args::parse();
    let config = keepsake_web::WebConfig {
        listen: a.listen,
        agent_socket: a.agent_socket,
        assets_dir: a.assets,
        max_body: a.max_body,
        body_timeout: Duration::from_secs(a.body_timeout),
        trusted_proxies: a.trusted_proxies,
        public_origins: a.public_origins,
        allowed_hosts: a.allowed_hosts,
        limits: keepsake_web::server::Limits {
            header_timeout: Duration::from_secs(a.header_timeout),
            max_connections: usize::try_from(a.max_connections).unwrap_or(usize::MAX),
            max_connections_per_client: usize::try_from(a.max_connections_per_client).unwrap_or(usize::MAX),
            shutdown_grace: Duration::from_secs(5),
        },
    };
    // Two worker threads are plenty for a dashboard and keep idle memory low.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(keepsake_web::run(config, shutdown_signal()))?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("cannot listen for SIGTERM");
    let mut int = signal(SignalKind::interrupt()).expect("cannot listen for SIGINT");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}
