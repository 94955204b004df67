//! What can be allowed, and the built-in roles. Every API route names one [`Permission`]; a user's
//! permissions are their role's plus those of their groups.

use std::collections::BTreeSet;

/// A thing a caller may be allowed to do. Grouped by area; the wire name is `area.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Anyone who can reach the API (login, first-run setup, liveness, the API description).
    Public,
    /// Any signed-in user (their own account, password, second factors and sessions).
    Authenticated,
    HostView,
    HostCheck,
    HostSettings,
    JobsView,
    JobsCancel,
    StackView,
    StackManage,
    UpdatesView,
    UpdatesManage,
    RestorePointsView,
    RestorePointsManage,
    RestoreRun,
    BackupsView,
    BackupsManage,
    UsersView,
    UsersManage,
    AuditView,
    NotificationsView,
    NotificationsManage,
    ImmichAdmin,
}

use Permission::*;

/// Every permission a role or group can hold, in display order.
pub const GRANTABLE: &[Permission] = &[
    HostView,
    HostCheck,
    HostSettings,
    JobsView,
    JobsCancel,
    StackView,
    StackManage,
    UpdatesView,
    UpdatesManage,
    RestorePointsView,
    RestorePointsManage,
    RestoreRun,
    BackupsView,
    BackupsManage,
    UsersView,
    UsersManage,
    AuditView,
    NotificationsView,
    NotificationsManage,
    ImmichAdmin,
];

impl Permission {
    pub fn name(self) -> &'static str {
        match self {
            Public => "public",
            Authenticated => "authenticated",
            HostView => "host.view",
            HostCheck => "host.check",
            HostSettings => "host.settings",
            JobsView => "jobs.view",
            JobsCancel => "jobs.cancel",
            StackView => "stack.view",
            StackManage => "stack.manage",
            UpdatesView => "updates.view",
            UpdatesManage => "updates.manage",
            RestorePointsView => "restore_points.view",
            RestorePointsManage => "restore_points.manage",
            RestoreRun => "restore.run",
            BackupsView => "backups.view",
            BackupsManage => "backups.manage",
            UsersView => "users.view",
            UsersManage => "users.manage",
            AuditView => "audit.view",
            NotificationsView => "notifications.view",
            NotificationsManage => "notifications.manage",
            ImmichAdmin => "immich.admin",
        }
    }

    /// The area a permission belongs to, as shown on the groups page.
    pub fn area(self) -> &'static str {
        match self {
            Public | Authenticated => "account",
            HostView | HostCheck | HostSettings => "host settings",
            JobsView | JobsCancel => "jobs",
            StackView | StackManage => "stack",
            UpdatesView | UpdatesManage => "updates",
            RestorePointsView | RestorePointsManage => "restore points",
            RestoreRun => "restore",
            BackupsView | BackupsManage => "backups and drives",
            UsersView | UsersManage => "users",
            AuditView => "audit",
            NotificationsView | NotificationsManage => "notifications",
            ImmichAdmin => "Immich admin",
        }
    }

    pub fn parse(name: &str) -> Option<Permission> {
        GRANTABLE.iter().copied().find(|p| p.name() == name)
    }
}

/// The built-in roles. Owner and admin hold everything; only an owner can change an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Owner,
    Admin,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Operator, Role::Viewer];

    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Owner and admin: the roles "require a second factor for admins" applies to.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    pub fn permissions(self) -> BTreeSet<Permission> {
        match self {
            Role::Owner | Role::Admin => GRANTABLE.iter().copied().collect(),
            // Runs the box day to day: everything but people, secrets, restores and Immich admin.
            Role::Operator => [
                HostView,
                HostCheck,
                JobsView,
                JobsCancel,
                StackView,
                StackManage,
                UpdatesView,
                UpdatesManage,
                RestorePointsView,
                RestorePointsManage,
                BackupsView,
                BackupsManage,
                NotificationsView,
            ]
            .into_iter()
            .collect(),
            Role::Viewer => {
                [HostView, JobsView, StackView, UpdatesView, RestorePointsView, BackupsView, NotificationsView]
                    .into_iter()
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for p in GRANTABLE {
            assert_eq!(Permission::parse(p.name()), Some(*p));
            assert!(seen.insert(p.name()));
        }
        assert_eq!(Permission::parse("public"), None, "public is not grantable");
    }

    #[test]
    fn roles_nest() {
        let viewer = Role::Viewer.permissions();
        let operator = Role::Operator.permissions();
        let admin = Role::Admin.permissions();
        assert!(viewer.is_subset(&operator) && operator.is_subset(&admin));
        assert!(!operator.contains(&UsersManage) && !operator.contains(&HostSettings));
        assert_eq!(Role::Owner.permissions(), admin);
    }
}
