//! keepsake-stack: the Immich stack as typed data.
//!
//! Owns: the four services of Immich's official docker-compose.yml (database, redis,
//! machine learning, server) as `ServiceSpec`s built from `StackSettings`; the labels and
//! config hash by which the agent recognises its containers; the database password rule;
//! and the version rules an Immich update must obey.
//!
//! Must not know: Docker's API (no bollard: the agent turns a spec into API calls), the
//! agent, jobs, SQLite or HTTP. Everything here is a pure function of its inputs, except
//! password generation, which reads the OS random source.

mod build;
mod error;
mod image;
pub mod password;
mod settings;
pub mod spec;
pub mod version;

pub use build::{DATABASE_SHM_BYTES, ML_CONTAINER_PORT, SERVER_CONTAINER_PORT, build};
pub use password::{
    GENERATED_DB_PASSWORD_LEN, MIN_DB_PASSWORD_LEN, PasswordError, generate_db_password, try_generate_db_password,
    valid_db_password,
};
pub use settings::{
    DEFAULT_ML_REPOSITORY, DEFAULT_POSTGRES_IMAGE, DEFAULT_REDIS_IMAGE, DEFAULT_SERVER_REPOSITORY, StackPorts,
    StackSettings, default_postgres_image, default_redis_image,
};
pub use spec::{
    Healthcheck, ImageRef, LABEL_CONFIG, LABEL_PROJECT, LABEL_ROLE, LABEL_VERSION, Mount, Network, Port, Restart, Role,
    ServiceSpec, SpecError, StackSpec, container_name,
};
pub use version::{BRIDGE_VERSION, ImmichVersion, UpgradeError, VersionError, check_update};
