//! The app's own URLs that more than one file names: each realm's home, sign-in, reset,
//! security, password and sessions pages, the pages an admin's landing and the signed-in bars
//! link to, and the prefixes of the links that carry a secret token.
//!
//! Services write some of them into answers and emails (the verify answer's reissue address,
//! reset and verification links), front ends redirect to them and draw links to them, the
//! pipeline routes on the prefixes; so they live here, below every layer, spelled once. The
//! route table (`web/routes.rs`) still writes each route out, axum pattern and all, as the one
//! list of what the server answers; `tests/api/paths.rs` checks that every path here is one of
//! its routes, so a path renamed in one place fails a test instead of a link. Paths named by
//! one file only (a page's own form actions, `?done=` redirects) stay in that file.
//!
//! Per-realm paths are [`Realm`] methods, so code that knows its realm never branches on it.

use super::Realm;
use super::id::ClientId;

/// The client area's home, where a client lands after signing in.
pub const CLIENT_HOME: &str = "/clientarea";
/// The client sign-in form.
pub const CLIENT_LOGIN: &str = "/login";
/// The client's second-factor step of a sign-in (its sub-pages follow it).
pub const CLIENT_SECOND_FACTOR: &str = "/login/2fa";
/// The client's request for a password reset link.
pub const CLIENT_RESET: &str = "/password/reset";
/// The client's reset link; the token follows.
pub const CLIENT_RESET_LINK: &str = "/password/reset/";
/// The client's second factors.
pub const CLIENT_SECURITY: &str = "/account/security";
/// The client's password change.
pub const CLIENT_PASSWORD: &str = "/account/password";
/// The client's sessions.
pub const CLIENT_SESSIONS: &str = "/account/sessions";
/// Registration of a new client account.
pub const REGISTER: &str = "/register";
/// The active account's licences; verify answers name it as where a licence is reissued.
pub const ACCOUNT_LICENSES: &str = "/account/licenses";
/// The active account's users.
pub const ACCOUNT_USERS: &str = "/account/users";
/// The active account's company profile.
pub const ACCOUNT_PROFILE: &str = "/account/profile";
/// An invitation into a client account; the token follows.
pub const MEMBER_INVITE: &str = "/invite/";
/// An email verification link; the token follows.
pub const VERIFY_EMAIL: &str = "/verify-email/";

/// The admin area's home (the dashboard); every admin path is it or below it.
pub const ADMIN_HOME: &str = "/admin";
/// The admin sign-in form.
pub const ADMIN_LOGIN: &str = "/admin/login";
/// The admin's second-factor step of a sign-in (its sub-pages follow it).
pub const ADMIN_SECOND_FACTOR: &str = "/admin/login/2fa";
/// The admin's request for a password reset link.
pub const ADMIN_RESET: &str = "/admin/password/reset";
/// The admin's reset link; the token follows.
pub const ADMIN_RESET_LINK: &str = "/admin/password/reset/";
/// The admin's second factors.
pub const ADMIN_SECURITY: &str = "/admin/account/security";
/// The admin's password change.
pub const ADMIN_PASSWORD: &str = "/admin/account/password";
/// The admin's sessions.
pub const ADMIN_SESSIONS: &str = "/admin/sessions";
/// The first administrator's setup link; the token follows.
pub const ADMIN_SETUP: &str = "/admin/setup/";
/// An invitation to become an administrator; the token follows.
pub const ADMIN_INVITE: &str = "/admin/invite/";
/// The administrators.
pub const ADMIN_ADMINS: &str = "/admin/admins";
/// The roles.
pub const ADMIN_ROLES: &str = "/admin/roles";
/// The client accounts ([`admin_client`] for one).
pub const ADMIN_CLIENTS: &str = "/admin/clients";
/// System Health.
pub const ADMIN_HEALTH: &str = "/admin/health";
/// The banned addresses.
pub const ADMIN_BANS: &str = "/admin/bans";
/// The mail log.
pub const ADMIN_MAIL: &str = "/admin/mail";
/// The audit log.
pub const ADMIN_AUDIT: &str = "/admin/audit";
/// Products, licences and signing keys ([`admin_license`] for one licence).
pub const ADMIN_LICENSES: &str = "/admin/licenses";

/// The machine endpoints' prefix: no session, no CSRF token, any host (`web::api::is_api`).
pub const API: &str = "/api/";
/// The load balancer's health check, answered before any session or origin rule.
pub const HEALTHZ: &str = "/healthz";
/// The compiled-in stylesheet and other static files.
pub const STATIC: &str = "/static/";

/// Every prefix whose remainder is a secret token (redacted in logs).
pub const TOKEN_LINKS: [&str; 6] = [
    MEMBER_INVITE,
    ADMIN_SETUP,
    ADMIN_INVITE,
    CLIENT_RESET_LINK,
    ADMIN_RESET_LINK,
    VERIFY_EMAIL,
];

/// One client account's admin page.
pub fn admin_client(id: ClientId) -> String {
    format!("{ADMIN_CLIENTS}/{id}")
}

/// One licence's admin page.
pub fn admin_license(id: i64) -> String {
    format!("{ADMIN_LICENSES}/{id}")
}

/// Whether a path belongs to the admin area (`/admin` or below it, not `/administrator`).
pub fn is_admin(path: &str) -> bool {
    path.strip_prefix(ADMIN_HOME)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl Realm {
    /// The realm whose area a path is in.
    pub fn of_path(path: &str) -> Self {
        if is_admin(path) {
            Self::Admin
        } else {
            Self::Client
        }
    }

    /// Where a signed-in session of this realm lands.
    pub fn home_path(self) -> &'static str {
        match self {
            Self::Client => CLIENT_HOME,
            Self::Admin => ADMIN_HOME,
        }
    }

    /// The sign-in form.
    pub fn login_path(self) -> &'static str {
        match self {
            Self::Client => CLIENT_LOGIN,
            Self::Admin => ADMIN_LOGIN,
        }
    }

    /// The second-factor step of a sign-in.
    pub fn second_factor_path(self) -> &'static str {
        match self {
            Self::Client => CLIENT_SECOND_FACTOR,
            Self::Admin => ADMIN_SECOND_FACTOR,
        }
    }

    /// The request for a password reset link.
    pub fn reset_path(self) -> &'static str {
        match self {
            Self::Client => CLIENT_RESET,
            Self::Admin => ADMIN_RESET,
        }
    }

    /// The prefix of a reset link; the token follows.
    pub fn reset_link_prefix(self) -> &'static str {
        match self {
            Self::Client => CLIENT_RESET_LINK,
            Self::Admin => ADMIN_RESET_LINK,
        }
    }

    /// The second-factor (security) page.
    pub fn security_path(self) -> &'static str {
        match self {
            Self::Client => CLIENT_SECURITY,
            Self::Admin => ADMIN_SECURITY,
        }
    }

    /// The password change page.
    pub fn password_path(self) -> &'static str {
        match self {
            Self::Client => CLIENT_PASSWORD,
            Self::Admin => ADMIN_PASSWORD,
        }
    }

    /// The sessions page.
    pub fn sessions_path(self) -> &'static str {
        match self {
            Self::Client => CLIENT_SESSIONS,
            Self::Admin => ADMIN_SESSIONS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_paths_are_the_admin_home_and_below_it_only() {
        for path in [ADMIN_HOME, ADMIN_LOGIN, ADMIN_SETUP, "/admin/licenses/3"] {
            assert!(is_admin(path), "{path}");
            assert_eq!(Realm::of_path(path), Realm::Admin, "{path}");
        }
        for path in [CLIENT_HOME, CLIENT_LOGIN, "/administrator", "/", API] {
            assert!(!is_admin(path), "{path}");
            assert_eq!(Realm::of_path(path), Realm::Client, "{path}");
        }
    }

    #[test]
    fn every_realm_path_is_in_its_realm_and_a_link_prefix_extends_its_form() {
        for realm in Realm::ALL {
            for path in [
                realm.home_path(),
                realm.login_path(),
                realm.second_factor_path(),
                realm.reset_path(),
                realm.reset_link_prefix(),
                realm.security_path(),
                realm.password_path(),
                realm.sessions_path(),
            ] {
                assert_eq!(Realm::of_path(path), realm, "{path}");
            }
            assert_eq!(
                realm.reset_link_prefix(),
                format!("{}/", realm.reset_path())
            );
            assert!(
                realm
                    .second_factor_path()
                    .starts_with(&format!("{}/", realm.login_path()))
            );
        }
    }

    #[test]
    fn one_record_pages_extend_their_lists() {
        assert_eq!(admin_client(ClientId(7)), "/admin/clients/7");
        assert_eq!(admin_license(3), "/admin/licenses/3");
    }
}
