//! Admin permissions: a closed set, named in code, and the roles that group them.
//!
//! Roles are rows (`roles`, `role_permissions`); a role's permissions are a [`PermissionSet`]
//! loaded with the admin on each admin request. The built-in Full Administrator holds every
//! permission by definition (not by rows), so a permission added in a later version is granted
//! to it without a data migration.

/// Something an admin may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    MainHomepage,
    ListClients,
    ViewClientProfile,
    ManageClientAccounts,
    LoginAsClient,
    ManageAdmins,
    ManageRoles,
    ConfigureGeneralSettings,
    ConfigureTwoFactor,
    ViewBannedIps,
    ManageBannedIps,
    ViewSystemHealth,
    ViewMailLog,
    ViewAuditLog,
    ManageLicenses,
    ApiAccess,
    ManageOidcApplications,
}

impl Permission {
    /// Every permission, in display order.
    pub const ALL: [Self; 17] = [
        Self::MainHomepage,
        Self::ListClients,
        Self::ViewClientProfile,
        Self::ManageClientAccounts,
        Self::LoginAsClient,
        Self::ManageAdmins,
        Self::ManageRoles,
        Self::ConfigureGeneralSettings,
        Self::ConfigureTwoFactor,
        Self::ViewBannedIps,
        Self::ManageBannedIps,
        Self::ViewSystemHealth,
        Self::ViewMailLog,
        Self::ViewAuditLog,
        Self::ManageLicenses,
        Self::ApiAccess,
        Self::ManageOidcApplications,
    ];

    /// Stable identifier, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MainHomepage => "main_homepage",
            Self::ListClients => "list_clients",
            Self::ViewClientProfile => "view_client_profile",
            Self::ManageClientAccounts => "manage_client_accounts",
            Self::LoginAsClient => "login_as_client",
            Self::ManageAdmins => "manage_admins",
            Self::ManageRoles => "manage_roles",
            Self::ConfigureGeneralSettings => "configure_general_settings",
            Self::ConfigureTwoFactor => "configure_two_factor",
            Self::ViewBannedIps => "view_banned_ips",
            Self::ManageBannedIps => "manage_banned_ips",
            Self::ViewSystemHealth => "view_system_health",
            Self::ViewMailLog => "view_mail_log",
            Self::ViewAuditLog => "view_audit_log",
            Self::ManageLicenses => "manage_licenses",
            Self::ApiAccess => "api_access",
            Self::ManageOidcApplications => "manage_oidc_applications",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }

    /// What the permission lets an admin do, as the end of "You need permission to …".
    pub fn action(self) -> &'static str {
        match self {
            Self::MainHomepage => "see the admin dashboard",
            Self::ListClients => "list client accounts",
            Self::ViewClientProfile => "view a client account's profile and users",
            Self::ManageClientAccounts => {
                "change a client account (for example transfer its ownership)"
            }
            Self::LoginAsClient => "sign in to the client area as a client",
            Self::ManageAdmins => "invite, edit, disable and delete administrators",
            Self::ManageRoles => "create, edit and delete roles",
            Self::ConfigureGeneralSettings => {
                "change the general settings and apply the doctor's fixes"
            }
            Self::ConfigureTwoFactor => {
                "configure Duo and turn off other people's two-step verification"
            }
            Self::ViewBannedIps => "see banned addresses",
            Self::ManageBannedIps => "ban and unban addresses",
            Self::ViewSystemHealth => "see System Health",
            Self::ViewMailLog => "see the mail log",
            Self::ViewAuditLog => "see and export the audit log",
            Self::ManageLicenses => "manage software licences",
            Self::ApiAccess => "use the admin API",
            Self::ManageOidcApplications => "manage OpenID Connect applications",
        }
    }

    /// The group the permission is shown in on the role form.
    pub fn group(self) -> &'static str {
        match self {
            Self::MainHomepage | Self::ViewSystemHealth | Self::ViewMailLog => "General",
            Self::ListClients
            | Self::ViewClientProfile
            | Self::ManageClientAccounts
            | Self::LoginAsClient => "Clients",
            Self::ManageAdmins | Self::ManageRoles => "Staff",
            Self::ConfigureGeneralSettings | Self::ConfigureTwoFactor => "Configuration",
            Self::ViewBannedIps | Self::ManageBannedIps | Self::ViewAuditLog => "Security",
            Self::ManageLicenses | Self::ApiAccess | Self::ManageOidcApplications => {
                "Products and API"
            }
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The groups of the role form, in order.
pub const GROUPS: [&str; 6] = [
    "General",
    "Clients",
    "Staff",
    "Configuration",
    "Security",
    "Products and API",
];

/// A set of permissions (a bit per permission).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    /// Every permission.
    pub fn all() -> Self {
        Self(Permission::ALL.iter().fold(0, |acc, p| acc | p.bit()))
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Adds `p`.
    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
    }

    /// The permissions in the set, in display order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions of `self` that `holder` lacks: an admin may grant (through a role they
    /// edit or assign) only what they hold themselves, so `manage_roles` or `manage_admins`
    /// never becomes a way to any other permission.
    #[must_use]
    pub fn beyond(self, holder: Self) -> Self {
        Self(self.0 & !holder.0)
    }

    /// The set of the permissions named by `names` (a form's checkboxes).
    ///
    /// # Errors
    /// The first name that is no permission, so the caller can say which.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        names
            .into_iter()
            .map(|n| Permission::parse(n).ok_or_else(|| n.to_owned()))
            .collect()
    }

    /// The permissions' names, comma-separated, for messages.
    pub fn names(self) -> String {
        self.iter()
            .map(Permission::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = Self::default();
        for p in iter {
            set.insert(p);
        }
        set
    }
}

/// The id of the built-in role that holds every permission.
pub const FULL_ADMINISTRATOR: i64 = 1;

/// [`FULL_ADMINISTRATOR`] as a typed role id, for services.
pub const FULL_ADMINISTRATOR_ROLE: crate::domain::RoleId =
    crate::domain::RoleId(FULL_ADMINISTRATOR);

/// Pages that land an admin after sign-in, in order of preference; the first one the role
/// grants is where `/admin` sends them.
pub const LANDING: [(Permission, &str); 8] = [
    (Permission::MainHomepage, "/admin"),
    (Permission::ListClients, "/admin/clients"),
    (Permission::ViewSystemHealth, "/admin/health"),
    (Permission::ViewBannedIps, "/admin/bans"),
    (Permission::ViewMailLog, "/admin/mail"),
    (Permission::ViewAuditLog, "/admin/audit"),
    (Permission::ManageLicenses, "/admin/licenses"),
    (
        Permission::ManageOidcApplications,
        "/admin/oidc/applications",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_round_trips_and_has_a_group_and_an_action() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert!(GROUPS.contains(&p.group()));
            assert!(!p.action().is_empty());
        }
        let set: PermissionSet = [Permission::ViewMailLog, Permission::ApiAccess]
            .into_iter()
            .collect();
        assert!(set.contains(Permission::ApiAccess) && !set.contains(Permission::ManageRoles));
        assert_eq!(set.iter().count(), 2);
        assert_eq!(PermissionSet::all().iter().count(), Permission::ALL.len());
        assert_eq!(
            PermissionSet::from_names(["api_access", "view_mail_log"]),
            Ok(set)
        );
        assert_eq!(
            PermissionSet::from_names(["api_access", "teleport"]),
            Err("teleport".to_owned())
        );
    }
}
