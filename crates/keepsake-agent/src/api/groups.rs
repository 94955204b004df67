//! Handlers for custom groups and the permission catalog.

use std::sync::Arc;

use keepsake_api::{Done, GroupInfo, GroupList, GroupUpsert, PermissionCatalog, PermissionInfo, RoleInfo};

use super::ApiError;
use super::contract::{Cx, NoBody, NoQuery};
use crate::Agent;
use crate::auth::{GRANTABLE, Permission, Role};

fn check_permissions(names: &[String]) -> Result<(), ApiError> {
    for n in names {
        if Permission::parse(n).is_none() {
            return Err(ApiError::new(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                "group.unknown_permission",
                format!("`{}` is not a permission; see /api/v1/permissions", super::error::clip(n, 64)),
            ));
        }
    }
    Ok(())
}

pub async fn list(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<GroupList, ApiError> {
    let groups = agent
        .store
        .groups()?
        .into_iter()
        .map(|g| GroupInfo { id: g.id, name: g.name, permissions: g.permissions })
        .collect();
    Ok(GroupList { groups })
}

pub async fn create(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: GroupUpsert) -> Result<GroupInfo, ApiError> {
    check_permissions(&r.permissions)?;
    let id = agent.store.upsert_group(None, r.name.trim(), &r.permissions)?;
    cx.note(|n| {
        n.target = Some(format!("group={}", r.name));
        n.detail = Some(format!("permissions: {}", r.permissions.join(", ")));
    });
    Ok(GroupInfo { id, name: r.name.trim().to_owned(), permissions: r.permissions })
}

pub async fn update(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: GroupUpsert) -> Result<GroupInfo, ApiError> {
    let id = cx.id("id")?;
    check_permissions(&r.permissions)?;
    if !agent.store.groups()?.iter().any(|g| g.id == id) {
        return Err(ApiError::not_found("group.not_found", format!("there is no group with id {id}")));
    }
    agent.store.upsert_group(Some(id), r.name.trim(), &r.permissions)?;
    cx.note(|n| {
        n.target = Some(format!("group={}", r.name));
        n.detail = Some(format!("permissions: {}", r.permissions.join(", ")));
    });
    Ok(GroupInfo { id, name: r.name.trim().to_owned(), permissions: r.permissions })
}

pub async fn delete(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    let id = cx.id("id")?;
    if !agent.store.delete_group(id)? {
        return Err(ApiError::not_found("group.not_found", format!("there is no group with id {id}")));
    }
    Ok(Done::new("group deleted"))
}

pub async fn permissions(_: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<PermissionCatalog, ApiError> {
    let permissions =
        GRANTABLE.iter().map(|p| PermissionInfo { name: p.name().into(), area: p.area().into() }).collect();
    let roles = Role::ALL
        .iter()
        .map(|r| RoleInfo {
            name: r.name().into(),
            permissions: r.permissions().iter().map(|p| p.name().into()).collect(),
        })
        .collect();
    Ok(PermissionCatalog { permissions, roles })
}
