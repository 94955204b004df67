//! Restore points (work in progress: the API surface first).

use keepsake_api::{
    Job, RestorePlan, RestorePoint, RestorePointKind, RestorePointList, RestorePointSettings, RestoreRequest,
};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Unavailable(String),
}

impl RestoreError {
    pub fn code(&self) -> &'static str {
        "restore.unavailable"
    }
}

pub struct RestorePoints {}

impl RestorePoints {
    fn no() -> RestoreError {
        RestoreError::Unavailable("not yet".into())
    }
    pub async fn list(&self) -> Result<RestorePointList, RestoreError> {
        Err(Self::no())
    }
    pub fn submit_create(&self, _: RestorePointKind, _: Option<String>, _: &str) -> Result<Job, RestoreError> {
        Err(Self::no())
    }
    pub async fn set_pinned(&self, _: &str, _: bool) -> Result<RestorePoint, RestoreError> {
        Err(Self::no())
    }
    pub async fn delete(&self, _: &str) -> Result<(), RestoreError> {
        Err(Self::no())
    }
    pub async fn plan(&self, _: &str, _: &RestoreRequest) -> Result<RestorePlan, RestoreError> {
        Err(Self::no())
    }
    pub async fn submit_restore(&self, _: &str, _: &RestoreRequest, _: &str) -> Result<Job, RestoreError> {
        Err(Self::no())
    }
    pub fn settings(&self) -> Result<RestorePointSettings, RestoreError> {
        Err(Self::no())
    }
    pub fn set_settings(&self, _: &RestorePointSettings) -> Result<RestorePointSettings, RestoreError> {
        Err(Self::no())
    }
    pub fn submit_drill(&self, _: &str) -> Result<Job, RestoreError> {
        Err(Self::no())
    }
    pub async fn submit_reset(&self, _: &str, _: &str) -> Result<Job, RestoreError> {
        Err(Self::no())
    }
    pub async fn submit_undo_reset(&self, _: &str, _: &str) -> Result<Job, RestoreError> {
        Err(Self::no())
    }
}
