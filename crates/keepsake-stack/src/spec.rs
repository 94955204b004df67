//! The stack as data: one `ServiceSpec` per container, and the labels that tie a running
//! container back to its spec.
//!
//! These types say *what* should run; they know nothing of Docker's API (the agent maps
//! them to create-container calls) and nothing of how they were derived (see build.rs).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::error::SpecError;
pub use crate::image::ImageRef;

/// Label keys the agent puts on every container it creates.
pub const LABEL_PROJECT: &str = "app.keepsake.stack"; // value: project ("immich")
pub const LABEL_ROLE: &str = "app.keepsake.role"; // Role::as_str
pub const LABEL_CONFIG: &str = "app.keepsake.config-hash"; // ServiceSpec::config_hash
pub const LABEL_VERSION: &str = "app.keepsake.immich-version"; // "v3.2.2"

/// The four services of Immich's compose file. The declaration order is the start order
/// (compose: the server depends on redis and database; ML before the server so its first
/// requests find it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Database,
    Redis,
    MachineLearning,
    Server,
}

impl Role {
    /// Every role, in start order.
    pub const ALL: [Role; 4] = [Role::Database, Role::Redis, Role::MachineLearning, Role::Server];

    /// "database", "redis", "machine_learning", "server" (the serde names, the label value).
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Database => "database",
            Role::Redis => "redis",
            Role::MachineLearning => "machine_learning",
            Role::Server => "server",
        }
    }

    /// The role whose `as_str` is `s`, e.g. read back from a container's label.
    pub fn from_label(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bind mount: host path -> container path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// A published port (Bridge only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
}

/// A container healthcheck, in Docker's terms (`test` is e.g. ["CMD-SHELL", "…"]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval_s: u32,
    pub timeout_s: u32,
    pub retries: u32,
    pub start_period_s: u32,
}

/// Where the containers live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Network {
    /// A user-defined bridge (production): services find each other by alias.
    Bridge { name: String },
    /// The host's network (tests): every service binds 127.0.0.1 on its own port.
    Host,
}

/// Docker restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    Always,
    UnlessStopped,
}

/// One container, fully described. `Debug` hides values of env keys naming a password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub role: Role,
    /// e.g. "immich_server"
    pub container: String,
    pub image: ImageRef,
    pub env: BTreeMap<String, String>,
    /// None = the image's own
    pub cmd: Option<Vec<String>>,
    pub mounts: Vec<Mount>,
    /// published ports (Bridge only; empty with Host)
    pub ports: Vec<Port>,
    /// None = the image's own HEALTHCHECK
    pub healthcheck: Option<Healthcheck>,
    pub restart: Restart,
    pub shm_size_bytes: Option<u64>,
    pub network: Network,
    /// network aliases on the bridge (compose service names); empty with Host
    pub aliases: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// The fields that define a container: everything but `labels`. Field order is fixed by
/// this struct and maps are sorted, so its JSON is canonical.
#[derive(Serialize)]
struct HashView<'a> {
    role: Role,
    container: &'a str,
    image: &'a ImageRef,
    env: &'a BTreeMap<String, String>,
    cmd: &'a Option<Vec<String>>,
    mounts: Vec<(String, &'a str, bool)>,
    ports: &'a [Port],
    healthcheck: &'a Option<Healthcheck>,
    restart: Restart,
    shm_size_bytes: Option<u64>,
    network: &'a Network,
    aliases: &'a [String],
}

impl ServiceSpec {
    /// Stable hex digest (blake3) of everything that defines the container except `labels`
    /// (canonical JSON of the other fields). The agent stores it as a label to detect drift.
    pub fn config_hash(&self) -> String {
        let view = HashView {
            role: self.role,
            container: &self.container,
            image: &self.image,
            env: &self.env,
            cmd: &self.cmd,
            // Lossy only for non-UTF-8 paths, which `build` rejects; a PathBuf would make
            // serialisation fallible.
            mounts: self
                .mounts
                .iter()
                .map(|m| (m.source.to_string_lossy().into_owned(), m.target.as_str(), m.read_only))
                .collect(),
            ports: &self.ports,
            healthcheck: &self.healthcheck,
            restart: self.restart,
            shm_size_bytes: self.shm_size_bytes,
            network: &self.network,
            aliases: &self.aliases,
        };
        // Serialising strings, numbers, bools and string-keyed maps cannot fail.
        let json = serde_json::to_vec(&view).unwrap_or_default();
        let mut h = blake3::Hasher::new();
        // Versioned domain tag: changing the hashed layout must change every hash.
        h.update(b"keepsake-stack/config-hash/v1\n");
        h.update(&json);
        h.finalize().to_hex().to_string()
    }
}

impl fmt::Debug for ServiceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: BTreeMap<&str, &str> = self
            .env
            .iter()
            .map(|(k, v)| {
                let secret = k.contains("PASSWORD");
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("ServiceSpec")
            .field("role", &self.role)
            .field("container", &self.container)
            .field("image", &self.image)
            .field("env", &env)
            .field("cmd", &self.cmd)
            .field("mounts", &self.mounts)
            .field("ports", &self.ports)
            .field("healthcheck", &self.healthcheck)
            .field("restart", &self.restart)
            .field("shm_size_bytes", &self.shm_size_bytes)
            .field("network", &self.network)
            .field("aliases", &self.aliases)
            .field("labels", &self.labels)
            .finish()
    }
}

/// The whole stack: its project name, its network and its services in start order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSpec {
    pub project: String,
    pub network: Network,
    pub services: Vec<ServiceSpec>,
}

impl StackSpec {
    pub fn service(&self, role: Role) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.role == role)
    }

    /// database, redis, machine learning, server (only those present)
    pub fn start_order(&self) -> Vec<&ServiceSpec> {
        let mut v: Vec<&ServiceSpec> = self.services.iter().collect();
        v.sort_by_key(|s| s.role);
        v
    }
}

/// The container name of a role: prefix + "postgres" | "redis" | "machine_learning" | "server"
/// (build uses exactly this; the agent uses it to find containers of services turned off).
pub fn container_name(prefix: &str, role: Role) -> String {
    let suffix = match role {
        Role::Database => "postgres",
        Role::Redis => "redis",
        Role::MachineLearning => "machine_learning",
        Role::Server => "server",
    };
    format!("{prefix}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_and_order() {
        let names: Vec<&str> = Role::ALL.iter().map(Role::as_str).collect();
        assert_eq!(names, ["database", "redis", "machine_learning", "server"]);
        let mut sorted = Role::ALL;
        sorted.reverse();
        sorted.sort();
        assert_eq!(sorted, Role::ALL);
        for r in Role::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(Role::from_label(r.as_str()), Some(r));
        }
        assert_eq!(Role::from_label("postgres"), None);
    }

    #[test]
    fn container_names_follow_compose() {
        let got: Vec<String> = Role::ALL.iter().map(|r| container_name("immich_", *r)).collect();
        assert_eq!(got, ["immich_postgres", "immich_redis", "immich_machine_learning", "immich_server"]);
    }
}
