//! `GET /account/sessions`, `POST /account/sessions/end`, `POST /account/sessions/end-others`.

use crate::session::Sessions;
use crate::settings::Settings;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, CurrentClient, Form};
use crate::web::sessions::{self, EndForm};
use axum::extract::State;
use axum::response::Response;

const BASE: &str = "/account/sessions";

/// Lists the user's sessions.
pub async fn get_sessions(
    State(settings): State<Settings>,
    State(service): State<Sessions>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let nav = current.nav(csrf);
    sessions::list(&settings, &service, &current.session, nav, BASE).await
}

/// Ends one of the user's sessions.
pub async fn post_end(
    State(settings): State<Settings>,
    State(service): State<Sessions>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<EndForm>,
) -> AppResult<Response> {
    current.not_impersonated()?;
    let nav = current.nav(csrf);
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

/// Ends all of the user's other sessions.
pub async fn post_end_others(
    State(settings): State<Settings>,
    State(service): State<Sessions>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    current.not_impersonated()?;
    let nav = current.nav(csrf);
    sessions::end_others(&settings, &service, &current.session, nav, BASE).await
}
