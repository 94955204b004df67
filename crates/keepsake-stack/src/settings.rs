//! The settings a stack is built from, and their defaults taken from Immich's official
//! docker-compose.yml and example.env.
//!
//! Only data and defaults: the checks and the mapping to containers live in build.rs.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::image::ImageRef;
use crate::spec::Network;
use crate::version::ImmichVersion;

/// From immich-app/immich `docker/docker-compose.yml` at commit 4cff61e035ac (the v2/v3-era
/// file, the newest stored copy; the same digests as shared/reference/immich.md §2). No
/// v3.2.x release tag was reachable, so the agent should re-check these against the
/// release's own docker-compose.yml when bumping.
pub const DEFAULT_REDIS_IMAGE: &str =
    "docker.io/valkey/valkey:9@sha256:546304417feac0874c3dd576e0952c6bb8f06bb4093ea0c9ca303c73cf458f63";
/// Same source as [`DEFAULT_REDIS_IMAGE`]: PostgreSQL 14 with VectorChord 0.4.3 (and
/// pgvecto.rs 0.2.0 kept for migrating older databases).
pub const DEFAULT_POSTGRES_IMAGE: &str = "ghcr.io/immich-app/postgres:14-vectorchord0.4.3-pgvectors0.2.0@sha256:bcf63357191b76a916ae5eb93464d65c07511da41e3bf7a8416db519b40b1c23";
pub const DEFAULT_SERVER_REPOSITORY: &str = "ghcr.io/immich-app/immich-server";
pub const DEFAULT_ML_REPOSITORY: &str = "ghcr.io/immich-app/immich-machine-learning";

/// Host-side ports. In Bridge mode only `server` is used (published on 127.0.0.1); in Host
/// mode every service listens on 127.0.0.1 at its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackPorts {
    pub server: u16,
    pub database: u16,
    pub redis: u16,
    pub machine_learning: u16,
}

impl Default for StackPorts {
    /// The compose file's ports: 2283, 5432, 6379, 3003.
    fn default() -> Self {
        StackPorts { server: 2283, database: 5432, redis: 6379, machine_learning: 3003 }
    }
}

/// Everything that decides the stack. `Debug` hides `db_password`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackSettings {
    /// server and ML always get this same version
    pub version: ImmichVersion,
    pub server_repository: String,
    pub ml_repository: String,
    /// pins, resolved by the agent from the registry
    pub server_digest: Option<String>,
    pub ml_digest: Option<String>,
    pub redis_image: ImageRef,
    pub postgres_image: ImageRef,
    pub machine_learning: bool,
    /// -> /data (IMMICH_MEDIA_LOCATION default since 1.137)
    pub upload_location: PathBuf,
    /// -> /var/lib/postgresql/data
    pub db_data_location: PathBuf,
    /// -> /cache on ML
    pub model_cache: PathBuf,
    /// A-Za-z0-9 only, at least 16 characters (checked by `build`)
    pub db_password: String,
    pub db_username: String,
    pub db_name: String,
    /// production: Bridge{name:"immich"}; tests: Host
    pub network: Network,
    pub ports: StackPorts,
    /// TZ
    pub timezone: Option<String>,
    /// "immich_" -> immich_server, immich_machine_learning, immich_redis, immich_postgres
    pub container_prefix: String,
    pub project: String,
}

/// The compiled-in default valkey image.
pub fn default_redis_image() -> ImageRef {
    // A constant checked by the tests below; it cannot fail to parse.
    ImageRef::parse(DEFAULT_REDIS_IMAGE).unwrap_or_else(|e| panic!("{e}"))
}

/// The compiled-in default PostgreSQL (VectorChord) image.
pub fn default_postgres_image() -> ImageRef {
    ImageRef::parse(DEFAULT_POSTGRES_IMAGE).unwrap_or_else(|e| panic!("{e}"))
}

impl StackSettings {
    /// The compose file's choices, with the data under `data_root`: `library` (uploads),
    /// `postgres` (database files) and `model-cache`.
    pub fn defaults(version: ImmichVersion, data_root: &Path, db_password: String) -> StackSettings {
        StackSettings {
            version,
            server_repository: DEFAULT_SERVER_REPOSITORY.to_string(),
            ml_repository: DEFAULT_ML_REPOSITORY.to_string(),
            server_digest: None,
            ml_digest: None,
            redis_image: default_redis_image(),
            postgres_image: default_postgres_image(),
            machine_learning: true,
            upload_location: data_root.join("library"),
            db_data_location: data_root.join("postgres"),
            model_cache: data_root.join("model-cache"),
            db_password,
            db_username: "postgres".to_string(),
            db_name: "immich".to_string(),
            network: Network::Bridge { name: "immich".to_string() },
            ports: StackPorts::default(),
            timezone: None,
            container_prefix: "immich_".to_string(),
            project: "immich".to_string(),
        }
    }

    /// The server image for `version` ("repo:vX.Y.Z[@digest]").
    pub fn server_image(&self) -> ImageRef {
        ImageRef {
            repository: self.server_repository.clone(),
            tag: self.version.to_string(),
            digest: self.server_digest.clone(),
        }
    }

    /// The machine-learning image, always the server's version.
    pub fn ml_image(&self) -> ImageRef {
        ImageRef {
            repository: self.ml_repository.clone(),
            tag: self.version.to_string(),
            digest: self.ml_digest.clone(),
        }
    }
}

impl fmt::Debug for StackSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackSettings")
            .field("version", &self.version)
            .field("server_repository", &self.server_repository)
            .field("ml_repository", &self.ml_repository)
            .field("server_digest", &self.server_digest)
            .field("ml_digest", &self.ml_digest)
            .field("redis_image", &self.redis_image)
            .field("postgres_image", &self.postgres_image)
            .field("machine_learning", &self.machine_learning)
            .field("upload_location", &self.upload_location)
            .field("db_data_location", &self.db_data_location)
            .field("model_cache", &self.model_cache)
            .field("db_password", &"<redacted>")
            .field("db_username", &self.db_username)
            .field("db_name", &self.db_name)
            .field("network", &self.network)
            .field("ports", &self.ports)
            .field("timezone", &self.timezone)
            .field("container_prefix", &self.container_prefix)
            .field("project", &self.project)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_images_parse_and_are_pinned() {
        let r = default_redis_image();
        assert_eq!(r.tagged(), "docker.io/valkey/valkey:9");
        assert!(r.digest.is_some());
        let p = default_postgres_image();
        assert!(p.tag.contains("vectorchord"));
        assert!(p.digest.is_some());
    }

    #[test]
    fn debug_hides_the_password() {
        let s = StackSettings::defaults(
            ImmichVersion::new(3, 2, 2),
            Path::new("/srv/immich"),
            "Sup3rSecretPassw0rdXYZ".to_string(),
        );
        let d = format!("{s:?}");
        assert!(!d.contains("Sup3rSecret"), "{d}");
        assert!(d.contains("<redacted>"));
    }
}
