//! `GET /admin/health`: System Health, the doctor's checks grouped by area in the browser, or
//! for JSON callers exactly the report `portcullis doctor --json` prints; and
//! `POST /admin/health/fix`: a check's one-step fix (audit-logged).

use crate::app::AppState;
use crate::auth::permission::Permission;
use crate::doctor::{self, Severity};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{
    ConfigureGeneralSettings, CsrfToken, Form, Peer, RequirePermission, ViewSystemHealth,
};
use crate::web::middleware::negotiate::wants_json;
use crate::web::page::{self, HealthPage};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

/// `?fixed=ID` after a fix was applied.
#[derive(serde::Deserialize)]
pub struct HealthQuery {
    fixed: Option<String>,
}

/// Runs every check and shows the results by area, or returns the CLI's JSON report.
pub async fn get_health(
    State(state): State<AppState>,
    gate: RequirePermission<ViewSystemHealth>,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<HealthQuery>,
    headers: HeaderMap,
) -> Response {
    let checks = doctor::run_all(&state).await;
    if wants_json(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())) {
        return axum::Json(doctor::json_report(&checks)).into_response();
    }
    let notice = query
        .fixed
        .filter(|id| checks.iter().any(|c| c.id == id))
        .map(|id| format!("Applied the fix for {id}. The check below shows the result."));
    let count = |s: Severity| checks.iter().filter(|c| c.severity == s).count();
    let (ok, info, warnings, errors) = (
        count(Severity::Ok),
        count(Severity::Info),
        count(Severity::Warning),
        count(Severity::Error),
    );
    let overall = doctor::overall(&checks).as_str();
    page::render(&HealthPage {
        title: "System Health",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        notice,
        csrf,
        overall,
        ok,
        info,
        warnings,
        errors,
        areas: doctor::group(checks),
        can_fix: gate
            .current
            .permissions
            .contains(Permission::ConfigureGeneralSettings),
    })
}

/// The fix form's field.
#[derive(serde::Deserialize)]
pub struct FixForm {
    id: String,
}

/// Applies a check's fix and returns to System Health.
pub async fn post_fix(
    State(state): State<AppState>,
    gate: RequirePermission<ConfigureGeneralSettings>,
    Peer(addr): Peer,
    Form(form): Form<FixForm>,
) -> AppResult<Response> {
    let actor = format!("admin:{}", gate.current.admin.id);
    match doctor::fix(&state, &form.id, &actor, &addr.ip.to_string()).await {
        Ok(message) => {
            tracing::info!(check = %form.id, actor, "doctor fix applied: {message}");
            Ok(Redirect::to(&format!(
                "/admin/health?fixed={}",
                url::form_urlencoded::byte_serialize(form.id.as_bytes()).collect::<String>()
            ))
            .into_response())
        }
        Err(e @ (doctor::FixError::Unknown(_) | doctor::FixError::NotFixable(_))) => {
            Err(AppError::BadRequest(e.to_string()))
        }
        Err(e) => Err(AppError::Unexpected(anyhow::anyhow!(e.to_string()))),
    }
}
