//! `GET /admin/sessions`, `POST /admin/sessions/end`, `POST /admin/sessions/end-others`.

use crate::app::AppState;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, CurrentAdmin, Form};
use crate::web::sessions::{self, EndForm};
use axum::extract::State;
use axum::response::Response;

const BASE: &str = "/admin/sessions";

/// Lists the admin's sessions.
pub async fn get_sessions(
    State(state): State<AppState>,
    current: CurrentAdmin,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let nav = super::nav(&current, csrf);
    sessions::list(&state, &current.session, nav, BASE).await
}

/// Ends one of the admin's sessions.
pub async fn post_end(
    State(state): State<AppState>,
    current: CurrentAdmin,
    Form(form): Form<EndForm>,
) -> AppResult<Response> {
    sessions::end_one(&state, &current.session, &form.session, BASE).await
}

/// Ends all of the admin's other sessions.
pub async fn post_end_others(
    State(state): State<AppState>,
    current: CurrentAdmin,
) -> AppResult<Response> {
    sessions::end_others(&state, &current.session, BASE).await
}
