//! `GET /admin/health`: System Health, the doctor's checks grouped by area in the browser, or
//! for JSON callers exactly the report `portcullis doctor --json` prints; and
//! `POST /admin/health/fix`: a check's one-step fix (audit-logged).

use crate::auth::permission::Permission;
use crate::doctor::{self, Doctor, Severity};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{
    ConfigureGeneralSettings, CsrfToken, Form, RequirePermission, ViewSystemHealth,
};
use crate::web::middleware::negotiate::wants_json;
use crate::web::page::{self, HealthPage};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

/// `?fixed=ID` after a fix was applied; `&done=N&left=M` when a bounded fix stopped at its
/// time budget with work left (numbers only, so nothing from the address is shown as text).
#[derive(serde::Deserialize)]
pub struct HealthQuery {
    fixed: Option<String>,
    done: Option<u64>,
    left: Option<u64>,
}

/// Runs every check and shows the results by area, or returns the CLI's JSON report.
pub async fn get_health(
    State(doctor): State<Doctor>,
    gate: RequirePermission<ViewSystemHealth>,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<HealthQuery>,
    headers: HeaderMap,
) -> Response {
    let checks = doctor.run_all().await;
    if wants_json(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())) {
        return axum::Json(doctor::json_report(&checks)).into_response();
    }
    let notice = query
        .fixed
        .filter(|id| checks.iter().any(|c| c.id == id))
        .map(|id| match (query.done, query.left) {
            (Some(done), Some(left)) if left > 0 => format!(
                "The fix for {id} stopped after {} s, as it must inside a web request: it removed {done} and {left} remain. Run it again, or let the scheduler finish.",
                doctor::FIX_TIME_BUDGET.as_secs()
            ),
            _ => format!("Applied the fix for {id}. The check below shows the result."),
        });
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
    State(doctor): State<Doctor>,
    gate: RequirePermission<ConfigureGeneralSettings>,
    Form(form): Form<FixForm>,
) -> AppResult<Response> {
    let actor = gate.current.actor();
    // The audit entry takes the request's address (an empty `from`).
    match doctor
        .fix(&form.id, &actor, "", doctor::FixScope::Bounded)
        .await
    {
        Ok(fixed) => {
            tracing::info!(check = %form.id, %actor, "doctor fix applied: {}", fixed.message);
            let id = url::form_urlencoded::byte_serialize(form.id.as_bytes()).collect::<String>();
            let to = match fixed.left {
                Some((done, left)) => format!("/admin/health?fixed={id}&done={done}&left={left}"),
                None => format!("/admin/health?fixed={id}"),
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(e @ (doctor::FixError::Unknown(_) | doctor::FixError::NotFixable(_))) => {
            Err(AppError::BadRequest(e.to_string()))
        }
        Err(doctor::FixError::Busy(_, why)) => Err(AppError::Conflict(why)),
        Err(e) => Err(AppError::Unexpected(anyhow::anyhow!(e.to_string()))),
    }
}
