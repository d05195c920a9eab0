//! `GET /admin/health`: System Health, the doctor's checks in the browser.

use crate::app::AppState;
use crate::doctor;
use crate::web::extract::{CsrfToken, RequirePermission, ViewSystemHealth};
use crate::web::page::{self, HealthPage};
use axum::extract::State;
use axum::response::Response;

/// Runs every check and shows the results.
pub async fn get_health(
    State(state): State<AppState>,
    gate: RequirePermission<ViewSystemHealth>,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    let checks = doctor::run_all(&state).await;
    page::render(&HealthPage {
        title: "System Health",
        nav: Some(super::nav(&gate.current, csrf)),
        overall: doctor::overall(&checks).as_str(),
        checks,
    })
}
