//! `GET /admin`: the admin dashboard.

use crate::web::extract::{CsrfToken, MainHomepage, RequirePermission};
use crate::web::page::{self, AdminDashboardPage};
use axum::response::Response;

/// The dashboard.
pub async fn get_dashboard(
    gate: RequirePermission<MainHomepage>,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    let current = gate.current;
    page::render(&AdminDashboardPage {
        title: "Dashboard",
        nav: Some(super::nav(&current, csrf)),
        username: current.admin.username,
        role: current.admin.role_name,
    })
}
