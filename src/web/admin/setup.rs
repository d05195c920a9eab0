//! `GET/POST /admin/setup/{token}`: create the first admin from the link `serve` printed.

use crate::account::{self, CreateError, FieldError, NewAdmin};
use crate::app::AppState;
use crate::db::one_time_token::TokenState;
use crate::session::Realm;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, Peer, SessionInfo, UserAgent};
use crate::web::page::{self, FieldErrors, SetupPage};
use crate::web::signin;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret as _, SecretString};

/// The setup form's fields.
#[derive(serde::Deserialize, Default)]
pub struct SetupForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn page(
    state: &AppState,
    csrf: String,
    token: &str,
    form: &SetupForm,
    errors: Vec<FieldError>,
) -> SetupPage {
    SetupPage {
        title: "Set up Portcullis",
        nav: None,
        csrf,
        lead: "Create the first administrator. This link works once and expires one hour after the server printed it.",
        action: format!("/admin/setup/{token}"),
        button: "Create administrator",
        email_fixed: false,
        username: form.username.chars().take(32).collect(),
        email: form.email.chars().take(254).collect(),
        min_length: state.config.admin_min_password_length,
        errors: FieldErrors(errors),
    }
}

/// Explains exactly why a setup link cannot be used (F10-style: unknown, expired or used).
async fn usable(state: &AppState, token: &str) -> AppResult<()> {
    let why = match account::setup_state(state, token).await? {
        TokenState::Valid { .. } => return Ok(()),
        TokenState::Unknown => "This setup link is not valid. Restart `portcullis serve` to print a new one (only while no admin exists), or create an admin with `portcullis admin create`.".to_owned(),
        TokenState::Expired { at } => format!("This setup link expired at {}. Restart `portcullis serve` to print a new one.", state.show_time(at)),
        TokenState::Used { at } => format!("This setup link was already used at {}. Sign in at /admin/login.", state.show_time(at)),
    };
    Err(AppError::Forbidden(why))
}

/// Shows the form.
pub async fn get_setup(
    State(state): State<AppState>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    usable(&state, &token).await?;
    Ok(page::render(&page(
        &state,
        csrf,
        &token,
        &SetupForm::default(),
        Vec::new(),
    )))
}

/// Creates the first admin and signs them in.
pub async fn post_setup(
    State(state): State<AppState>,
    Path(token): Path<String>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    usable(&state, &token).await?;
    let password = SecretString::from(form.password.clone());
    let result = if form.password_confirm == *password.expose_secret() {
        account::complete_setup(
            &state,
            &token,
            &NewAdmin {
                username: &form.username,
                email: &form.email,
                password: &password,
            },
        )
        .await
    } else {
        Err(CreateError::Invalid(vec![FieldError {
            field: "password_confirm",
            message: "The two passwords are not the same.".into(),
        }]))
    };
    match result {
        Ok(admin_id) => {
            tracing::info!(admin_id, "first admin created from the setup link");
            let sign_in =
                signin::for_request(Realm::Admin, admin_id, None, addr, &ua, loaded.as_ref());
            signin::start_session(&state, sign_in, "/admin").await
        }
        Err(CreateError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page::render(&page(&state, csrf, &token, &form, errors)),
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}
