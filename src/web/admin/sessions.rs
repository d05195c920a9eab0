//! `GET /admin/sessions`, `POST /admin/sessions/end`, `POST /admin/sessions/end-others`.

use crate::session::Sessions;
use crate::settings::Settings;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, CurrentAdmin, Form};
use crate::web::sessions::{self, EndForm};
use axum::extract::State;
use axum::response::Response;

const BASE: &str = "/admin/sessions";

/// Lists the admin's sessions.
pub async fn get_sessions(
    State(settings): State<Settings>,
    State(service): State<Sessions>,
    current: CurrentAdmin,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let nav = super::nav(&current, csrf);
    sessions::list(&settings, &service, &current.session, nav, BASE).await
}

/// Ends one of the admin's sessions.
pub async fn post_end(
    State(settings): State<Settings>,
    State(service): State<Sessions>,
    current: CurrentAdmin,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<EndForm>,
) -> AppResult<Response> {
    let nav = super::nav(&current, csrf);
    sessions::end_one(
        &settings,
        &service,
        &current.session,
        &form.session,
        nav,
        BASE,
    )
    .await
}

/// Ends all of the admin's other sessions.
pub async fn post_end_others(
    State(settings): State<Settings>,
    State(service): State<Sessions>,
    current: CurrentAdmin,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let nav = super::nav(&current, csrf);
    sessions::end_others(&settings, &service, &current.session, nav, BASE).await
}
