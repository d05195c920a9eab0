//! `GET/POST /account/password`: change the password; every other session is signed out.

use crate::account::Accounts;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, CurrentClient, Form};
use axum::extract::State;
use axum::response::Response;

const PASSWORD: &str = "/account/password";

/// The change-password form.
pub async fn get_password(
    State(accounts): State<Accounts>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    if let Err(refused) = current.not_impersonated() {
        return axum::response::IntoResponse::into_response(refused);
    }
    let nav = current.nav(csrf);
    crate::web::password::form(
        &accounts,
        current.session.realm,
        nav,
        PASSWORD,
        None,
        Vec::new(),
    )
}

/// Changes the password and signs out every other session.
pub async fn post_password(
    State(accounts): State<Accounts>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<crate::web::password::PasswordForm>,
) -> AppResult<Response> {
    current.not_impersonated()?;
    let nav = current.nav(csrf);
    crate::web::password::submit(&accounts, &current.session, nav, PASSWORD, form).await
}
