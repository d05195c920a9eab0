//! "Change your password" for both realms: check the current one, apply the policy, end every
//! other session.

use crate::account::{self, CreateError, FieldError};
use crate::app::AppState;
use crate::session::{Realm, Session};
use crate::web::error::AppResult;
use crate::web::page::{self, FieldErrors, Nav, PasswordPage};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret as _, SecretString};

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

fn min_length(state: &AppState, realm: Realm) -> usize {
    match realm {
        Realm::Client => state.config.client_min_password_length,
        Realm::Admin => state.config.admin_min_password_length,
    }
}

/// The form, with an optional notice and field errors.
pub fn form(
    state: &AppState,
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
        min_length: min_length(state, realm),
        errors: FieldErrors(errors),
    })
}

/// Applies a submitted form.
///
/// # Errors
/// `Busy` and storage errors; field problems are shown on the form.
pub async fn submit(
    state: &AppState,
    session: &Session,
    nav: Nav,
    action: &'static str,
    form_data: PasswordForm,
) -> AppResult<Response> {
    let new = SecretString::from(form_data.password);
    let result = if form_data.password_confirm == *new.expose_secret() {
        account::change_password(
            state,
            session,
            &SecretString::from(form_data.current_password),
            &new,
        )
        .await
    } else {
        Err(CreateError::Invalid(vec![FieldError {
            field: "password_confirm",
            message: "The two passwords are not the same.".into(),
        }]))
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
                state,
                session.realm,
                nav,
                action,
                Some(notice),
                Vec::new(),
            ))
        }
        Err(CreateError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            form(state, session.realm, nav, action, None, errors),
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}
