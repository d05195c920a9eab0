//! The single route table: every URL and method, its handler and the gate in front of it, as
//! data ([`table`]), from which [`router`] builds the router and wraps it in the pipeline.
//!
//! Gates are enforced by the handler signatures (`CurrentClient`, `CurrentAdmin`,
//! `RequirePermission<P>`, `Signed<S>`, `PendingSignIn<S>`); the [`Gate`] of each row says which
//! one, so the gate tests can walk the table (tests/api/f08_access.rs, accounts.rs) and fail
//! where a handler lets through what its row says it refuses. Pre-sign-in forms are listed in
//! `middleware::csrf::is_pre_session` (a test below keeps that list and the gates in step). The
//! pipeline in [`router`] runs in product.md's order.

use crate::app::AppState;
use crate::auth::client_permission::ClientPermission;
use crate::auth::permission::Permission;
use crate::web::middleware::{
    ban, canonical_origin, client_addr, csrf, negotiate, security_headers, session,
};
use crate::web::{admin, client, reset, system};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::MethodRouter;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// The table as a router: rows of one path are merged into one method router (axum merges a
/// second `.route` on a path; the same method twice would panic here, at start).
fn routes() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
}

/// Builds the router with the whole request pipeline.
pub fn router(state: AppState) -> Router {
    let routes = routes();

    let pipeline = ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(crate::web::error::AppError::Unexpected(
                anyhow::anyhow!("a request handler panicked"),
            ))
        }))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security_headers::apply))
        .layer(axum::middleware::from_fn(negotiate::errors_as_json))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!("request", method = %request.method(), path = %loggable_path(request.uri().path()))
        }))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        // 1. client address
        .layer(axum::middleware::from_fn_with_state(state.clone(), client_addr::resolve))
        // 2. bans
        .layer(axum::middleware::from_fn_with_state(state.clone(), ban::refuse_banned))
        // 3. canonical origin (System URL)
        .layer(axum::middleware::from_fn_with_state(state.clone(), canonical_origin::enforce))
        // 4. session
        .layer(axum::middleware::from_fn_with_state(state.clone(), session::load))
        // 5. CSRF
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::verify));
    // 6. authorisation: the extractors in the handlers, named by each row's gate.

    routes.layer(pipeline).with_state(state)
}

/// The HTTP methods the table uses (a GET route answers HEAD too, as axum's `get` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET` (and `HEAD`).
    Get,
    /// `POST`.
    Post,
    /// `PATCH` (the admin API's partial updates).
    Patch,
    /// `DELETE` (the admin API's removals).
    Delete,
}

impl Method {
    /// The method's name on the wire: `GET`, `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// What must hold before a route's handler runs. The realm is the path's: `/admin...` is the
/// admin realm, everything else the client realm (as the session step decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Anyone: public pages, the health probe, static files.
    Public,
    /// The machine API under `/api/`: JSON, no session, no CSRF token (the handler limits rates).
    Api,
    /// An OpenID provider protocol endpoint (`web::oidc`): a machine endpoint with no session
    /// and no CSRF token, authenticated by the handler (client credentials, a bearer token) or
    /// public (discovery, keys); or the authorization endpoint's cross-site form post.
    Protocol,
    /// A pre-sign-in form: anyone, with an anonymous CSRF token.
    PreSignIn,
    /// Only the CSRF check: signing out.
    CsrfOnly,
    /// Holding the one-time token in the path is the authorisation.
    OneTimeToken,
    /// A pending sign-in's cookie (`PendingSignIn<S>`): the second step of signing in.
    PendingSignIn,
    /// A session of the realm (`Signed<S>`), client or admin.
    Signed,
    /// A session of the realm that has just confirmed its password or a factor again (step-up).
    StepUp,
    /// A client session (`CurrentClient`).
    Client,
    /// A client session whose user owns the active account.
    AccountOwner,
    /// A client session whose user holds this permission in the active account.
    ClientPermission(ClientPermission),
    /// A client session started by an admin's "login as client".
    Impersonated,
    /// An admin session (`CurrentAdmin`), any role.
    Admin,
    /// An admin whose role grants this permission (`RequirePermission<P>`).
    Permission(Permission),
    /// `/admin`: `main_homepage`, else a redirect to the role's landing page.
    AdminHome,
}

impl Gate {
    /// The admin permission the gate asks for, if any (`main_homepage` for [`Gate::AdminHome`]).
    pub fn permission(self) -> Option<Permission> {
        match self {
            Gate::Permission(p) => Some(p),
            Gate::AdminHome => Some(Permission::MainHomepage),
            _ => None,
        }
    }

    /// Whether a POST behind this gate carries an anonymous CSRF token (no session yet).
    pub fn is_pre_session(self) -> bool {
        matches!(
            self,
            Gate::PreSignIn | Gate::OneTimeToken | Gate::PendingSignIn
        )
    }
}

/// One method of one URL: where it is, what guards it, and the handler behind it.
pub struct Route {
    /// The method this row answers.
    pub method: Method,
    /// The path as axum matches it (`{name}` for a segment).
    pub path: &'static str,
    /// What the handler's signature requires first.
    pub gate: Gate,
    /// The handler for `method` alone; rows of one path are merged by [`routes`].
    handler: MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({:?})",
            self.method.as_str(),
            self.path,
            self.gate
        )
    }
}

fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H, gate: Gate) -> Route {
    let handler = axum::routing::get(handler);
    Route {
        method: Method::Get,
        path,
        gate,
        handler,
    }
}

fn patch<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H, gate: Gate) -> Route {
    Route {
        method: Method::Patch,
        path,
        gate,
        handler: axum::routing::patch(handler),
    }
}

fn delete<H: Handler<T, AppState>, T: 'static>(
    path: &'static str,
    handler: H,
    gate: Gate,
) -> Route {
    Route {
        method: Method::Delete,
        path,
        gate,
        handler: axum::routing::delete(handler),
    }
}

fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H, gate: Gate) -> Route {
    let handler = axum::routing::post(handler);
    Route {
        method: Method::Post,
        path,
        gate,
        handler,
    }
}

/// Every URL and method, its handler and its gate (one row each; a comment adds what the
/// handler checks beyond the gate).
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    use crate::web::{api, oidc};
    use crate::web::twofactor::{self as tf, AdminSide as A, ClientSide as C};
    use crate::auth::client_permission::ClientPermission as CP;
    use crate::auth::permission::Permission as P;
    use Gate::{Public, Api, Protocol, PreSignIn, CsrfOnly, OneTimeToken, PendingSignIn, Signed, StepUp};
    use Gate::{Client, AccountOwner, ClientPermission, Impersonated, Admin, Permission, AdminHome};
    vec![
        // Public and system
        get("/",                                         system::get_root,                             Public),
        get("/healthz",                                  system::get_healthz,                          Public),
        get("/static/portcullis.css",                    system::get_stylesheet,                       Public),
        get("/static/webauthn.js",                       system::get_webauthn_script,                  Public),
        get("/static/password.js",                       crate::web::password::get_script,             Public),
        // Machine API (JSON, no session, no CSRF token; see web::api)
        post("/api/license/v1/verify",                   api::license::post_verify,                    Api), // rate-limited per key and address
        get("/api/license/v1/keys",                      api::license::get_keys,                       Api), // public keys
        get("/api/v1/users",                             api::v1::users::get_by_email,                 Api), // API credential, role users.read
        get("/api/v1/users/{id}",                        api::v1::users::get_one,                      Api), // API credential, role users.read
        post("/api/v1/users",                            api::v1::users::post_create,                  Api), // API credential, role users.write
        patch("/api/v1/users/{id}",                      api::v1::users::patch_one,                    Api), // API credential, role users.write
        post("/api/v1/users/{id}/password-hash",         api::v1::users::post_password_hash,           Api), // API credential, role users.write
        get("/api/v1/users/{id}/sessions",               api::v1::sessions::get_list,                  Api), // API credential, role sessions.read
        delete("/api/v1/users/{id}/sessions",            api::v1::sessions::delete_all,                Api), // API credential, role sessions.write
        delete("/api/v1/users/{id}/sessions/{session}",  api::v1::sessions::delete_one,                Api), // API credential, role sessions.write
        get("/api/v1/bans",                              api::v1::bans::get_list,                      Api), // API credential, role bans.read
        post("/api/v1/bans",                             api::v1::bans::post_add,                      Api), // API credential, role bans.write
        delete("/api/v1/bans/{address}",                 api::v1::bans::delete_lift,                   Api), // API credential, role bans.write
        post("/api/v1/mail",                             api::v1::mail::post_queue,                    Api), // API credential, role mail.send
        post("/api/v1/sso-tokens",                       api::v1::sso::post_create,                    Api), // API credential, role sso.create
        get("/api/v1/openapi.json",                      api::v1::openapi::get_openapi,                Api), // public: the generated document
        // OpenID provider (web::oidc): machine endpoints, then the browser's
        get("/.well-known/openid-configuration",         oidc::discovery::get_discovery,               Protocol), // cacheable for an hour
        get("/oidc/jwks",                                oidc::jwks::get_jwks,                         Protocol), // cacheable for an hour
        post("/oidc/token",                              oidc::token::post_token,                      Protocol), // client authentication
        post("/oidc/revoke",                             oidc::revocation::post_revoke,                Protocol), // client authentication
        post("/oidc/introspect",                         oidc::revocation::post_introspect,            Protocol), // confidential clients
        get("/oidc/userinfo",                            oidc::userinfo::get_userinfo,                 Protocol), // bearer access token
        post("/oidc/userinfo",                           oidc::userinfo::post_userinfo,                Protocol), // bearer access token
        get("/oidc/authorize",                           oidc::authorize::get_authorize,               Public), // the session decides
        post("/oidc/authorize",                          oidc::authorize::post_authorize,              Protocol), // cross-site form
        get("/oidc/authorize/continue",                  oidc::authorize::get_continue,                Public), // the parked request
        post("/oidc/consent",                            oidc::authorize::post_consent::<C>,           Signed),
        get("/oidc/logout",                              oidc::logout::get_logout,                     Public), // end_session_endpoint
        post("/oidc/logout",                             oidc::logout::post_logout,                    Protocol), // cross-site form
        post("/oidc/logout/confirm",                     oidc::logout::post_confirm::<C>,              Signed),
        get("/admin/oidc/authorize",                     oidc::authorize::get_authorize,               Public), // the session decides
        post("/admin/oidc/authorize",                    oidc::authorize::post_authorize,              Protocol), // cross-site form
        get("/admin/oidc/authorize/continue",            oidc::authorize::get_continue,                Public), // the parked request
        post("/admin/oidc/consent",                      oidc::authorize::post_consent::<A>,           Signed),
        get("/admin/oidc/logout",                        oidc::logout::get_logout,                     Public), // end_session_endpoint
        post("/admin/oidc/logout",                       oidc::logout::post_logout,                    Protocol), // cross-site form
        post("/admin/oidc/logout/confirm",               oidc::logout::post_confirm::<A>,              Signed),
        // Forward authentication (web::forward_auth): the endpoints proxies ask, then the round trip
        get("/forward-auth/nginx",                       crate::web::forward_auth::get_nginx,          Protocol), // trusted proxies only
        get("/forward-auth/proxy",                       crate::web::forward_auth::get_proxy,          Protocol), // trusted proxies only
        get("/forward-auth/signin",                      crate::web::forward_auth::get_sign_in,        Public), // returns to protected hosts only
        get("/admin/forward-auth/signin",                crate::web::forward_auth::get_sign_in,        Public), // returns to protected hosts only
        // Client area: signing in and out, one-time links
        get("/sso/continue",                             crate::web::sso::get_continue,                Public), // after a single sign-on link
        get("/sso/{token}",                              crate::web::sso::get_link,                    OneTimeToken), // shows a button: a fetch uses nothing up
        post("/sso/{token}",                             crate::web::sso::post_link,                   OneTimeToken),
        get("/login",                                    client::login::get_login,                     PreSignIn),
        post("/login",                                   client::login::post_login,                    PreSignIn),
        post("/logout",                                  client::login::post_logout,                   CsrfOnly),
        get("/register",                                 client::register::get_register,               PreSignIn),
        post("/register",                                client::register::post_register,              PreSignIn),
        get("/password/reset",                           reset::get_client_request,                    PreSignIn),
        post("/password/reset",                          reset::post_client_request,                   PreSignIn),
        get("/password/reset/{token}",                   reset::get_client_form,                       OneTimeToken),
        post("/password/reset/{token}",                  reset::post_client_form,                      OneTimeToken),
        get("/verify-email/{token}",                     client::verify::get_verify,                   OneTimeToken),
        get("/email/revert/{token}",                     client::email::get_revert,                    OneTimeToken),
        post("/email/revert/{token}",                    client::email::post_revert,                   OneTimeToken),
        get("/invite/{token}",                           client::users::get_accept,                    OneTimeToken),
        post("/invite/{token}",                          client::users::post_accept,                   OneTimeToken),
        // Client area proper
        get("/account/users",                            client::users::get_users,                     AccountOwner),
        post("/account/users/invite",                    client::users::post_invite,                   AccountOwner),
        get("/account/email",                            client::email::get_email,                     Client),
        post("/account/email",                           client::email::post_email,                    Client),
        post("/account/verify-email/resend",             client::verify::post_resend,                  Client),
        get("/clientarea",                               client::clientarea::get_clientarea,           Client),
        get("/account/sessions",                         client::sessions::get_sessions,               Client),
        post("/account/sessions/end",                    client::sessions::post_end,                   Client),
        post("/account/sessions/end-others",             client::sessions::post_end_others,            Client),
        post("/account/sessions/confirm",                crate::web::sessions::post_confirm::<C>,      Signed),
        get("/account/password",                         client::password::get_password,               Client),
        post("/account/password",                        client::password::post_password,              Client),
        get("/account/profile",                          client::account::get_profile,                 ClientPermission(CP::Profile)),
        post("/account/profile",                         client::account::post_profile,                ClientPermission(CP::Profile)),
        get("/account/switch",                           client::account::get_switch,                  Client),
        post("/account/switch",                          client::account::post_switch,                 Client), // membership checked
        post("/account/users/{user_id}/permissions",     client::users::post_member_permissions,       AccountOwner),
        post("/account/users/{user_id}/remove",          client::users::post_member_remove,            AccountOwner),
        get("/account/licenses",                         client::licenses::get_licenses,               ClientPermission(CP::Products)),
        post("/account/licenses/{license_id}/reissue",   client::licenses::post_reissue,               ClientPermission(CP::Products)), // own account's licence
        post("/account/impersonation/end",               client::account::post_end_impersonation,      Impersonated),
        // Client second factors
        get("/login/2fa",                                tf::challenge::get_challenge::<C>,            PendingSignIn),
        post("/login/2fa",                               tf::challenge::post_challenge::<C>,           PendingSignIn),
        post("/login/2fa/cancel",                        tf::challenge::post_cancel::<C>,              PendingSignIn),
        get("/login/2fa/enrol",                          tf::enrol::get_enrol::<C>,                    PendingSignIn), // required policy
        post("/login/2fa/enrol",                         tf::enrol::post_enrol::<C>,                   PendingSignIn), // required policy
        post("/login/2fa/webauthn/options",              tf::webauthn::post_authenticate_options::<C>, PendingSignIn), // JSON
        post("/login/2fa/webauthn",                      tf::webauthn::post_authenticate::<C>,         PendingSignIn), // JSON
        post("/login/2fa/duo",                           tf::duo::post_start::<C>,                     PendingSignIn),
        get("/login/2fa/duo/callback",                   tf::duo::get_callback::<C>,                   PendingSignIn), // and the Duo state
        get("/account/security",                         tf::security::get_security::<C>,              Signed),
        post("/account/security/confirm",                tf::security::post_confirm::<C>,              Signed),
        get("/account/security/totp",                    tf::security::get_totp::<C>,                  StepUp),
        post("/account/security/totp",                   tf::security::post_totp::<C>,                 StepUp),
        post("/account/security/totp/remove",            tf::security::post_totp_remove::<C>,          StepUp),
        post("/account/security/backup-codes",           tf::security::post_backup_codes::<C>,         StepUp),
        post("/account/security/webauthn/remove",        tf::security::post_key_remove::<C>,           StepUp),
        post("/account/security/duo",                    tf::security::post_duo::<C>,                  StepUp),
        post("/account/security/applications/withdraw",  tf::security::post_withdraw::<C>,             Signed), // ends the application's tokens
        post("/account/security/webauthn/options",       tf::webauthn::post_register_options::<C>,     StepUp), // JSON
        post("/account/security/webauthn",               tf::webauthn::post_register::<C>,             StepUp), // JSON
        // Admin area: signing in and out, one-time links
        get("/admin/login",                              admin::login::get_login,                      PreSignIn),
        post("/admin/login",                             admin::login::post_login,                     PreSignIn),
        post("/admin/logout",                            admin::login::post_logout,                    CsrfOnly),
        get("/admin/password/reset",                     reset::get_admin_request,                     PreSignIn),
        post("/admin/password/reset",                    reset::post_admin_request,                    PreSignIn),
        get("/admin/password/reset/{token}",             reset::get_admin_form,                        OneTimeToken),
        post("/admin/password/reset/{token}",            reset::post_admin_form,                       OneTimeToken),
        get("/admin/invite/{token}",                     admin::admins::get_accept,                    OneTimeToken),
        post("/admin/invite/{token}",                    admin::admins::post_accept,                   OneTimeToken),
        get("/admin/setup/{token}",                      admin::setup::get_setup,                      OneTimeToken),
        post("/admin/setup/{token}",                     admin::setup::post_setup,                     OneTimeToken),
        // Admin area proper
        get("/admin",                                    admin::dashboard::get_dashboard,              AdminHome),
        get("/admin/health",                             admin::health::get_health,                    Permission(P::ViewSystemHealth)),
        post("/admin/health/fix",                        admin::health::post_fix,                      Permission(P::ConfigureGeneralSettings)),
        get("/admin/proxy",                              admin::proxy::get_proxy,                      Permission(P::ViewSystemHealth)),
        get("/admin/forward-auth",                       admin::forward_auth::get_forward_auth,        Permission(P::ViewSystemHealth)),
        get("/admin/scheduler",                          admin::scheduler::get_scheduler,              Permission(P::ViewSystemHealth)),
        get("/admin/settings",                           admin::settings::get_settings,                Permission(P::ConfigureGeneralSettings)),
        post("/admin/settings",                          admin::settings::post_settings,               Permission(P::ConfigureGeneralSettings)),
        get("/admin/bans",                               admin::bans::get_bans,                        Permission(P::ViewBannedIps)),
        post("/admin/bans",                              admin::bans::post_ban,                        Permission(P::ManageBannedIps)),
        post("/admin/bans/lift",                         admin::bans::post_lift,                       Permission(P::ManageBannedIps)),
        get("/admin/admins",                             admin::admins::get_admins,                    Permission(P::ManageAdmins)),
        post("/admin/admins/invite",                     admin::admins::post_invite,                   Permission(P::ManageAdmins)),
        get("/admin/admins/{id}",                        admin::admin_edit::get_admin,                 Permission(P::ManageAdmins)),
        post("/admin/admins/{id}",                       admin::admin_edit::post_admin,                Permission(P::ManageAdmins)),
        post("/admin/admins/{id}/delete",                admin::admin_edit::post_delete,               Permission(P::ManageAdmins)),
        get("/admin/clients",                            admin::clients::get_clients,                  Permission(P::ListClients)),
        get("/admin/clients/{id}",                       admin::clients::get_client,                   Permission(P::ViewClientProfile)),
        post("/admin/clients/{id}/transfer",             admin::clients::post_transfer,                Permission(P::ManageClientAccounts)),
        post("/admin/clients/{id}/login-as",             admin::clients::post_login_as,                Permission(P::LoginAsClient)),
        get("/admin/roles",                              admin::roles::get_roles,                      Permission(P::ManageRoles)),
        post("/admin/roles",                             admin::roles::post_create,                    Permission(P::ManageRoles)),
        get("/admin/roles/{id}",                         admin::roles::get_role,                       Permission(P::ManageRoles)),
        post("/admin/roles/{id}",                        admin::roles::post_role,                      Permission(P::ManageRoles)),
        post("/admin/roles/{id}/delete",                 admin::roles::post_delete,                    Permission(P::ManageRoles)),
        get("/admin/licenses",                           admin::licenses::get_licenses,                Permission(P::ManageLicenses)),
        post("/admin/licenses",                          admin::licenses::post_issue,                  Permission(P::ManageLicenses)),
        post("/admin/licenses/products",                 admin::licenses::post_product,                Permission(P::ManageLicenses)),
        get("/admin/licenses/products/{id}",             admin::licenses::get_product,                 Permission(P::ManageLicenses)),
        post("/admin/licenses/products/{id}",            admin::licenses::post_product_edit,           Permission(P::ManageLicenses)),
        post("/admin/licenses/keys/add",                 admin::licenses::post_key_add,                Permission(P::ManageLicenses)),
        post("/admin/licenses/keys/activate",            admin::licenses::post_key_activate,           Permission(P::ManageLicenses)),
        get("/admin/licenses/{id}",                      admin::licenses::get_license,                 Permission(P::ManageLicenses)),
        post("/admin/licenses/{id}",                     admin::licenses::post_license,                Permission(P::ManageLicenses)),
        post("/admin/licenses/{id}/reissue",             admin::licenses::post_reissue,                Permission(P::ManageLicenses)),
        get("/admin/oidc/applications",                  admin::oidc_applications::get_applications,   Permission(P::ManageOidcApplications)),
        post("/admin/oidc/applications",                 admin::oidc_applications::post_application,   Permission(P::ManageOidcApplications)),
        get("/admin/oidc/applications/{id}",             admin::oidc_applications::get_application,    Permission(P::ManageOidcApplications)),
        post("/admin/oidc/applications/{id}",            admin::oidc_applications::post_application_edit, Permission(P::ManageOidcApplications)),
        post("/admin/oidc/applications/{id}/secret",     admin::oidc_applications::post_secret,        Permission(P::ManageOidcApplications)),
        post("/admin/oidc/applications/{id}/delete",     admin::oidc_applications::post_delete,        Permission(P::ManageOidcApplications)),
        get("/admin/mail",                               admin::mail::get_mail,                        Permission(P::ViewMailLog)),
        get("/admin/audit",                              admin::audit::get_audit,                      Permission(P::ViewAuditLog)),
        get("/admin/audit.csv",                          admin::audit::get_audit_csv,                  Permission(P::ViewAuditLog)),
        get("/admin/two-factor",                         admin::two_factor::get_page,                  Permission(P::ConfigureTwoFactor)),
        post("/admin/two-factor/duo",                    admin::two_factor::post_duo,                  Permission(P::ConfigureTwoFactor)),
        post("/admin/two-factor/duo/remove",             admin::two_factor::post_duo_remove,           Permission(P::ConfigureTwoFactor)),
        post("/admin/two-factor/reset",                  admin::two_factor::post_reset,                Permission(P::ConfigureTwoFactor)),
        get("/admin/sessions",                           admin::sessions::get_sessions,                Admin),
        post("/admin/sessions/end",                      admin::sessions::post_end,                    Admin),
        post("/admin/sessions/end-others",               admin::sessions::post_end_others,             Admin),
        post("/admin/sessions/confirm",                  crate::web::sessions::post_confirm::<A>,      Signed),
        get("/admin/account/password",                   admin::password::get_password,                Admin),
        post("/admin/account/password",                  admin::password::post_password,               Admin),
        // Admin second factors
        get("/admin/login/2fa",                          tf::challenge::get_challenge::<A>,            PendingSignIn),
        post("/admin/login/2fa",                         tf::challenge::post_challenge::<A>,           PendingSignIn),
        post("/admin/login/2fa/cancel",                  tf::challenge::post_cancel::<A>,              PendingSignIn),
        get("/admin/login/2fa/enrol",                    tf::enrol::get_enrol::<A>,                    PendingSignIn), // required policy
        post("/admin/login/2fa/enrol",                   tf::enrol::post_enrol::<A>,                   PendingSignIn), // required policy
        post("/admin/login/2fa/webauthn/options",        tf::webauthn::post_authenticate_options::<A>, PendingSignIn), // JSON
        post("/admin/login/2fa/webauthn",                tf::webauthn::post_authenticate::<A>,         PendingSignIn), // JSON
        post("/admin/login/2fa/duo",                     tf::duo::post_start::<A>,                     PendingSignIn),
        get("/admin/login/2fa/duo/callback",             tf::duo::get_callback::<A>,                   PendingSignIn), // and the Duo state
        get("/admin/account/security",                   tf::security::get_security::<A>,              Signed),
        post("/admin/account/security/confirm",          tf::security::post_confirm::<A>,              Signed),
        get("/admin/account/security/totp",              tf::security::get_totp::<A>,                  StepUp),
        post("/admin/account/security/totp",             tf::security::post_totp::<A>,                 StepUp),
        post("/admin/account/security/totp/remove",      tf::security::post_totp_remove::<A>,          StepUp),
        post("/admin/account/security/backup-codes",     tf::security::post_backup_codes::<A>,         StepUp),
        post("/admin/account/security/webauthn/remove",  tf::security::post_key_remove::<A>,           StepUp),
        post("/admin/account/security/duo",              tf::security::post_duo::<A>,                  StepUp),
        post("/admin/account/security/applications/withdraw", tf::security::post_withdraw::<A>,        Signed), // ends the application's tokens
        post("/admin/account/security/webauthn/options", tf::webauthn::post_register_options::<A>,     StepUp), // JSON
        post("/admin/account/security/webauthn",         tf::webauthn::post_register::<A>,             StepUp), // JSON
    ]
}

/// The one GET that changes state: following an email confirmation link marks the address
/// verified (a link opened from a mail client cannot POST). The session middleware treats it
/// like a write and reads the session change log before answering.
pub fn get_changes_state(path: &str) -> bool {
    path.starts_with("/verify-email/")
}

/// The path as it may appear in logs: secrets carried in the path are replaced, and the query
/// (which carries the sign-in marker) is never included.
pub fn loggable_path(path: &str) -> String {
    const SECRET_PREFIXES: [&str; 7] = [
        "/invite/",
        "/admin/setup/",
        "/admin/invite/",
        "/password/reset/",
        "/admin/password/reset/",
        "/verify-email/",
        "/email/revert/",
    ];
    for prefix in SECRET_PREFIXES {
        if path.starts_with(prefix) && path.len() > prefix.len() {
            return format!("{prefix}[redacted]");
        }
    }
    path.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::{Gate, Method, table};

    #[test]
    fn token_paths_are_redacted_in_logs() {
        assert_eq!(
            super::loggable_path("/admin/setup/abc"),
            "/admin/setup/[redacted]"
        );
        assert_eq!(super::loggable_path("/login"), "/login");
    }

    #[test]
    fn the_table_builds_a_router_with_no_method_twice_on_a_path() {
        // axum panics on a second handler for one method and path.
        let _ = super::routes();
        assert!(table().len() > 100);
    }

    #[test]
    fn the_csrf_steps_pre_session_forms_are_exactly_the_pre_session_gates() {
        for route in table() {
            if route.method == Method::Post && !matches!(route.gate, Gate::Api | Gate::Protocol) {
                assert_eq!(
                    crate::web::middleware::csrf::is_pre_session(route.path),
                    route.gate.is_pre_session(),
                    "{route:?}"
                );
            }
        }
    }

    #[test]
    fn every_gate_belongs_to_the_realm_of_its_path() {
        for route in table() {
            let admin = route.path == "/admin" || route.path.starts_with("/admin/");
            let api = route.path.starts_with("/api/");
            let fits = match route.gate {
                Gate::Admin | Gate::Permission(_) | Gate::AdminHome => admin,
                Gate::Client
                | Gate::AccountOwner
                | Gate::ClientPermission(_)
                | Gate::Impersonated => !admin && !api,
                Gate::Api => api,
                _ => !api,
            };
            assert!(fits, "{route:?}");
        }
    }
}
