//! `GET /admin`: the admin dashboard, and the landing page after sign-in. An admin whose role
//! lacks `main_homepage` is sent to the first page their role does allow, so no role lands on
//! an Access Denied page right after signing in.

use crate::auth::permission::{LANDING, Permission};
use crate::web::extract::{CsrfToken, CurrentAdmin};
use crate::web::page::{self, AdminDashboardPage};
use axum::response::{IntoResponse, Redirect, Response};

/// The dashboard (gate: `main_homepage`, else a redirect to the role's landing page).
pub async fn get_dashboard(current: CurrentAdmin, CsrfToken(csrf): CsrfToken) -> Response {
    if !current.permissions.contains(Permission::MainHomepage) {
        let landing = LANDING
            .iter()
            .find(|(p, _)| current.permissions.contains(*p))
            .map_or("/admin/account/security", |(_, path)| path);
        return Redirect::to(landing).into_response();
    }
    page::render(&AdminDashboardPage {
        title: "Dashboard",
        nav: Some(super::nav(&current, csrf)),
        username: current.admin.username,
        role: current.admin.role_name,
    })
}
