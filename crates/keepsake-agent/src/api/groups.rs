//! Handlers for custom groups and the permission catalog.

use std::sync::Arc;

use keepsake_api::{Done, GroupInfo, GroupList, GroupUpsert, PermissionCatalog, PermissionInfo, RoleInfo};

use super::ApiError;
use super::contract::{Cx, NoBody, NoQuery};
use crate::Agent;
use crate::auth::{GRANTABLE, Role};

pub async fn list(agent: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<GroupList, ApiError> {
    let groups = agent.auth.groups()?.into_iter().map(info).collect();
    Ok(GroupList { groups })
}

fn info(g: crate::store::GroupRow) -> GroupInfo {
    GroupInfo { id: g.id, name: g.name, permissions: g.permissions }
}

pub async fn create(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: GroupUpsert) -> Result<GroupInfo, ApiError> {
    let g = agent.auth.create_group(&r.name, &r.permissions)?;
    cx.note(|n| {
        n.target = Some(format!("group={}", g.name));
        n.detail = Some(format!("permissions: {}", g.permissions.join(", ")));
    });
    Ok(info(g))
}

pub async fn update(agent: Arc<Agent>, cx: Cx, _: NoQuery, r: GroupUpsert) -> Result<GroupInfo, ApiError> {
    let g = agent.auth.update_group(cx.id("id")?, &r.name, &r.permissions)?;
    cx.note(|n| {
        n.target = Some(format!("group={}", g.name));
        n.detail = Some(format!("permissions: {}", g.permissions.join(", ")));
    });
    Ok(info(g))
}

pub async fn delete(agent: Arc<Agent>, cx: Cx, _: NoQuery, _: NoBody) -> Result<Done, ApiError> {
    agent.auth.delete_group(cx.id("id")?)?;
    Ok(Done::new("group deleted"))
}

pub async fn permissions(_: Arc<Agent>, _: Cx, _: NoQuery, _: NoBody) -> Result<PermissionCatalog, ApiError> {
    let permissions =
        GRANTABLE.iter().map(|p| PermissionInfo { name: p.name().into(), area: p.area().into() }).collect();
    let roles = Role::ALL
        .iter()
        .map(|r| RoleInfo { name: (*r).into(), permissions: r.permissions().iter().map(|p| p.name().into()).collect() })
        .collect();
    Ok(PermissionCatalog { permissions, roles })
}
