//! Settings -> `StackSpec`: the mapping of Immich's official docker-compose.yml onto typed
//! containers, plus the checks that make a bad setting an error here rather than a container
//! that will not start.
//!
//! Must not know Docker's API, the agent or how settings are stored. Compose facts followed
//! (docker/docker-compose.yml, example.env): container names immich_server/…; server
//! mounts UPLOAD_LOCATION:/data and /etc/localtime ro; database env POSTGRES_* with
//! --data-checksums, shm 128 MiB, data at /var/lib/postgresql/data; ML cache at /cache;
//! redis healthcheck `redis-cli ping || exit 1`; restart always; the server, ML and database
//! images bring their own healthchecks.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::SpecError;
use crate::password::MIN_DB_PASSWORD_LEN;
use crate::settings::StackSettings;
use crate::spec::{
    Healthcheck, ImageRef, LABEL_CONFIG, LABEL_PROJECT, LABEL_ROLE, LABEL_VERSION, Mount, Network, Port, Restart, Role,
    ServiceSpec, StackSpec, container_name,
};

/// The compose file's `shm_size: 128mb` for PostgreSQL.
pub const DATABASE_SHM_BYTES: u64 = 128 * 1024 * 1024;
/// Where the server listens inside its container (compose publishes 2283:2283).
pub const SERVER_CONTAINER_PORT: u16 = 2283;
/// Where ML listens on the bridge (IMMICH_MACHINE_LEARNING_URL's default).
pub const ML_CONTAINER_PORT: u16 = 3003;

/// Builds the stack: database, redis, machine learning (if on), server, in that order.
pub fn build(s: &StackSettings) -> Result<StackSpec, SpecError> {
    check(s)?;
    let host = matches!(s.network, Network::Host);
    let mut services = vec![database(s, host), redis(s, host)];
    if s.machine_learning {
        services.push(machine_learning(s, host));
    }
    services.push(server(s, host));
    for svc in &mut services {
        // The config hash is taken last, over everything but the labels themselves.
        let hash = svc.config_hash();
        svc.labels = BTreeMap::from([
            (LABEL_PROJECT.to_string(), s.project.clone()),
            (LABEL_ROLE.to_string(), svc.role.as_str().to_string()),
            (LABEL_VERSION.to_string(), s.version.to_string()),
            (LABEL_CONFIG.to_string(), hash),
        ]);
    }
    Ok(StackSpec { project: s.project.clone(), network: s.network.clone(), services })
}

fn check(s: &StackSettings) -> Result<(), SpecError> {
    if !s.db_password.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SpecError::PasswordCharacters);
    }
    if s.db_password.len() < MIN_DB_PASSWORD_LEN {
        return Err(SpecError::PasswordTooShort { len: s.db_password.len(), min: MIN_DB_PASSWORD_LEN });
    }
    check_path("upload location", &s.upload_location)?;
    check_path("database data location", &s.db_data_location)?;
    if s.machine_learning {
        check_path("model cache", &s.model_cache)?;
    }
    s.server_image().validate()?;
    if s.machine_learning {
        s.ml_image().validate()?;
    }
    s.redis_image.validate()?;
    s.postgres_image.validate()?;
    check_name("database user name", &s.db_username, postgres_ident, POSTGRES_RULE)?;
    check_name("database name", &s.db_name, postgres_ident, POSTGRES_RULE)?;
    check_name("project name", &s.project, docker_name, DOCKER_RULE)?;
    if !s.container_prefix.is_empty() {
        check_name("container prefix", &s.container_prefix, docker_name, DOCKER_RULE)?;
    }
    if let Network::Bridge { name } = &s.network {
        check_name("bridge network name", name, docker_name, DOCKER_RULE)?;
    }
    if let Some(tz) = &s.timezone
        && (tz.is_empty() || !tz.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b)))
    {
        return Err(SpecError::InvalidName {
            what: "time zone",
            value: tz.clone(),
            reason: "use an IANA name such as \"Europe/Berlin\" or \"Etc/UTC\", or none",
        });
    }
    check_ports(s)
}

fn check_path(what: &'static str, p: &Path) -> Result<(), SpecError> {
    if !p.is_absolute() {
        return Err(SpecError::RelativePath { what, path: p.to_path_buf() });
    }
    let unusable = |reason| SpecError::UnusablePath { what, path: p.to_path_buf(), reason };
    let Some(text) = p.to_str() else {
        return Err(unusable("it is not UTF-8, which Docker's API cannot carry; rename the folder"));
    };
    // Docker's "src:dst:mode" bind syntax splits on ':'.
    if text.contains([':', ',']) {
        return Err(unusable("it contains ':' or ',', which Docker's bind syntax splits on; rename the folder"));
    }
    if p == Path::new("/") {
        return Err(unusable("it is the root folder; give the stack a folder of its own"));
    }
    Ok(())
}

fn postgres_ident(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.len() <= 63
}

fn docker_name(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

const POSTGRES_RULE: &str = "use 1-63 of a-z, 0-9 and '_', starting with a letter or '_'";
const DOCKER_RULE: &str = "use letters, digits, '_', '.' and '-', starting with a letter or digit";

fn check_name(what: &'static str, value: &str, ok: fn(&str) -> bool, reason: &'static str) -> Result<(), SpecError> {
    if ok(value) { Ok(()) } else { Err(SpecError::InvalidName { what, value: value.to_string(), reason }) }
}

fn check_ports(s: &StackSettings) -> Result<(), SpecError> {
    let p = s.ports;
    let mut used: Vec<(&'static str, u16)> = vec![("the server", p.server)];
    if matches!(s.network, Network::Host) {
        used.push(("the database", p.database));
        used.push(("redis", p.redis));
        if s.machine_learning {
            used.push(("machine learning", p.machine_learning));
        }
    }
    for (i, &(name, port)) in used.iter().enumerate() {
        if port == 0 {
            return Err(SpecError::PortZero { what: name });
        }
        if let Some(&(first, _)) = used[..i].iter().find(|(_, q)| *q == port) {
            return Err(SpecError::PortConflict { first, second: name, port });
        }
    }
    Ok(())
}

/// The fields every service shares; labels are filled in by `build`.
fn base(s: &StackSettings, role: Role, image: ImageRef, alias: &str, host: bool) -> ServiceSpec {
    ServiceSpec {
        role,
        container: container_name(&s.container_prefix, role),
        image,
        env: BTreeMap::new(),
        cmd: None,
        mounts: Vec::new(),
        ports: Vec::new(),
        healthcheck: None,
        restart: Restart::Always,
        shm_size_bytes: None,
        network: s.network.clone(),
        aliases: if host { Vec::new() } else { vec![alias.to_string()] },
        labels: BTreeMap::new(),
    }
}

fn env(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn database(s: &StackSettings, host: bool) -> ServiceSpec {
    let mut svc = base(s, Role::Database, s.postgres_image.clone(), "database", host);
    svc.env = env(&[
        ("POSTGRES_PASSWORD", s.db_password.clone()),
        ("POSTGRES_USER", s.db_username.clone()),
        ("POSTGRES_DB", s.db_name.clone()),
        ("POSTGRES_INITDB_ARGS", "--data-checksums".to_string()),
    ]);
    if host {
        // postgres reads PGPORT as its port. cmd stays None: the image's own command loads
        // its tuned configuration and VectorChord, and overriding it would drop them.
        svc.env.insert("PGPORT".to_string(), s.ports.database.to_string());
    }
    svc.mounts = vec![Mount {
        source: s.db_data_location.clone(),
        target: "/var/lib/postgresql/data".to_string(),
        read_only: false,
    }];
    svc.shm_size_bytes = Some(DATABASE_SHM_BYTES);
    svc
}

fn redis(s: &StackSettings, host: bool) -> ServiceSpec {
    let mut svc = base(s, Role::Redis, s.redis_image.clone(), "redis", host);
    let ping = if host {
        svc.cmd = Some(
            ["valkey-server", "--bind", "127.0.0.1", "--port", &s.ports.redis.to_string()].map(String::from).to_vec(),
        );
        // redis-cli asks 6379 unless told otherwise.
        format!("redis-cli -h 127.0.0.1 -p {} ping || exit 1", s.ports.redis)
    } else {
        "redis-cli ping || exit 1".to_string()
    };
    // Compose sets only the test; the timings are Docker's defaults, written out so the
    // agent need not know them.
    svc.healthcheck = Some(Healthcheck {
        test: vec!["CMD-SHELL".to_string(), ping],
        interval_s: 30,
        timeout_s: 30,
        retries: 3,
        start_period_s: 0,
    });
    svc
}

fn machine_learning(s: &StackSettings, host: bool) -> ServiceSpec {
    let mut svc = base(s, Role::MachineLearning, s.ml_image(), "immich-machine-learning", host);
    if let Some(tz) = &s.timezone {
        svc.env.insert("TZ".to_string(), tz.clone());
    }
    if host {
        let port = s.ports.machine_learning.to_string();
        // The ML image's start.sh binds "$IMMICH_HOST:$IMMICH_PORT" (default [::]:3003);
        // MACHINE_LEARNING_HOST/PORT are the older names, set too for older images.
        svc.env.extend(env(&[
            ("IMMICH_HOST", "127.0.0.1".to_string()),
            ("IMMICH_PORT", port.clone()),
            ("MACHINE_LEARNING_HOST", "127.0.0.1".to_string()),
            ("MACHINE_LEARNING_PORT", port),
        ]));
    }
    svc.mounts = vec![Mount { source: s.model_cache.clone(), target: "/cache".to_string(), read_only: false }];
    svc
}

fn server(s: &StackSettings, host: bool) -> ServiceSpec {
    let mut svc = base(s, Role::Server, s.server_image(), "immich-server", host);
    svc.env = env(&[
        ("DB_USERNAME", s.db_username.clone()),
        ("DB_PASSWORD", s.db_password.clone()),
        ("DB_DATABASE_NAME", s.db_name.clone()),
    ]);
    if let Some(tz) = &s.timezone {
        svc.env.insert("TZ".to_string(), tz.clone());
    }
    let loopback = "127.0.0.1".to_string();
    if host {
        svc.env.extend(env(&[
            ("IMMICH_HOST", loopback.clone()),
            ("IMMICH_PORT", s.ports.server.to_string()),
            ("DB_HOSTNAME", loopback.clone()),
            ("DB_PORT", s.ports.database.to_string()),
            ("REDIS_HOSTNAME", loopback.clone()),
            ("REDIS_PORT", s.ports.redis.to_string()),
        ]));
    } else {
        svc.env.extend(env(&[("DB_HOSTNAME", "database".to_string()), ("REDIS_HOSTNAME", "redis".to_string())]));
        // Never 0.0.0.0: Docker-published ports bypass the host firewall; Caddy fronts this.
        svc.ports = vec![Port { host_ip: loopback, host_port: s.ports.server, container_port: SERVER_CONTAINER_PORT }];
    }
    if s.machine_learning {
        let url = if host {
            format!("http://127.0.0.1:{}", s.ports.machine_learning)
        } else {
            format!("http://immich-machine-learning:{ML_CONTAINER_PORT}")
        };
        svc.env.insert("IMMICH_MACHINE_LEARNING_URL".to_string(), url);
    } else {
        // server/src/config.ts: machineLearning.enabled = IMMICH_MACHINE_LEARNING_ENABLED !== 'false'
        svc.env.insert("IMMICH_MACHINE_LEARNING_ENABLED".to_string(), "false".to_string());
    }
    svc.mounts = vec![
        Mount { source: s.upload_location.clone(), target: "/data".to_string(), read_only: false },
        Mount { source: "/etc/localtime".into(), target: "/etc/localtime".to_string(), read_only: true },
    ];
    svc
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
