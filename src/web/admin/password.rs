//! `GET/POST /admin/account/password`: change the password; every other session is signed out.

use crate::account::Accounts;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, CurrentAdmin, Form};
use axum::extract::State;
use axum::response::Response;

const PASSWORD: &str = "/admin/account/password";

/// The change-password form.
pub async fn get_password(
    State(accounts): State<Accounts>,
    current: CurrentAdmin,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    let nav = super::nav(&current, csrf);
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
    current: CurrentAdmin,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<crate::web::password::PasswordForm>,
) -> AppResult<Response> {
    let nav = super::nav(&current, csrf);
    crate::web::password::submit(&accounts, &current.session, nav, PASSWORD, form).await
}
