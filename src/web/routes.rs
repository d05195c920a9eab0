//! The single route table: every URL, its handler and the gate in front of it.
//!
//! Gates are in the handler signatures: `CurrentClient` (a client session), `CurrentAdmin` (an
//! admin session), `RequirePermission<P>` (an admin whose role grants P). Pre-sign-in forms are
//! listed in `middleware::csrf::is_pre_session`. The pipeline below runs in product.md's order.

use crate::app::AppState;
use crate::web::middleware::{
    ban, canonical_origin, client_addr, csrf, negotiate, security_headers, session,
};
use crate::web::{admin, client, reset, system};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Every URL, its handler, and (in the comment) the gate in its signature.
#[rustfmt::skip]
fn table() -> Router<AppState> {
    use axum::routing::{get, post};
    use crate::web::twofactor::{self as tf, AdminSide as A, ClientSide as C};
    Router::new()
        // Public and system                                                                                 gate
        .route("/", get(system::get_root))                                                                   // none
        .route("/healthz", get(system::get_healthz))                                                         // none
        .route("/static/portcullis.css", get(system::get_stylesheet))                                        // none
        .route("/static/webauthn.js", get(system::get_webauthn_script))                                      // none
        // Machine API (JSON, no session, no CSRF token; see web::api)
        .route("/api/license/v1/verify", post(crate::web::api::license::post_verify))                    // none (rate-limited per key and address)
        .route("/api/license/v1/keys", get(crate::web::api::license::get_keys))                            // none (public keys)
        // Client area
        .route("/login", get(client::login::get_login).post(client::login::post_login))                      // none (pre-session form)
        .route("/logout", post(client::login::post_logout))                                                  // CSRF only
        .route("/register", get(client::register::get_register).post(client::register::post_register))       // none (pre-session form)
        .route("/password/reset", get(reset::get_client_request).post(reset::post_client_request))             // none (pre-session form)
        .route("/password/reset/{token}", get(reset::get_client_form).post(reset::post_client_form))         // one-time token
        .route("/verify-email/{token}", get(client::verify::get_verify))                                     // one-time token
        .route("/account/users", get(client::users::get_users))                                              // CurrentClient (owner)
        .route("/account/users/invite", post(client::users::post_invite))                                    // CurrentClient (owner)
        .route("/invite/{token}", get(client::users::get_accept).post(client::users::post_accept))           // one-time token
        .route("/account/email", get(client::email::get_email).post(client::email::post_email))              // CurrentClient
        .route("/account/verify-email/resend", post(client::verify::post_resend))                            // CurrentClient
        .route("/clientarea", get(client::clientarea::get_clientarea))                                       // CurrentClient
        .route("/account/sessions", get(client::sessions::get_sessions))                                     // CurrentClient
        .route("/account/sessions/end", post(client::sessions::post_end))                                    // CurrentClient
        .route("/account/sessions/end-others", post(client::sessions::post_end_others))                      // CurrentClient
        .route("/account/password", get(client::password::get_password).post(client::password::post_password)) // CurrentClient
        .route("/account/profile", get(client::account::get_profile).post(client::account::post_profile))     // CurrentClient + account permission profile
        .route("/account/switch", get(client::account::get_switch).post(client::account::post_switch))       // CurrentClient (membership checked)
        .route("/account/users/{user_id}/permissions", post(client::users::post_member_permissions))          // CurrentClient (owner of the active account)
        .route("/account/users/{user_id}/remove", post(client::users::post_member_remove))                    // CurrentClient (owner of the active account)
        .route("/account/licenses", get(client::licenses::get_licenses))                                     // CurrentClient + account permission products
        .route("/account/licenses/{license_id}/reissue", post(client::licenses::post_reissue))               // CurrentClient + account permission products (own account's licence)
        .route("/account/impersonation/end", post(client::account::post_end_impersonation))                  // CurrentClient (impersonated session)
        .route("/login/2fa", get(tf::challenge::get_challenge::<C>).post(tf::challenge::post_challenge::<C>)) // pending sign-in
        .route("/login/2fa/cancel", post(tf::challenge::post_cancel::<C>))                                  // pending sign-in
        .route("/login/2fa/enrol", get(tf::enrol::get_enrol::<C>).post(tf::enrol::post_enrol::<C>))          // pending sign-in (required policy)
        .route("/account/security", get(tf::security::get_security::<C>))                                    // Signed<C>
        .route("/account/security/confirm", post(tf::security::post_confirm::<C>))                           // Signed<C>
        .route("/account/security/totp", get(tf::security::get_totp::<C>).post(tf::security::post_totp::<C>)) // Signed<C> + step-up
        .route("/account/security/totp/remove", post(tf::security::post_totp_remove::<C>))                   // Signed<C> + step-up
        .route("/account/security/backup-codes", post(tf::security::post_backup_codes::<C>))                 // Signed<C> + step-up
        .route("/account/security/webauthn/remove", post(tf::security::post_key_remove::<C>))                // Signed<C> + step-up
        .route("/account/security/duo", post(tf::security::post_duo::<C>))                                   // Signed<C> + step-up
        .route("/account/security/webauthn/options", post(tf::webauthn::post_register_options::<C>))        // Signed<C> + step-up (JSON)
        .route("/account/security/webauthn", post(tf::webauthn::post_register::<C>))                        // Signed<C> + step-up (JSON)
        .route("/login/2fa/webauthn/options", post(tf::webauthn::post_authenticate_options::<C>))          // pending sign-in (JSON)
        .route("/login/2fa/webauthn", post(tf::webauthn::post_authenticate::<C>))                          // pending sign-in (JSON)
        .route("/login/2fa/duo", post(tf::duo::post_start::<C>))                                          // pending sign-in
        .route("/login/2fa/duo/callback", get(tf::duo::get_callback::<C>))                               // pending sign-in + Duo state
        // Admin area
        .route("/admin/login", get(admin::login::get_login).post(admin::login::post_login))                  // none (pre-session form)
        .route("/admin/logout", post(admin::login::post_logout))                                             // CSRF only
        .route("/admin/password/reset", get(reset::get_admin_request).post(reset::post_admin_request))        // none (pre-session form)
        .route("/admin/password/reset/{token}", get(reset::get_admin_form).post(reset::post_admin_form))    // one-time token
        .route("/admin/invite/{token}", get(admin::admins::get_accept).post(admin::admins::post_accept))     // one-time token
        .route("/admin/setup/{token}", get(admin::setup::get_setup).post(admin::setup::post_setup))          // one-time token
        .route("/admin", get(admin::dashboard::get_dashboard))                                               // main_homepage, else redirect to the role's landing page
        .route("/admin/health", get(admin::health::get_health))                                              // RequirePermission<ViewSystemHealth>
        .route("/admin/health/fix", post(admin::health::post_fix))                                           // RequirePermission<ConfigureGeneralSettings>
        .route("/admin/proxy", get(admin::proxy::get_proxy))                                                 // RequirePermission<ViewSystemHealth>
        .route("/admin/scheduler", get(admin::scheduler::get_scheduler))                                     // RequirePermission<ViewSystemHealth>
        .route("/admin/settings", get(admin::settings::get_settings).post(admin::settings::post_settings))   // RequirePermission<ConfigureGeneralSettings>
        .route("/admin/bans", get(admin::bans::get_bans).post(admin::bans::post_ban))                        // View/ManageBannedIps
        .route("/admin/admins", get(admin::admins::get_admins))                                              // RequirePermission<ManageAdmins>
        .route("/admin/admins/invite", post(admin::admins::post_invite))                                     // RequirePermission<ManageAdmins>
        .route("/admin/clients", get(admin::clients::get_clients))                                            // RequirePermission<ListClients>
        .route("/admin/clients/{id}", get(admin::clients::get_client))                                        // RequirePermission<ViewClientProfile>
        .route("/admin/clients/{id}/transfer", post(admin::clients::post_transfer))                           // RequirePermission<ManageClientAccounts>
        .route("/admin/clients/{id}/login-as", post(admin::clients::post_login_as))                           // RequirePermission<LoginAsClient>
        .route("/admin/admins/{id}", get(admin::admin_edit::get_admin).post(admin::admin_edit::post_admin))   // RequirePermission<ManageAdmins>
        .route("/admin/admins/{id}/delete", post(admin::admin_edit::post_delete))                              // RequirePermission<ManageAdmins>
        .route("/admin/roles", get(admin::roles::get_roles).post(admin::roles::post_create))                   // RequirePermission<ManageRoles>
        .route("/admin/roles/{id}", get(admin::roles::get_role).post(admin::roles::post_role))                 // RequirePermission<ManageRoles>
        .route("/admin/roles/{id}/delete", post(admin::roles::post_delete))                                    // RequirePermission<ManageRoles>
        .route("/admin/licenses", get(admin::licenses::get_licenses).post(admin::licenses::post_issue))        // RequirePermission<ManageLicenses>
        .route("/admin/licenses/products", post(admin::licenses::post_product))                            // RequirePermission<ManageLicenses>
        .route("/admin/licenses/products/{id}", get(admin::licenses::get_product).post(admin::licenses::post_product_edit)) // RequirePermission<ManageLicenses>
        .route("/admin/licenses/keys/add", post(admin::licenses::post_key_add))                             // RequirePermission<ManageLicenses>
        .route("/admin/licenses/keys/activate", post(admin::licenses::post_key_activate))                   // RequirePermission<ManageLicenses>
        .route("/admin/licenses/{id}", get(admin::licenses::get_license).post(admin::licenses::post_license)) // RequirePermission<ManageLicenses>
        .route("/admin/licenses/{id}/reissue", post(admin::licenses::post_reissue))                        // RequirePermission<ManageLicenses>
        .route("/admin/mail", get(admin::mail::get_mail))                                                    // RequirePermission<ViewMailLog>
        .route("/admin/audit", get(admin::audit::get_audit))                                                // RequirePermission<ViewAuditLog>
        .route("/admin/audit.csv", get(admin::audit::get_audit_csv))                                        // RequirePermission<ViewAuditLog>
        .route("/admin/two-factor", get(admin::two_factor::get_page))                                         // RequirePermission<ConfigureTwoFactor>
        .route("/admin/two-factor/duo", post(admin::two_factor::post_duo))                                     // RequirePermission<ConfigureTwoFactor>
        .route("/admin/two-factor/duo/remove", post(admin::two_factor::post_duo_remove))                       // RequirePermission<ConfigureTwoFactor>
        .route("/admin/two-factor/reset", post(admin::two_factor::post_reset))                                 // RequirePermission<ConfigureTwoFactor>
        .route("/admin/bans/lift", post(admin::bans::post_lift))                                             // RequirePermission<ManageBannedIps>
        .route("/admin/sessions", get(admin::sessions::get_sessions))                                        // CurrentAdmin
        .route("/admin/sessions/end", post(admin::sessions::post_end))                                       // CurrentAdmin
        .route("/admin/sessions/end-others", post(admin::sessions::post_end_others))                         // CurrentAdmin
        .route("/admin/account/password", get(admin::password::get_password).post(admin::password::post_password)) // CurrentAdmin
        .route("/admin/login/2fa", get(tf::challenge::get_challenge::<A>).post(tf::challenge::post_challenge::<A>)) // pending sign-in
        .route("/admin/login/2fa/cancel", post(tf::challenge::post_cancel::<A>))                             // pending sign-in
        .route("/admin/login/2fa/enrol", get(tf::enrol::get_enrol::<A>).post(tf::enrol::post_enrol::<A>))     // pending sign-in (required policy)
        .route("/admin/account/security", get(tf::security::get_security::<A>))                              // Signed<A>
        .route("/admin/account/security/confirm", post(tf::security::post_confirm::<A>))                     // Signed<A>
        .route("/admin/account/security/totp", get(tf::security::get_totp::<A>).post(tf::security::post_totp::<A>)) // Signed<A> + step-up
        .route("/admin/account/security/totp/remove", post(tf::security::post_totp_remove::<A>))             // Signed<A> + step-up
        .route("/admin/account/security/backup-codes", post(tf::security::post_backup_codes::<A>))           // Signed<A> + step-up
        .route("/admin/account/security/webauthn/remove", post(tf::security::post_key_remove::<A>))          // Signed<A> + step-up
        .route("/admin/account/security/duo", post(tf::security::post_duo::<A>))                             // Signed<A> + step-up
        .route("/admin/account/security/webauthn/options", post(tf::webauthn::post_register_options::<A>))        // Signed<A> + step-up (JSON)
        .route("/admin/account/security/webauthn", post(tf::webauthn::post_register::<A>))                        // Signed<A> + step-up (JSON)
        .route("/admin/login/2fa/webauthn/options", post(tf::webauthn::post_authenticate_options::<A>))          // pending sign-in (JSON)
        .route("/admin/login/2fa/webauthn", post(tf::webauthn::post_authenticate::<A>))                          // pending sign-in (JSON)
        .route("/admin/login/2fa/duo", post(tf::duo::post_start::<A>))                                          // pending sign-in
        .route("/admin/login/2fa/duo/callback", get(tf::duo::get_callback::<A>))                               // pending sign-in + Duo state
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
}

/// Builds the router with the whole request pipeline.
pub fn router(state: AppState) -> Router {
    let routes = table();

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
    // 6. authorisation: the extractors named in the table above.

    routes.layer(pipeline).with_state(state)
}

/// The path as it may appear in logs: secrets carried in the path are replaced, and the query
/// (which carries the sign-in marker) is never included.
pub fn loggable_path(path: &str) -> String {
    const SECRET_PREFIXES: [&str; 6] = [
        "/invite/",
        "/admin/setup/",
        "/admin/invite/",
        "/password/reset/",
        "/admin/password/reset/",
        "/verify-email/",
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
    #[test]
    fn token_paths_are_redacted_in_logs() {
        assert_eq!(
            super::loggable_path("/admin/setup/abc"),
            "/admin/setup/[redacted]"
        );
        assert_eq!(super::loggable_path("/login"), "/login");
    }
}
