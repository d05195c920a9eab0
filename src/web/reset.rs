//! Password reset pages for both realms: `GET/POST /password/reset[/{token}]` and
//! `GET/POST /admin/password/reset[/{token}]` (F10).

use crate::app::AppState;
use crate::db::one_time_token::TokenState;
use crate::reset::{self, CompleteError};
use crate::session::Realm;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, Peer};
use crate::web::page::{self, FieldErrors, ResetFormPage, ResetRequestPage};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;

/// The text F10 is known by, kept recognisable; the message below it says which case it is.
const INVALID_TITLE: &str = "The reset link you have followed is invalid. Please try again.";

fn paths(realm: Realm) -> (&'static str, &'static str) {
    match realm {
        Realm::Client => ("/password/reset", "/login"),
        Realm::Admin => ("/admin/password/reset", "/admin/login"),
    }
}

fn disabled(state: &AppState, realm: Realm) -> bool {
    realm == Realm::Admin && !state.config.admin_password_reset
}

fn request_page(state: &AppState, realm: Realm, csrf: String, notice: Option<String>) -> Response {
    let (action, login) = paths(realm);
    page::render(&ResetRequestPage {
        title: "Reset your password",
        nav: None,
        notice,
        disabled: disabled(state, realm),
        action,
        login,
        csrf,
    })
}

/// The request form.
pub fn get_request(state: &AppState, realm: Realm, csrf: String) -> Response {
    request_page(state, realm, csrf, None)
}

/// Handles a request; the answer is the same whether or not the address has an account.
pub async fn post_request(
    state: &AppState,
    realm: Realm,
    ip: std::net::IpAddr,
    csrf: String,
    email: &str,
) -> AppResult<Response> {
    if !disabled(state, realm) {
        reset::request(state, realm, email, ip).await?;
    }
    let notice = "If an account uses that address, a link to choose a new password is on its way. It works for 2 hours; check your spam folder if it does not arrive.";
    Ok(request_page(state, realm, csrf, Some(notice.into())))
}

async fn usable(state: &AppState, realm: Realm, token: &str) -> AppResult<()> {
    match reset::token_state(state, realm, token).await? {
        TokenState::Valid { .. } => Ok(()),
        other => Err(invalid(state, realm, other)),
    }
}

fn invalid(state: &AppState, realm: Realm, token_state: TokenState) -> AppError {
    let (request_again, _) = paths(realm);
    AppError::LinkInvalid {
        title: INVALID_TITLE,
        message: reset::link_problem(
            token_state,
            request_again,
            &state.settings.snapshot().values.timezone,
        ),
        unknown: matches!(token_state, TokenState::Unknown),
    }
}

fn form_page(
    state: &AppState,
    realm: Realm,
    token: &str,
    csrf: String,
    errors: Vec<crate::account::FieldError>,
) -> Response {
    let (base, _) = paths(realm);
    let min_length = match realm {
        Realm::Client => state.config.client_min_password_length,
        Realm::Admin => state.config.admin_min_password_length,
    };
    page::render(&ResetFormPage {
        title: "Choose a new password",
        nav: None,
        action: format!("{base}/{token}"),
        csrf,
        min_length,
        errors: FieldErrors(errors),
    })
}

/// The new-password form for a usable link.
pub async fn get_form(
    state: &AppState,
    realm: Realm,
    token: &str,
    csrf: String,
) -> AppResult<Response> {
    usable(state, realm, token).await?;
    Ok(form_page(state, realm, token, csrf, Vec::new()))
}

/// Sets the new password and sends the person to sign in.
pub async fn post_form(
    state: &AppState,
    realm: Realm,
    token: &str,
    csrf: String,
    form: ResetForm,
) -> AppResult<Response> {
    let password = SecretString::from(form.password);
    match reset::complete(state, realm, token, &password, &form.password_confirm).await {
        Ok(()) => Ok(Redirect::to(&format!("{}?reset=done", paths(realm).1)).into_response()),
        Err(CompleteError::Link(token_state)) => Err(invalid(state, realm, token_state)),
        Err(CompleteError::Create(crate::account::CreateError::Invalid(errors))) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(state, realm, token, csrf, errors),
        )
            .into_response()),
        Err(CompleteError::Create(other)) => Err(other.into()),
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
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    get_request(&state, Realm::Client, csrf)
}
/// `POST /password/reset`.
pub async fn post_client_request(
    State(state): State<AppState>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(f): Form<RequestForm>,
) -> AppResult<Response> {
    post_request(&state, Realm::Client, addr.ip, csrf, &f.email).await
}
/// `GET /password/reset/{token}`.
pub async fn get_client_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    get_form(&state, Realm::Client, &token, csrf).await
}
/// `POST /password/reset/{token}`.
pub async fn post_client_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
    Form(f): Form<ResetForm>,
) -> AppResult<Response> {
    post_form(&state, Realm::Client, &token, csrf, f).await
}
/// `GET /admin/password/reset`.
pub async fn get_admin_request(
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    get_request(&state, Realm::Admin, csrf)
}
/// `POST /admin/password/reset`.
pub async fn post_admin_request(
    State(state): State<AppState>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(f): Form<RequestForm>,
) -> AppResult<Response> {
    post_request(&state, Realm::Admin, addr.ip, csrf, &f.email).await
}
/// `GET /admin/password/reset/{token}`.
pub async fn get_admin_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    get_form(&state, Realm::Admin, &token, csrf).await
}
/// `POST /admin/password/reset/{token}`.
pub async fn post_admin_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
    Form(f): Form<ResetForm>,
) -> AppResult<Response> {
    post_form(&state, Realm::Admin, &token, csrf, f).await
}
