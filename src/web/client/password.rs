//! `GET/POST /account/password`: change the password; every other session is signed out.

use crate::app::AppState;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, CurrentClient, Form};
use crate::web::page::Nav;
use axum::extract::State;
use axum::response::Response;

const PASSWORD: &str = "/account/password";

/// The change-password form.
pub async fn get_password(
    State(state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    let nav = Nav {
        admin: false,
        name: current.user.first_name.clone(),
        csrf,
    };
    crate::web::password::form(
        &state,
        current.session.realm,
        nav,
        PASSWORD,
        None,
        Vec::new(),
    )
}

/// Changes the password and signs out every other session.
pub async fn post_password(
    State(state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<crate::web::password::PasswordForm>,
) -> AppResult<Response> {
    let nav = Nav {
        admin: false,
        name: current.user.first_name.clone(),
        csrf,
    };
    crate::web::password::submit(&state, &current.session, nav, PASSWORD, form).await
}
