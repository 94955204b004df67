//! Handlers for backup drives: the list, enrolling, changing and forgetting a drive, formatting,
//! the shared settings, history, "back up now" and eject. Thin: the `drives` module does the work;
//! these name the audit target and keep formatting to owners and admins. Verification, browsing
//! and restoring from a drive are in `drive_restore.rs`.

use std::sync::Arc;

use keepsake_api::{
    BackupHistory, BackupSettings, Done, Drive, DriveConfig, DriveEnroll, DriveFormat, DriveList, Job, NoParams,
};

use super::ApiError;
use super::contract::{Cx, NoBody, NoQuery};
use crate::Agent;
use crate::auth::Identity;

pub async fn list(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<DriveList, ApiError> {
    Ok(agent.drives.list().await?)
}

pub async fn enroll(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: DriveEnroll) -> Result<Drive, ApiError> {
    cx.note(|n| {
        n.target = Some(format!("drive={}", r.uuid));
        n.detail = Some(format!("name {:?}, trigger {:?}", r.config.name, r.config.trigger));
    });
    Ok(agent.drives.enroll(&r).await?)
}

pub async fn update(agent: Arc<Agent>, cx: Cx, _: NoQuery, c: DriveConfig) -> Result<Drive, ApiError> {
    let uuid = cx.param("uuid").to_owned();
    cx.note(|n| {
        n.target = Some(format!("drive={uuid}"));
        n.detail = Some(format!("name {:?}, trigger {:?}, hour {:?}", c.name, c.trigger, c.schedule_hour));
    });
    Ok(agent.drives.update(&uuid, &c).await?)
}

pub async fn forget(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    let uuid = cx.param("uuid").to_owned();
    cx.note(|n| n.target = Some(format!("drive={uuid}")));
    agent.drives.forget(&uuid).await?;
    Ok(Done::new(format!("drive {uuid} forgotten; the backup on it stays")))
}

/// Erasing a drive is for owners and admins (and root), whatever a group grants: other appliances
/// have wiped people's drives by a wrong click.
fn admin_only(cx: &Cx) -> Result<(), ApiError> {
    match &cx.caller.identity {
        Identity::Root => Ok(()),
        Identity::User(u) if u.role.is_admin() => Ok(()),
        _ => Err(ApiError::new(
            http::StatusCode::FORBIDDEN,
            "drive.admin_only",
            "only an owner or an admin can format a drive",
        )
        .with_hint("Ask an owner or admin of this box.")),
    }
}

pub async fn format(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: DriveFormat) -> Result<Job, ApiError> {
    cx.note(|n| {
        n.target = Some(format!("device={}", r.device));
        n.detail = Some(format!(
            "label {:?}, expected filesystem {:?}, confirmation {}, enroll {}",
            r.label,
            r.expect_uuid,
            if r.confirm.is_some() { "typed" } else { "none" },
            r.enroll.is_some()
        ));
    });
    admin_only(&cx)?;
    Ok(agent.drives.submit_format(&r, &cx.caller.actor()).await?)
}

pub async fn settings(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<BackupSettings, ApiError> {
    Ok(agent.drives.settings()?)
}

pub async fn set_settings(
    agent: Arc<Agent>,
    cx: Cx,
    _: NoQuery,
    s: BackupSettings,
) -> Result<BackupSettings, ApiError> {
    let saved = agent.drives.set_settings(&s)?;
    // The passphrase never reaches the audit log: only whether one was set.
    cx.note(|n| {
        n.detail = Some(format!(
            "keep deleted {} days, verify after backup {}, every {:?} days, {:?} {}%, passphrase {}, age key {}",
            saved.keep_deleted_days,
            saved.verify_after_backup,
            saved.verify_every_days,
            saved.verify_depth,
            saved.verify_sample_percent,
            if s.bundle_passphrase.is_some() { "changed" } else { "unchanged" },
            if saved.bundle_recipient.is_some() { "set" } else { "none" }
        ))
    });
    Ok(saved)
}

pub async fn history(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<BackupHistory, ApiError> {
    Ok(agent.drives.history(cx.param("uuid"))?)
}

pub async fn backup(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<Job, ApiError> {
    let uuid = cx.param("uuid").to_owned();
    cx.note(|n| n.target = Some(format!("drive={uuid}")));
    Ok(agent.drives.submit_backup(&uuid, &cx.caller.actor())?)
}

pub async fn eject(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoParams) -> Result<Done, ApiError> {
    let uuid = cx.param("uuid").to_owned();
    cx.note(|n| n.target = Some(format!("drive={uuid}")));
    Ok(Done::new(agent.drives.eject(&uuid).await?))
}
