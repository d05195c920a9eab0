//! `GET/POST /account/email`: ask to change the email address (it changes when the new address
//! confirms it); `GET/POST /email/revert/{token}`: undo a change from the old address. The rules
//! are [`Accounts::change_email`]'s and [`Accounts::revert_email`]'s; this file shows the forms,
//! their field errors and the outcome.

use crate::account::{self, Accounts, CreateError, LinkState, RevertError};
use crate::settings::Settings;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, CurrentClient, Form};
use crate::web::page::{self, EmailChangePage, ErrorPage, FieldErrors, Nav};
use askama::Template;
use axum::extract::{Path, State};
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
                "We sent a link to {}. Your address changes when you follow it (within {} minutes); until then, keep signing in with your current address.",
                form.email.trim(),
                account::VERIFY_LIFETIME / 60
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

/// The page that asks before undoing an email change (a GET changes nothing, so a mail
/// program that opens links to preview them undoes nothing).
#[derive(Template)]
#[template(path = "email_revert.html")]
struct RevertPage {
    title: &'static str,
    nav: Option<Nav>,
    action: String,
    csrf: String,
    email: String,
}

fn revert_refused(link: LinkState, settings: &Settings) -> AppError {
    AppError::LinkInvalid {
        title: "This link cannot undo the change",
        message: crate::reset::link_problem(
            link,
            "/password/reset (a reset link goes to the address your account has now)",
            &settings.snapshot().values.timezone,
        ),
        unknown: matches!(link, LinkState::Unknown),
    }
}

/// `GET /email/revert/{token}`: what undoing does, and the button.
pub async fn get_revert(
    State(accounts): State<Accounts>,
    State(settings): State<Settings>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    match accounts.revert_state(&token).await? {
        LinkState::Valid { .. } => {}
        other => return Err(revert_refused(other, &settings)),
    }
    let email = accounts.revert_address(&token).await?;
    Ok(page::render(&RevertPage {
        title: "Undo the change of your email address",
        nav: None,
        action: format!("{}{token}", account::REVERT_PATH),
        csrf,
        email,
    }))
}

/// `POST /email/revert/{token}`: undoes the change.
pub async fn post_revert(
    State(accounts): State<Accounts>,
    State(settings): State<Settings>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match accounts.revert_email(&token).await {
        Ok(reverted) => {
            let message = format!(
                "Your address is {} again, every session was signed out and password reset links were cancelled. Whoever changed it knew your password: reset it now at /password/reset (the link goes to {}), then sign in.",
                reverted.email, reverted.email
            );
            Ok(page::render(&ErrorPage {
                title: "The change is undone",
                message: &message,
                details: &[],
                nav: None,
            }))
        }
        Err(RevertError::Link(link)) => Err(revert_refused(link, &settings)),
        Err(conflict @ RevertError::Taken(_)) => Err(AppError::Conflict(conflict.to_string())),
        Err(RevertError::Storage(e)) => Err(e.into()),
    }
}
