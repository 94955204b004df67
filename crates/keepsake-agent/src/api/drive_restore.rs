//! Handlers for checking a backup drive, browsing it and restoring from it. Thin: `drives::verify`,
//! `drives::browse` and `drives::restore` do the work; these name the audit target and turn their
//! errors into the API's.
//!
//! `{uuid}` is a filesystem UUID: an enrolled drive, or any attached drive holding a Keepsake
//! backup (one written by another appliance), which can be browsed, checked and restored from
//! without enrolling it.

use std::sync::Arc;

use http::StatusCode;
use keepsake_api::{DriveFileList, DriveFilesQuery, DriveRestoreRequest, DriveVerifyRequest, Job};

use super::ApiError;
use super::contract::{Cx, NoBody, NoQuery};
use crate::Agent;
use crate::drives::restore::DriveOpError;

pub async fn verify(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: DriveVerifyRequest) -> Result<Job, ApiError> {
    let uuid = cx.param("uuid").to_owned();
    cx.note(|n| {
        n.target = Some(format!("drive={uuid}"));
        n.detail = Some(if r.full { "every file" } else { "a sample" }.into());
    });
    Ok(agent.drives.submit_verify(&uuid, r.full, &cx.caller.actor())?)
}

pub async fn files(agent: Arc<Agent>, cx: Cx, q: DriveFilesQuery, _: NoBody) -> Result<DriveFileList, ApiError> {
    let uuid = cx.param("uuid").to_owned();
    Ok(agent.drives.files(&uuid, q.path.as_deref().unwrap_or("")).await?)
}

pub async fn restore(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: DriveRestoreRequest) -> Result<Job, ApiError> {
    let uuid = cx.param("uuid").to_owned();
    cx.note(|n| {
        n.target = Some(format!("drive={uuid}"));
        n.detail = Some(format!("scope {:?}, {} paths", r.scope, r.paths.len()));
    });
    Ok(agent.drives.submit_restore(&agent.restore_points, &uuid, &r, &cx.caller.actor()).await?)
}

impl From<DriveOpError> for ApiError {
    fn from(e: DriveOpError) -> ApiError {
        let code = e.code();
        match e {
            DriveOpError::Restore(e) => e.into(),
            DriveOpError::Jobs(e) => e.into(),
            DriveOpError::Drive(e) => e.into(),
            DriveOpError::NoDrive(_) => ApiError::new(StatusCode::NOT_FOUND, code, e.to_string())
                .with_hint("Plug the drive in; the drives page lists every attached device with its UUID."),
            DriveOpError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, code, e.to_string()),
            DriveOpError::NotABackup(_)
            | DriveOpError::Confirm { .. }
            | DriveOpError::BadPath { .. }
            | DriveOpError::Refused(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string()),
            DriveOpError::Mirror(keepsake_mirror::MirrorError::NotABackup { .. }) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
            }
            DriveOpError::Mirror(keepsake_mirror::MirrorError::DriveGone { .. }) => {
                ApiError::new(StatusCode::CONFLICT, code, e.to_string())
            }
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, e.to_string()),
        }
    }
}
