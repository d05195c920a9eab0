//! Password reset pages for both realms: `GET/POST /password/reset[/{token}]` and
//! `GET/POST /admin/password/reset[/{token}]` (F10). The [`Resets`] service decides and does
//! everything; this file maps its answers to pages and redirects.

use crate::account::FieldError;
use crate::reset::{CompleteError, RequestError, Resets, TokenState};
use crate::session::Realm;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, Peer};
use crate::web::page::{self, FieldErrors, ResetFormPage, ResetRequestPage};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;

fn paths(realm: Realm) -> (&'static str, &'static str) {
    match realm {
        Realm::Client => ("/password/reset", "/login"),
        Realm::Admin => ("/admin/password/reset", "/admin/login"),
    }
}

fn request_page(resets: &Resets, realm: Realm, csrf: String, notice: Option<String>) -> Response {
    let (action, login) = paths(realm);
    page::render(&ResetRequestPage {
        title: "Reset your password",
        nav: None,
        notice,
        disabled: !resets.available(realm),
        action,
        login,
        csrf,
    })
}

/// The request form.
pub fn get_request(resets: &Resets, realm: Realm, csrf: String) -> Response {
    request_page(resets, realm, csrf, None)
}

/// Handles a request; the answer is the same whether or not the address has an account.
pub async fn post_request(
    resets: &Resets,
    realm: Realm,
    ip: std::net::IpAddr,
    csrf: String,
    email: &str,
) -> AppResult<Response> {
    match resets.request(realm, email, ip).await {
        Ok(()) => {}
        Err(RequestError::Storage(e)) => return Err(e.into()),
        Err(RequestError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
    }
    let notice = "If an account uses that address, a link to choose a new password is on its way. It works for 2 hours; check your spam folder if it does not arrive.";
    Ok(request_page(resets, realm, csrf, Some(notice.into())))
}

async fn usable(resets: &Resets, realm: Realm, token: &str) -> AppResult<()> {
    match resets.token_state(realm, token).await? {
        TokenState::Valid { .. } => Ok(()),
        other => Err(invalid(resets, realm, other)),
    }
}

fn invalid(resets: &Resets, realm: Realm, token_state: TokenState) -> AppError {
    let (request_again, _) = paths(realm);
    // Not F10's old "invalid, please try again", which could not help: the title says which
    // case it is, the message what to do (issue 18, item 19).
    let (title, message) = resets.link_problem(token_state, request_again);
    AppError::LinkInvalid {
        title,
        message,
        unknown: matches!(token_state, TokenState::Unknown),
    }
}

fn form_page(
    resets: &Resets,
    realm: Realm,
    token: &str,
    csrf: String,
    errors: Vec<FieldError>,
) -> Response {
    let (base, _) = paths(realm);
    page::render(&ResetFormPage {
        title: "Choose a new password",
        nav: None,
        action: format!("{base}/{token}"),
        csrf,
        min_length: resets.policy(realm).min_length,
        errors: FieldErrors(errors),
    })
}

/// The new-password form for a usable link.
pub async fn get_form(
    resets: &Resets,
    realm: Realm,
    token: &str,
    csrf: String,
) -> AppResult<Response> {
    usable(resets, realm, token).await?;
    Ok(form_page(resets, realm, token, csrf, Vec::new()))
}

/// Sets the new password and sends the person to sign in.
pub async fn post_form(
    resets: &Resets,
    realm: Realm,
    token: &str,
    csrf: String,
    form: ResetForm,
) -> AppResult<Response> {
    let password = SecretString::from(form.password);
    match resets
        .complete(realm, token, &password, &form.password_confirm)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("{}?reset=done", paths(realm).1)).into_response()),
        Err(CompleteError::Link(token_state)) => Err(invalid(resets, realm, token_state)),
        Err(CompleteError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(resets, realm, token, csrf, errors),
        )
            .into_response()),
        Err(CompleteError::Busy) => Err(AppError::Busy),
        Err(CompleteError::Unexpected(e)) => Err(AppError::Unexpected(e)),
        Err(CompleteError::Storage(e)) => Err(e.into()),
    }
}

/// The request form's field.
#[derive(serde::Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    email: String,
}

/// The new-password form's fields.
#[derive(serde::Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// `GET /password/reset`.
pub async fn get_client_request(
    State(resets): State<Resets>,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    get_request(&resets, Realm::Client, csrf)
}
/// `POST /password/reset`.
pub async fn post_client_request(
    State(resets): State<Resets>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(f): Form<RequestForm>,
) -> AppResult<Response> {
    post_request(&resets, Realm::Client, addr.ip, csrf, &f.email).await
}
/// `GET /password/reset/{token}`.
pub async fn get_client_form(
    State(resets): State<Resets>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    get_form(&resets, Realm::Client, &token, csrf).await
}
/// `POST /password/reset/{token}`.
pub async fn post_client_form(
    State(resets): State<Resets>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
    Form(f): Form<ResetForm>,
) -> AppResult<Response> {
    post_form(&resets, Realm::Client, &token, csrf, f).await
}
/// `GET /admin/password/reset`.
pub async fn get_admin_request(
    State(resets): State<Resets>,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    get_request(&resets, Realm::Admin, csrf)
}
/// `POST /admin/password/reset`.
pub async fn post_admin_request(
    State(resets): State<Resets>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(f): Form<RequestForm>,
) -> AppResult<Response> {
    post_request(&resets, Realm::Admin, addr.ip, csrf, &f.email).await
}
/// `GET /admin/password/reset/{token}`.
pub async fn get_admin_form(
    State(resets): State<Resets>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    get_form(&resets, Realm::Admin, &token, csrf).await
}
/// `POST /admin/password/reset/{token}`.
pub async fn post_admin_form(
    State(resets): State<Resets>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
    Form(f): Form<ResetForm>,
) -> AppResult<Response> {
    post_form(&resets, Realm::Admin, &token, csrf, f).await
}
