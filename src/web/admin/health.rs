//! `GET /admin/health`: System Health, the doctor's checks in the browser, and
//! `POST /admin/health/fix`: a check's one-step fix (audit-logged).

use crate::app::AppState;
use crate::doctor;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{
    ConfigureGeneralSettings, CsrfToken, Form, Peer, RequirePermission, ViewSystemHealth,
};
use crate::web::page::{self, HealthPage};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};

/// `?fixed=ID` after a fix was applied.
#[derive(serde::Deserialize)]
pub struct HealthQuery {
    fixed: Option<String>,
}

/// Runs every check and shows the results.
pub async fn get_health(
    State(state): State<AppState>,
    gate: RequirePermission<ViewSystemHealth>,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<HealthQuery>,
) -> Response {
    let checks = doctor::run_all(&state).await;
    let notice = query
        .fixed
        .filter(|id| checks.iter().any(|c| c.id == id))
        .map(|id| format!("Applied the fix for {id}. The check below shows the result."));
    page::render(&HealthPage {
        title: "System Health",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        notice,
        csrf,
        overall: doctor::overall(&checks).as_str(),
        checks,
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
    let actor = format!("admin:{}", gate.current.admin.username);
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
