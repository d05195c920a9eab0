//! Page templates (compiled in, auto-escaped) and the data each one needs.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::auth::client_permission::ClientPermission;
use crate::auth::permission::{Permission, PermissionSet};
use crate::web::extract::ActiveAccount;

/// The signed-in navigation bar.
pub struct Nav {
    pub admin: bool,
    pub name: String,
    pub csrf: String,
    /// The pages this person may open, in bar order: a link that can only lead to "Access
    /// denied" is left out rather than shown.
    pub links: Vec<NavLink>,
    /// While an admin is signed in as a client: "who is impersonated, by whom" for the banner.
    pub impersonation: Option<(String, String)>,
}

/// One link of the bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
}

const fn link(href: &'static str, label: &'static str) -> NavLink {
    NavLink { href, label }
}

/// The admin bar: each page with the permission that opens it (`None`: every admin's own page).
const ADMIN_LINKS: [(NavLink, Option<Permission>); 16] = [
    (link("/admin", "Dashboard"), Some(Permission::MainHomepage)),
    (
        link("/admin/health", "System Health"),
        Some(Permission::ViewSystemHealth),
    ),
    (
        link("/admin/scheduler", "Tasks"),
        Some(Permission::ViewSystemHealth),
    ),
    (link("/admin/bans", "Bans"), Some(Permission::ViewBannedIps)),
    (link("/admin/mail", "Mail"), Some(Permission::ViewMailLog)),
    (
        link("/admin/audit", "Audit log"),
        Some(Permission::ViewAuditLog),
    ),
    (
        link("/admin/clients", "Clients"),
        Some(Permission::ListClients),
    ),
    (
        link("/admin/licenses", "Licences"),
        Some(Permission::ManageLicenses),
    ),
    (
        link("/admin/oidc/applications", "OIDC"),
        Some(Permission::ManageOidcApplications),
    ),
    (
        link("/admin/admins", "Admins"),
        Some(Permission::ManageAdmins),
    ),
    (link("/admin/roles", "Roles"), Some(Permission::ManageRoles)),
    (
        link("/admin/settings", "Settings"),
        Some(Permission::ConfigureGeneralSettings),
    ),
    (
        link("/admin/two-factor", "Two-step"),
        Some(Permission::ConfigureTwoFactor),
    ),
    (link("/admin/sessions", "Sessions"), None),
    (link("/admin/account/password", "Password"), None),
    (link("/admin/account/security", "Security"), None),
];

/// Who a client-area page is open to.
#[derive(Clone, Copy)]
enum Opens {
    Everyone,
    /// Refused during "login as client": the client's own credentials, second factors, sessions.
    OwnUserOnly,
    Owner,
    Permission(ClientPermission),
}

const CLIENT_LINKS: [(NavLink, Opens); 9] = [
    (link("/clientarea", "Home"), Opens::Everyone),
    (link("/account/sessions", "Sessions"), Opens::OwnUserOnly),
    (link("/account/users", "Users"), Opens::Owner),
    (
        link("/account/licenses", "Licences"),
        Opens::Permission(ClientPermission::Products),
    ),
    (
        link("/account/profile", "Profile"),
        Opens::Permission(ClientPermission::Profile),
    ),
    (link("/account/switch", "Accounts"), Opens::Everyone),
    (link("/account/email", "Email"), Opens::OwnUserOnly),
    (link("/account/password", "Password"), Opens::OwnUserOnly),
    (link("/account/security", "Security"), Opens::OwnUserOnly),
];

/// The admin bar's links for an admin whose role grants `permissions`.
pub fn admin_links(permissions: PermissionSet) -> Vec<NavLink> {
    ADMIN_LINKS
        .iter()
        .filter(|(_, needs)| needs.is_none_or(|p| permissions.contains(p)))
        .map(|(l, _)| *l)
        .collect()
}

/// The client bar's links in the active `account` (none: the user belongs to no account), for
/// the user themselves or, with `impersonated`, for an admin signed in as them.
pub fn client_links(account: Option<&ActiveAccount>, impersonated: bool) -> Vec<NavLink> {
    let owner = account.is_some_and(|a| a.is_owner);
    CLIENT_LINKS
        .iter()
        .filter(|(_, opens)| match opens {
            Opens::Everyone => true,
            Opens::OwnUserOnly => !impersonated,
            Opens::Owner => owner,
            Opens::Permission(p) => owner || account.is_some_and(|a| a.permissions.contains(*p)),
        })
        .map(|(l, _)| *l)
        .collect()
}

impl Nav {
    /// A signed-in admin's bar.
    pub fn admin(name: String, csrf: String, permissions: PermissionSet) -> Self {
        Self {
            admin: true,
            name,
            csrf,
            links: admin_links(permissions),
            impersonation: None,
        }
    }

    /// A client-area user's bar for the active `account`; with `impersonator` (an admin's
    /// username), the "login as client" banner naming both.
    pub fn client(
        user: &crate::account::UserRow,
        csrf: String,
        account: Option<&ActiveAccount>,
        impersonator: Option<&str>,
    ) -> Self {
        Self {
            admin: false,
            name: user.first_name.clone(),
            csrf,
            links: client_links(account, impersonator.is_some()),
            impersonation: impersonator.map(|admin| {
                (
                    format!("{} {} <{}>", user.first_name, user.last_name, user.email),
                    admin.to_owned(),
                )
            }),
        }
    }
}

/// Per-field error messages of a form.
#[derive(Default)]
pub struct FieldErrors(pub Vec<crate::account::FieldError>);

impl FieldErrors {
    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// Renders a template, or a plain 500 if rendering fails (a template bug, never input).
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub details: &'a [String],
    /// `None`, since error pages must render without a database, except during "login as
    /// client", when `middleware::banner` draws the page again with the banner.
    pub nav: Option<Nav>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub admin: bool,
    pub action: &'static str,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub identifier: String,
    pub csrf: String,
    pub registration: bool,
    /// Whether "Keep me signed in" is offered (`session.client_remember`).
    pub remember: bool,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub min_length: usize,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub lead: &'static str,
    pub action: String,
    pub button: &'static str,
    pub email_fixed: bool,
    pub username: String,
    pub email: String,
    pub min_length: usize,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "clientarea.html")]
pub struct ClientAreaPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub first_name: String,
    pub email: String,
    /// The active account's name.
    pub account: Option<String>,
    pub verified: bool,
    pub resent: bool,
    pub csrf: String,
    /// During "login as client": the client's own email and sessions are out of reach, so
    /// the page offers neither.
    pub impersonated: bool,
}

/// One row of the sessions table.
pub struct SessionRowView {
    pub id: String,
    pub ip: String,
    pub user_agent: String,
    pub created: String,
    pub last_seen: String,
    pub current: bool,
    /// The OpenID applications this session signed in to, comma separated ("" for none).
    pub applications: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// Whether this session stepped up recently: the ending buttons, else the step-up form.
    pub stepped_up: bool,
    /// How long a step-up lasts, in minutes.
    pub minutes: i64,
    pub base: &'static str,
    pub csrf: String,
    pub sessions: Vec<SessionRowView>,
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
pub struct AdminDashboardPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub username: String,
    pub role: String,
}

#[derive(Template)]
#[template(path = "health.html")]
pub struct HealthPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub csrf: String,
    pub overall: &'static str,
    /// How many checks are ok, warnings and errors.
    pub ok: usize,
    pub info: usize,
    pub warnings: usize,
    pub errors: usize,
    pub areas: Vec<crate::doctor::AreaGroup>,
    /// Whether the admin may apply fixes (`configure_general_settings`); without it the page
    /// says who can rather than offering a button that ends on Access Denied.
    pub can_fix: bool,
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub action: &'static str,
    pub csrf: String,
    pub min_length: usize,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "proxy.html")]
pub struct ProxyPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub client: String,
    pub reason: String,
    pub header: &'static str,
    pub hops: Vec<crate::net::client_ip::Hop>,
    pub trusted: String,
    pub cloudflare_taken: String,
    pub cloudflare_source: String,
    pub cloudflare_trusted: bool,
    pub received: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin_forward_auth.html")]
pub struct ForwardAuthPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    /// What was asked, shown back in the form.
    pub url: String,
    pub who: String,
    pub name: String,
    pub problem: Option<&'static str>,
    pub explained: Option<ExplainedUrl>,
    /// The rules in force, in order.
    pub rules: Vec<String>,
}

/// The answer shown on [`ForwardAuthPage`].
pub struct ExplainedUrl {
    pub judged: String,
    /// "Rule N: text", or none when no rule matches.
    pub rule: Option<String>,
    pub outcome: String,
    pub details: Vec<String>,
}

/// One input of the settings form.
pub struct SettingField {
    pub key: &'static str,
    pub id: String,
    pub label: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub multiline: bool,
    pub source: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub csrf: String,
    pub refresh_seconds: i64,
    pub fields: Vec<SettingField>,
}

/// One row of the bans table.
pub struct BanView {
    pub ip: String,
    /// The stored scope (`admin`, `client`, `both`) and how it reads.
    pub scope: &'static str,
    pub area: &'static str,
    pub reason: String,
    pub until: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "bans.html")]
pub struct BansPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub csrf: String,
    pub can_manage: bool,
    pub bans: Vec<BanView>,
    pub form_ip: String,
    pub form_reason: String,
    pub form_minutes: String,
    /// The scopes the add form offers: (stored form, label), and the one chosen.
    pub scopes: Vec<(&'static str, &'static str)>,
    pub form_scope: String,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "reset_request.html")]
pub struct ResetRequestPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub disabled: bool,
    pub action: &'static str,
    pub login: &'static str,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "reset_form.html")]
pub struct ResetFormPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub action: String,
    pub csrf: String,
    pub min_length: usize,
    pub errors: FieldErrors,
}

/// A single sign-on link's page: one button, so that a link scanner's fetch signs nobody in.
#[derive(Template)]
#[template(path = "sso.html")]
pub struct SsoPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub action: String,
    pub csrf: String,
    pub portal: String,
}

/// One row of the mail log.
pub struct MailRowView {
    pub created: String,
    pub to: String,
    pub template: String,
    pub state: String,
    pub next: String,
    pub attempts: i64,
    pub reply: String,
}

#[derive(Template)]
#[template(path = "mail_log.html")]
pub struct MailLogPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub states: Vec<(&'static str, &'static str)>,
    pub state: String,
    pub to: String,
    pub messages: Vec<MailRowView>,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub title: &'static str,
    /// The configured zone the times and day filters are in.
    pub zone: String,
    pub nav: Option<Nav>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub from: String,
    pub to: String,
    /// The filter field that is wrong, and why.
    pub error: Option<(&'static str, String)>,
    /// The CSV link carrying the same filters.
    pub export: String,
    /// The next (older) page, when there is one.
    pub next: Option<String>,
    pub events: Vec<AuditRowView>,
}

/// One audit event as shown.
pub struct AuditRowView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub ip: String,
    pub user_agent: String,
}

#[derive(Template)]
#[template(path = "scheduler.html")]
pub struct SchedulerPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub zone: String,
    /// Whether this web server runs the scheduler itself.
    pub enabled: bool,
    pub tasks: Vec<TaskView>,
    pub runs: Vec<RunView>,
}

/// One scheduled task as shown.
pub struct TaskView {
    pub name: &'static str,
    pub what: &'static str,
    pub schedule: String,
    pub last: String,
    pub result: String,
    pub ok: bool,
    /// The process holding it now, if any.
    pub running: Option<String>,
}

/// One scheduler run as shown.
pub struct RunView {
    pub started: String,
    pub process: String,
    pub node: String,
    pub zone: String,
    pub local: String,
    pub finished: bool,
    /// When it ended and how long it took ("2026-11-28 12:00 GMT, after 35 ms").
    pub ended: String,
    pub failures: i64,
    pub tasks: Vec<String>,
}

/// One licence in a list.
pub struct LicenseRowView {
    pub id: i64,
    pub product: String,
    pub client_id: i64,
    pub hint: String,
    pub status: String,
    pub expires: Option<String>,
    pub domains: String,
    pub ips: String,
    pub directories: String,
    pub reissues: i64,
    pub last_check: String,
}

/// One check in a licence's access log.
pub struct LicenseCheckView {
    pub at: String,
    pub remote_ip: String,
    pub identity: String,
    pub version: String,
    pub verdict: String,
    /// The presented key masked (prefix and short hash), for checks that matched no licence.
    pub key_hint: String,
}

#[derive(Template)]
#[template(path = "admin_licenses.html")]
pub struct LicensesPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub products: Vec<crate::license::Product>,
    pub licenses: Vec<LicenseRowView>,
    /// The newest checks with a key no licence has (unknown or malformed).
    pub unmatched: Vec<LicenseCheckView>,
    /// Signing keys: id, public key, state.
    pub keys: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin_product.html")]
pub struct ProductPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<String>,
    pub product: crate::license::Product,
}

#[derive(Template)]
#[template(path = "admin_license.html")]
pub struct LicensePage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub key: String,
    pub stored_status: String,
    pub expires_input: String,
    pub max_reissues: i64,
    pub row: LicenseRowView,
    pub checks: Vec<LicenseCheckView>,
}

/// One licence as its owner sees it.
pub struct ClientLicenseView {
    pub row: LicenseRowView,
    pub key: String,
    pub reissues_left: i64,
}

#[derive(Template)]
#[template(path = "account_licenses.html")]
pub struct ClientLicensesPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub licenses: Vec<ClientLicenseView>,
    /// The user has not confirmed their address: no keys, and the resend button.
    pub confirm_first: bool,
}

#[derive(Template)]
#[template(path = "email_change.html")]
pub struct EmailChangePage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub csrf: String,
    pub current: String,
    pub verified: bool,
    pub email: String,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admins.html")]
pub struct AdminsPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub csrf: String,
    pub admins: Vec<crate::admin::AdminRow>,
    pub roles: Vec<crate::role::RoleRow>,
    pub email: String,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "account_users.html")]
pub struct AccountUsersPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub notice: Option<String>,
    pub csrf: String,
    pub owner: String,
    pub account: String,
    pub members: Vec<MemberView>,
    pub email: String,
    pub errors: FieldErrors,
}

/// A user of the account, with a checkbox per client permission.
pub struct MemberView {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    /// (permission id, label, granted)
    pub permissions: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "invite_accept.html")]
pub struct InviteAcceptPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub action: String,
    pub email: String,
    pub exists: bool,
    pub signed_in_as_invited: bool,
    pub first_name: String,
    pub last_name: String,
    pub errors: FieldErrors,
}

/// An OpenID Connect application in the admin list and on its page.
pub struct OidcApplicationView {
    pub id: i64,
    pub name: String,
    pub client_id: String,
    pub realm: String,
    pub kind: String,
    pub auth_method: String,
    pub scopes: String,
    pub redirect_uris: Vec<String>,
    /// The back-channel logout URI, empty when none is registered.
    pub backchannel: String,
    /// When the secret was made ("no secret" for a public application).
    pub secret_set: String,
}

/// An application form's fields as typed (empty on the new form), to show them again.
#[derive(Default)]
pub struct OidcFormView {
    pub name: String,
    pub realm: String,
    pub kind: String,
    pub auth_method: String,
    pub signing_alg: String,
    pub allowed_scopes: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub id_token_seconds: String,
    pub access_token_seconds: String,
    pub refresh_token_seconds: String,
    pub first_party: bool,
    pub backchannel_logout_uri: String,
    /// The new-application form's one-time key (empty on the edit form).
    pub creation_key: String,
}

/// A refused request of an application.
pub struct OidcRefusalView {
    pub at: String,
    pub endpoint: String,
    pub reason: String,
    pub detail: String,
    /// For a redirect-URI refusal: the URI sent, the closest registered one and the difference.
    pub redirect: Option<(String, Option<(String, String)>)>,
}

/// `/admin/oidc/applications`: the list and the new-application form.
#[derive(Template)]
#[template(path = "admin_oidc_applications.html")]
pub struct OidcApplicationsPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub error: Option<String>,
    pub applications: Vec<OidcApplicationView>,
    pub form: OidcFormView,
    pub discovery_url: String,
}

/// `/admin/oidc/applications/{id}`: settings, secret reset, deletion, refused requests.
#[derive(Template)]
#[template(path = "admin_oidc_application.html")]
pub struct OidcApplicationPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub app: OidcApplicationView,
    pub form: OidcFormView,
    pub refusals: Vec<OidcRefusalView>,
    /// The newest back-channel logout deliveries and their answers.
    pub deliveries: Vec<OidcDeliveryView>,
    pub discovery_url: String,
}

/// A back-channel logout delivery, as the application's page shows it.
pub struct OidcDeliveryView {
    pub queued: String,
    pub state: String,
    pub attempts: i64,
    pub answer: String,
}

/// A new client secret, shown once (after creating or resetting), with the client id.
#[derive(Template)]
#[template(path = "admin_oidc_secret.html")]
pub struct OidcSecretPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub id: i64,
    pub name: String,
    pub client_id: String,
    pub secret: String,
    pub discovery_url: String,
}

/// The consent page of the authorization endpoint: which application, what it would learn.
#[derive(Template)]
#[template(path = "oidc_consent.html")]
pub struct OidcConsentPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub application: String,
    /// What each scope asked for lets the application know, in words.
    pub scopes: Vec<String>,
    pub action: &'static str,
    /// The parked request's id.
    pub parked: String,
    pub csrf: String,
}

/// The end-session endpoint's question when the request cannot be tied to this session.
#[derive(Template)]
#[template(path = "oidc_logout.html")]
pub struct OidcLogoutPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    /// The application that asked, when it said which.
    pub application: Option<String>,
    pub action: &'static str,
    pub client_id: String,
    pub post_logout_redirect_uri: String,
    pub state: String,
    pub csrf: String,
}
