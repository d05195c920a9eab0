//! "Change your password" for both realms: the form and its field errors. Checking the current
//! password, the policy and ending every other session are [`Accounts::change_password`]'s.
//! Also `GET /static/password.js`, the strength meter and "Show password" control every
//! new-password form loads (progressive enhancement; the server's policy check is the rule).

use crate::account::{Accounts, CreateError, FieldError};
use crate::session::{Realm, Session};
use crate::web::error::AppResult;
use crate::web::page::{self, FieldErrors, Nav, PasswordPage};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;

/// `GET /static/password.js`, compiled into the binary: the strength meter and the "Show
/// password" control of the forms where a new password is chosen (a file, because the CSP
/// allows no inline script).
pub async fn get_script() -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/password.js"),
    )
        .into_response()
}

/// The form's fields.
#[derive(serde::Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// The form, with an optional notice and field errors.
pub fn form(
    accounts: &Accounts,
    realm: Realm,
    nav: Nav,
    action: &'static str,
    notice: Option<String>,
    errors: Vec<FieldError>,
) -> Response {
    let csrf = nav.csrf.clone();
    page::render(&PasswordPage {
        title: "Change your password",
        nav: Some(nav),
        notice,
        action,
        csrf,
        min_length: accounts.min_password_length(realm),
        errors: FieldErrors(errors),
    })
}

/// Applies a submitted form.
///
/// # Errors
/// `Busy` and storage errors; field problems are shown on the form.
pub async fn submit(
    accounts: &Accounts,
    session: &Session,
    nav: Nav,
    action: &'static str,
    form_data: PasswordForm,
) -> AppResult<Response> {
    let new = SecretString::from(form_data.password);
    let result = match crate::account::mismatch(&new, &form_data.password_confirm) {
        None => {
            accounts
                .change_password(
                    session,
                    &SecretString::from(form_data.current_password),
                    &new,
                )
                .await
        }
        Some(problem) => Err(CreateError::Invalid(vec![problem])),
    };
    match result {
        Ok(ended) => {
            tracing::info!(
                realm = session.realm.as_str(),
                subject_id = session.subject_id,
                ended,
                "password changed"
            );
            let notice =
                format!("Your password was changed. {ended} other session(s) were signed out.");
            Ok(form(
                accounts,
                session.realm,
                nav,
                action,
                Some(notice),
                Vec::new(),
            ))
        }
        Err(CreateError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            form(accounts, session.realm, nav, action, None, errors),
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}
