//! `GET/POST /account/email`: change the email address (confirmed by a new link).

use crate::account::{self, CreateError};
use crate::app::AppState;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, CurrentClient, Form};
use crate::web::page::{self, EmailChangePage, FieldErrors};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;

/// The form's fields.
#[derive(serde::Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

async fn render(
    state: &AppState,
    current: &CurrentClient,
    csrf: String,
    notice: Option<String>,
    typed: &str,
    errors: Vec<account::FieldError>,
) -> AppResult<Response> {
    let user = crate::db::account::find_user_by_id(&state.db, current.user.id)
        .await?
        .unwrap_or_else(|| current.user.clone());
    let verified = crate::db::mail::is_verified(&state.db, user.id).await?;
    Ok(page::render(&EmailChangePage {
        title: "Your email address",
        nav: Some(current.nav(csrf.clone())),
        notice,
        csrf,
        current: user.email,
        verified,
        email: typed.chars().take(254).collect(),
        errors: FieldErrors(errors),
    }))
}

/// The form.
pub async fn get_email(
    State(state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    current.not_impersonated()?;
    render(&state, &current, csrf, None, "", Vec::new()).await
}

/// Changes the address and sends the confirmation link.
pub async fn post_email(
    State(state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<EmailForm>,
) -> AppResult<Response> {
    current.not_impersonated()?;
    let password = SecretString::from(form.current_password);
    match account::change_email(&state, current.user.id, &form.email, &password).await {
        Ok(()) => {
            let notice = format!(
                "Your address is now {}. Follow the link we sent there to confirm it.",
                form.email.trim()
            );
            render(&state, &current, csrf, Some(notice), "", Vec::new()).await
        }
        Err(CreateError::Invalid(errors)) => {
            let page = render(&state, &current, csrf, None, &form.email, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
