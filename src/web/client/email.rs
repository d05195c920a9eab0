//! `GET/POST /account/email`: change the email address (confirmed by a new link). The rules
//! are [`Accounts::change_email`]'s; this file shows the form and its field errors.

use crate::account::{self, Accounts, CreateError};
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
    accounts: &Accounts,
    current: &CurrentClient,
    csrf: String,
    notice: Option<String>,
    typed: &str,
    errors: Vec<account::FieldError>,
) -> AppResult<Response> {
    // Read again: a change just made is not in the row the extractor loaded.
    let user = accounts
        .user(current.user.id.into())
        .await?
        .unwrap_or_else(|| current.user.clone());
    Ok(page::render(&EmailChangePage {
        title: "Your email address",
        nav: Some(current.nav(csrf.clone())),
        notice,
        csrf,
        verified: user.email_verified_at.is_some(),
        current: user.email,
        email: typed.chars().take(254).collect(),
        errors: FieldErrors(errors),
    }))
}

/// The form.
pub async fn get_email(
    State(accounts): State<Accounts>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    current.not_impersonated()?;
    render(&accounts, &current, csrf, None, "", Vec::new()).await
}

/// Changes the address and sends the confirmation link.
pub async fn post_email(
    State(accounts): State<Accounts>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<EmailForm>,
) -> AppResult<Response> {
    current.not_impersonated()?;
    let password = SecretString::from(form.current_password);
    match accounts
        .change_email(current.user.id.into(), &form.email, &password)
        .await
    {
        Ok(()) => {
            let notice = format!(
                "Your address is now {}. Follow the link we sent there to confirm it.",
                form.email.trim()
            );
            render(&accounts, &current, csrf, Some(notice), "", Vec::new()).await
        }
        Err(CreateError::Invalid(errors)) => {
            let page = render(&accounts, &current, csrf, None, &form.email, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
