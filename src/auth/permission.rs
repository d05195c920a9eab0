//! Admin permissions: a closed set, named in code.
//!
//! Roles are sets of these. Until the roles issue lands there is one built-in role, Full
//! Administrator, which holds them all.

/// Something an admin may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    MainHomepage,
    ViewSystemHealth,
    ManageAdmins,
    ConfigureGeneralSettings,
    ConfigureTwoFactor,
    ViewBannedIps,
    ManageBannedIps,
    ViewMailLog,
}

impl Permission {
    /// Stable identifier, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MainHomepage => "main_homepage",
            Self::ViewSystemHealth => "view_system_health",
            Self::ManageAdmins => "manage_admins",
            Self::ConfigureGeneralSettings => "configure_general_settings",
            Self::ConfigureTwoFactor => "configure_two_factor",
            Self::ViewBannedIps => "view_banned_ips",
            Self::ManageBannedIps => "manage_banned_ips",
            Self::ViewMailLog => "view_mail_log",
        }
    }
}

/// The id of the built-in role that holds every permission.
pub const FULL_ADMINISTRATOR: i64 = 1;

/// Whether a role grants a permission.
pub fn role_grants(role_id: i64, _permission: Permission) -> bool {
    role_id == FULL_ADMINISTRATOR
}
