//! The little restore points need from the Immich stack, as an interface: stop and start Immich's
//! server around a restore, stop and start its database container around a restore of the
//! database's files, say which Immich version runs, and name the database container to reach
//! PostgreSQL through (`docker exec`, no TTY, as Immich's own docs do).
//!
//! [`ContainerStack`] implements it over named containers through the Docker engine; the stack
//! subsystem (install, reconcile, update) will provide its own implementation of [`Stack`], which
//! knows the containers it made.

use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{InspectContainerOptions, StartContainerOptions, StopContainerOptions};
use futures_util::future::BoxFuture;

/// How PostgreSQL is reached: through `docker exec` into Immich's database container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseTarget {
    pub container: String,
    /// The role `pg_dump` and `psql` connect as (Immich's `DB_USERNAME`).
    pub user: String,
    /// Immich's database (`DB_DATABASE_NAME`).
    pub database: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot reach the Docker engine at {endpoint}: {why}")]
    Engine { endpoint: String, why: String },
    #[error("cannot {action} container {container}: {why}")]
    Container { action: &'static str, container: String, why: String },
}

/// What restore points need of the Immich stack.
pub trait Stack: Send + Sync {
    /// Stops Immich's server (uploads and the web app), leaving the database running.
    fn stop_server(&self) -> BoxFuture<'_, Result<(), StackError>>;
    /// Starts Immich's server again.
    fn start_server(&self) -> BoxFuture<'_, Result<(), StackError>>;
    /// Stops the database container (to replace its files).
    fn stop_database(&self) -> BoxFuture<'_, Result<(), StackError>>;
    /// Starts the database container and waits until it accepts connections.
    fn start_database(&self) -> BoxFuture<'_, Result<(), StackError>>;
    /// The running Immich version (`1.136.0`), when known.
    fn immich_version(&self) -> BoxFuture<'_, Option<String>>;
    fn database(&self) -> &DatabaseTarget;
    /// The Docker engine the database container runs on.
    fn docker(&self) -> BoxFuture<'_, Result<Docker, StackError>>;
}

/// A [`Stack`] of named containers: Immich's server containers and its database container.
pub struct ContainerStack {
    pub docker_host: String,
    pub server_containers: Vec<String>,
    pub db: DatabaseTarget,
}

const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);

impl ContainerStack {
    async fn connect(&self) -> Result<Docker, StackError> {
        let engine = |why: String| StackError::Engine { endpoint: self.docker_host.clone(), why };
        let path = self
            .docker_host
            .strip_prefix("unix://")
            .ok_or_else(|| engine("only unix:// endpoints are supported".into()))?;
        crate::host::docker::connect(path, DOCKER_TIMEOUT).await.map_err(|e| engine(e.to_string()))
    }

    async fn stop(&self, names: &[String]) -> Result<(), StackError> {
        let docker = self.connect().await?;
        for name in names {
            let opts = StopContainerOptions { t: Some(30), ..Default::default() };
            match docker.stop_container(name, Some(opts)).await {
                // 304: already stopped.
                Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {}
                Err(e) => {
                    return Err(StackError::Container { action: "stop", container: name.clone(), why: e.to_string() });
                }
            }
        }
        Ok(())
    }

    async fn start(&self, names: &[String]) -> Result<(), StackError> {
        let docker = self.connect().await?;
        for name in names {
            match docker.start_container(name, None::<StartContainerOptions>).await {
                Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {}
                Err(e) => {
                    return Err(StackError::Container { action: "start", container: name.clone(), why: e.to_string() });
                }
            }
        }
        Ok(())
    }

    /// Waits until `pg_isready` in the database container says yes (a minute at most).
    async fn wait_database(&self) -> Result<(), StackError> {
        let docker = self.connect().await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let ready = super::database::exec_capture(&docker, &self.db, &["pg_isready", "-U", &self.db.user], None)
                .await
                .map(|o| o.code == 0)
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(StackError::Container {
                    action: "wait for",
                    container: self.db.container.clone(),
                    why: "PostgreSQL did not accept connections within a minute after starting".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Stack for ContainerStack {
    fn stop_server(&self) -> BoxFuture<'_, Result<(), StackError>> {
        Box::pin(self.stop(&self.server_containers))
    }

    fn start_server(&self) -> BoxFuture<'_, Result<(), StackError>> {
        Box::pin(self.start(&self.server_containers))
    }

    fn stop_database(&self) -> BoxFuture<'_, Result<(), StackError>> {
        Box::pin(self.stop(std::slice::from_ref(&self.db.container)))
    }

    fn start_database(&self) -> BoxFuture<'_, Result<(), StackError>> {
        Box::pin(async move {
            self.start(std::slice::from_ref(&self.db.container)).await?;
            self.wait_database().await
        })
    }

    fn immich_version(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            let docker = self.connect().await.ok()?;
            let first = self.server_containers.first()?;
            let c = docker.inspect_container(first, None::<InspectContainerOptions>).await.ok()?;
            image_version(&c.config?.image?)
        })
    }

    fn database(&self) -> &DatabaseTarget {
        &self.db
    }

    fn docker(&self) -> BoxFuture<'_, Result<Docker, StackError>> {
        Box::pin(self.connect())
    }
}

/// The version in an Immich image reference: `ghcr.io/immich-app/immich-server:v1.136.0` → `1.136.0`.
pub fn image_version(image: &str) -> Option<String> {
    let tag = image.rsplit_once('@').map_or(image, |(name, _)| name).rsplit_once(':')?.1;
    let v = tag.strip_prefix('v').unwrap_or(tag);
    (v.split('.').count() == 3 && v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
        .then(|| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_image_references() {
        assert_eq!(image_version("ghcr.io/immich-app/immich-server:v1.136.0").as_deref(), Some("1.136.0"));
        assert_eq!(image_version("127.0.0.1:5000/immich-server:2.5.1@sha256:abc").as_deref(), Some("2.5.1"));
        assert_eq!(image_version("ghcr.io/immich-app/immich-server:release"), None);
        assert_eq!(image_version("busybox"), None);
    }
}
