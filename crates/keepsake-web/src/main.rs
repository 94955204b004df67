//! `keepsake-web`: glue only; see the library.

use std::net::SocketAddr;
use std::path::PathBuf;

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
        trusted_proxies: a.trusted_proxies,
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
