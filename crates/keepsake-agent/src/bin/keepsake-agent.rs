//! `keepsake-agent`: the root daemon. Glue only: parse flags, set up logging, run.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use keepsake_agent::AgentConfig;
use keepsake_agent::config::{certificate_checks, resolve_gid, resolve_uid};

/// The Keepsake agent: runs Immich and looks after the box. Serves its API on a Unix socket.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Where to listen.
    #[arg(long, env = "KEEPSAKE_SOCKET", default_value = keepsake_api::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Where the agent keeps its database.
    #[arg(long, env = "KEEPSAKE_STATE_DIR", default_value = "/var/lib/keepsake")]
    state_dir: PathBuf,
    /// Where the photo library lives.
    #[arg(long, env = "KEEPSAKE_DATA_DIR", default_value = "/var/lib/immich")]
    data_dir: PathBuf,
    /// The web server's user (name or uid): the only non-root user allowed on the socket.
    #[arg(long, env = "KEEPSAKE_WEB_USER", default_value = "keepsake-web")]
    web_user: String,
    /// Group (name or gid) that owns the socket; the web user must be a member.
    #[arg(long, env = "KEEPSAKE_SOCKET_GROUP", default_value = "keepsake")]
    socket_group: String,
    /// Docker engine endpoint.
    #[arg(long, env = "DOCKER_HOST", default_value = "unix:///var/run/docker.sock")]
    docker_host: String,
    /// D-Bus address of the system bus.
    #[arg(long, env = "KEEPSAKE_SYSTEMD_BUS", default_value = "unix:path=/run/dbus/system_bus_socket")]
    systemd_bus: String,
    /// Seconds one facility probe may take.
    #[arg(long, default_value_t = 10)]
    probe_timeout: u64,
    /// Address the dashboard is reached at, for passkeys (repeatable; the first names the relying
    /// party). Any port of these hosts is accepted.
    #[arg(
        long = "public-origin",
        env = "KEEPSAKE_PUBLIC_ORIGIN",
        value_delimiter = ',',
        default_value = "https://keepsake.local"
    )]
    public_origins: Vec<url::Url>,
    /// Seconds before the first retry of an alert message that could not be sent (each next
    /// retry waits twice as long, up to 30 minutes).
    #[arg(long, default_value_t = 30)]
    notify_retry_secs: u64,
    /// Seconds between readings of ZFS pool health and free space (0: do not watch).
    #[arg(long, default_value_t = 300)]
    pool_poll_secs: u64,
    /// Do not follow the Docker engine's container events (no crash or health alerts).
    #[arg(long)]
    no_container_watch: bool,
    /// A certificate to watch for expiry: connect to HOST:PORT and read the certificate served for
    /// NAME (repeatable; `none`: watch no certificate).
    #[arg(long = "certificate-check", value_name = "NAME@HOST:PORT", default_value = "immich.local@127.0.0.1:443")]
    certificate_checks: Vec<String>,
    /// Seconds between readings of the certificates (0: do not watch).
    #[arg(long, default_value_t = 6 * 3600)]
    certificate_check_secs: u64,
    /// The ZFS dataset holding Immich's `library` and `postgres` datasets (e.g. `tank/keepsake`);
    /// without it there are no restore points.
    #[arg(long, env = "KEEPSAKE_ZFS_ROOT")]
    zfs_root: Option<String>,
    /// Where restore points keep their dumps, configuration and manifests (default: STATE_DIR/restore-points).
    #[arg(long)]
    restore_points_dir: Option<PathBuf>,
    /// A host configuration file saved in every restore point when it exists (repeatable: the
    /// generated options.nix, the settings options.json).
    #[arg(long = "config-file", value_name = "PATH")]
    config_files: Vec<PathBuf>,
    /// Immich's database container.
    #[arg(long, default_value = "immich_postgres")]
    immich_db_container: String,
    /// The PostgreSQL role Immich uses (DB_USERNAME).
    #[arg(long, default_value = "postgres")]
    immich_db_user: String,
    /// Immich's database (DB_DATABASE_NAME).
    #[arg(long, default_value = "immich")]
    immich_db_name: String,
    /// Immich's server container, stopped around a restore (repeatable).
    #[arg(long = "immich-server-container", default_value = "immich_server")]
    immich_server_containers: Vec<String>,
    /// Where backup drives are mounted, each at DRIVES_DIR/<filesystem UUID>.
    #[arg(long, default_value = "/run/keepsake/drives")]
    drives_dir: PathBuf,
    /// Do not follow udev (plugged-in drives then start no backup by themselves).
    #[arg(long)]
    no_drive_hotplug: bool,
    /// Seconds between looks at the drive schedule (daily backups, periodic verification).
    #[arg(long, default_value_t = 60)]
    drive_schedule_tick_secs: u64,
    #[command(flatten)]
    stack: StackArgs,
}

/// How the Immich stack runs (see `keepsake_agent::stack::StackConfig`).
#[derive(clap::Args, Debug)]
struct StackArgs {
    /// The Immich version a first install runs.
    #[arg(long, default_value = keepsake_agent::stack::DEFAULT_IMMICH_VERSION)]
    immich_version: String,
    #[arg(long, default_value = "ghcr.io/immich-app/immich-server")]
    immich_server_repo: String,
    #[arg(long, default_value = "ghcr.io/immich-app/immich-machine-learning")]
    immich_ml_repo: String,
    /// Valkey image (`repo:tag@digest`; default: the one Immich's compose file pins).
    #[arg(long)]
    immich_redis_image: Option<String>,
    /// Immich's PostgreSQL image (`repo:tag@digest`; default: the one Immich's compose file pins).
    #[arg(long)]
    immich_postgres_image: Option<String>,
    /// Immich's upload location (default: --data-dir).
    #[arg(long)]
    immich_library_dir: Option<PathBuf>,
    /// The database's data directory.
    #[arg(long, default_value = "/var/lib/keepsake-postgres")]
    immich_postgres_dir: PathBuf,
    /// Machine learning's model cache (default: STATE_DIR/model-cache).
    #[arg(long)]
    immich_model_cache_dir: Option<PathBuf>,
    /// The stack's bridge network, or `host` (every service on 127.0.0.1 at its port; for tests).
    #[arg(long, default_value = "immich")]
    stack_network: String,
    /// Where the server is published on 127.0.0.1 (Caddy fronts it).
    #[arg(long, default_value_t = 2283)]
    immich_port: u16,
    /// Ports of the other services with `--stack-network host`.
    #[arg(long, default_value_t = 5432)]
    immich_db_port: u16,
    #[arg(long, default_value_t = 6379)]
    immich_redis_port: u16,
    #[arg(long, default_value_t = 3003)]
    immich_ml_port: u16,
    /// Container names start with this.
    #[arg(long, default_value = "immich_")]
    stack_container_prefix: String,
    /// Seconds an install waits for every service to be healthy (migrations can be slow).
    #[arg(long, default_value_t = 600)]
    stack_health_timeout_secs: u64,
    /// Seconds a stop waits before it kills.
    #[arg(long, default_value_t = 30)]
    stack_stop_grace_secs: u64,
}

impl StackArgs {
    fn config(
        self,
        docker_host: &str,
        data_dir: &std::path::Path,
        state_dir: &std::path::Path,
    ) -> keepsake_agent::stack::StackConfig {
        use keepsake_stack::{Network, StackPorts};
        keepsake_agent::stack::StackConfig {
            docker_host: docker_host.to_owned(),
            library_dir: self.immich_library_dir.unwrap_or_else(|| data_dir.to_path_buf()),
            postgres_dir: self.immich_postgres_dir,
            model_cache_dir: self.immich_model_cache_dir.unwrap_or_else(|| state_dir.join("model-cache")),
            server_repository: self.immich_server_repo,
            ml_repository: self.immich_ml_repo,
            redis_image: self.immich_redis_image,
            postgres_image: self.immich_postgres_image,
            default_version: self.immich_version,
            network: if self.stack_network == "host" {
                Network::Host
            } else {
                Network::Bridge { name: self.stack_network }
            },
            ports: StackPorts {
                server: self.immich_port,
                database: self.immich_db_port,
                redis: self.immich_redis_port,
                machine_learning: self.immich_ml_port,
            },
            container_prefix: self.stack_container_prefix,
            health_timeout: Duration::from_secs(self.stack_health_timeout_secs.max(1)),
            stop_grace: Duration::from_secs(self.stack_stop_grace_secs),
        }
    }
}

/// This box's name, recorded on each backup drive (so a drive says which appliance wrote it).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "keepsake".into())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KEEPSAKE_LOG").unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .init();
    let args = Args::parse();
    let points_dir = args.restore_points_dir.clone().unwrap_or_else(|| args.state_dir.join("restore-points"));
    let config = AgentConfig {
        web_uid: resolve_uid(&args.web_user).context("--web-user")?,
        socket_gid: Some(resolve_gid(&args.socket_group).context("--socket-group")?),
        socket: args.socket,
        state_dir: args.state_dir.clone(),
        data_dir: args.data_dir.clone(),
        docker_host: args.docker_host.clone(),
        systemd_bus: args.systemd_bus,
        probe_timeout: Duration::from_secs(args.probe_timeout.max(1)),
        public_origins: args.public_origins,
        notify_retry_base: Duration::from_secs(args.notify_retry_secs.max(1)),
        pool_poll: Duration::from_secs(args.pool_poll_secs),
        watch_containers: !args.no_container_watch,
        certificate_checks: certificate_checks(&args.certificate_checks)?,
        certificate_check: Duration::from_secs(args.certificate_check_secs),
        restore_points: keepsake_agent::restore_points::RestorePointsConfig {
            zfs_root: args.zfs_root,
            points_dir: points_dir.clone(),
            config_files: args.config_files.clone(),
        },
        immich_db: keepsake_agent::restore_points::DatabaseTarget {
            container: args.immich_db_container,
            user: args.immich_db_user,
            database: args.immich_db_name,
        },
        immich_server_containers: args.immich_server_containers,
        stack: args.stack.config(&args.docker_host, &args.data_dir, &args.state_dir),
        drives: keepsake_agent::drives::DrivesConfig {
            drives_dir: args.drives_dir,
            upload_location: args.data_dir.clone(),
            staging_dir: args.state_dir.join("drive-staging"),
            points_dir: points_dir.clone(),
            config_files: args.config_files.clone(),
            hotplug: !args.no_drive_hotplug,
            schedule_tick: Duration::from_secs(args.drive_schedule_tick_secs.max(1)),
            written_by: host_name(),
        },
    };
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(keepsake_agent::run(config, shutdown_signal()))?;
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
    tracing::info!("shutting down");
}
