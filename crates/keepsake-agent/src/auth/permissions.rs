//! What can be allowed, and the built-in roles. Every API route names one [`Permission`]; a user's
//! permissions are their role's plus those of their groups.

use std::collections::BTreeSet;

/// Declares the grantable permissions once: each variant with its wire name and its area.
macro_rules! permissions {
    ($($variant:ident => $name:literal, $area:literal;)*) => {
        /// A thing a caller may be allowed to do. Grouped by area; the wire name is `area.action`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission {
            /// Anyone who can reach the API (login, first-run setup, liveness, the API description).
            Public,
            /// Any signed-in user (their own account, password, second factors and sessions).
            Authenticated,
            $($variant,)*
        }

        /// Every permission a role or group can hold, in display order.
        pub const GRANTABLE: &[Permission] = &[$(Permission::$variant,)*];

        impl Permission {
            pub fn name(self) -> &'static str {
                match self {
                    Permission::Public => "public",
                    Permission::Authenticated => "authenticated",
                    $(Permission::$variant => $name,)*
                }
            }

            /// The area a permission belongs to, as shown on the groups page.
            pub fn area(self) -> &'static str {
                match self {
                    Permission::Public | Permission::Authenticated => "account",
                    $(Permission::$variant => $area,)*
                }
            }
        }
    };
}

permissions! {
    HostView => "host.view", "host settings";
    HostCheck => "host.check", "host settings";
    HostSettings => "host.settings", "host settings";
    JobsView => "jobs.view", "jobs";
    JobsCancel => "jobs.cancel", "jobs";
    StackView => "stack.view", "stack";
    StackManage => "stack.manage", "stack";
    UpdatesView => "updates.view", "updates";
    UpdatesManage => "updates.manage", "updates";
    RestorePointsView => "restore_points.view", "restore points";
    RestorePointsManage => "restore_points.manage", "restore points";
    RestoreRun => "restore.run", "restore";
    BackupsView => "backups.view", "backups and drives";
    BackupsManage => "backups.manage", "backups and drives";
    DrivesManage => "drives.manage", "backups and drives";
    DrivesFormat => "drives.format", "backups and drives";
    UsersView => "users.view", "users";
    UsersManage => "users.manage", "users";
    AuditView => "audit.view", "audit";
    NotificationsView => "notifications.view", "notifications";
    NotificationsManage => "notifications.manage", "notifications";
    ImmichAdmin => "immich.admin", "Immich admin";
}

use Permission::*;

impl Permission {
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

/// The wire form of a role is the API's own enum; the two are the same four names.
impl From<Role> for keepsake_api::Role {
    fn from(r: Role) -> keepsake_api::Role {
        match r {
            Role::Owner => keepsake_api::Role::Owner,
            Role::Admin => keepsake_api::Role::Admin,
            Role::Operator => keepsake_api::Role::Operator,
            Role::Viewer => keepsake_api::Role::Viewer,
        }
    }
}

impl From<keepsake_api::Role> for Role {
    fn from(r: keepsake_api::Role) -> Role {
        match r {
            keepsake_api::Role::Owner => Role::Owner,
            keepsake_api::Role::Admin => Role::Admin,
            keepsake_api::Role::Operator => Role::Operator,
            keepsake_api::Role::Viewer => Role::Viewer,
        }
    }
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
