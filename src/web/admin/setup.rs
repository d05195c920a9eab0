//! `GET/POST /admin/setup/{token}`: create the first admin from the link `serve` printed.

use crate::account::Accounts;
use crate::account::{FieldError, NewAdmin};
use crate::invite::Link;
use crate::session::Realm;
use crate::settings::Settings;
use crate::setup::Setup;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, Form};
use crate::web::invitation::{self, Arrival};
use crate::web::page::{self, FieldErrors, SetupPage};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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
    accounts: &Accounts,
    csrf: String,
    token: &str,
    form: &SetupForm,
    errors: Vec<FieldError>,
) -> Response {
    page::render(&SetupPage {
        title: "Set up Portcullis",
        nav: None,
        csrf,
        lead: "Create the first administrator. This link works once and expires one hour after the server printed it.",
        action: format!("/admin/setup/{token}"),
        button: "Create administrator",
        email_fixed: false,
        username: form.username.chars().take(32).collect(),
        email: form.email.chars().take(254).collect(),
        min_length: accounts.min_password_length(Realm::Admin),
        errors: FieldErrors(errors),
    })
}

/// Explains exactly why a setup link cannot be used (F10-style: unknown, expired or used).
async fn usable(settings: &Settings, setup: &Setup, token: &str) -> AppResult<()> {
    setup
        .check(token)
        .await?
        .map_err(|t| invitation::refused(settings, Link::Setup, t))
}

/// Shows the form.
pub async fn get_setup(
    State(settings): State<Settings>,
    State(accounts): State<Accounts>,
    State(setup): State<Setup>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    usable(&settings, &setup, &token).await?;
    Ok(page(
        &accounts,
        csrf,
        &token,
        &SetupForm::default(),
        Vec::new(),
    ))
}

/// Creates the first admin and signs them in.
pub async fn post_setup(
    State(settings): State<Settings>,
    State(accounts): State<Accounts>,
    State(setup): State<Setup>,
    Path(token): Path<String>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    usable(&settings, &setup, &token).await?;
    let errors = match invitation::confirmed(&form.password, &form.password_confirm) {
        Ok(password) => {
            let new = NewAdmin {
                username: &form.username,
                email: &form.email,
                password: &password,
            };
            match setup.complete(&token, &new).await {
                Ok(admin) => {
                    let home = "/admin";
                    return arrival.sign_in(Realm::Admin, admin.get(), None, home).await;
                }
                Err(e) => invitation::field_errors(&settings, Link::Setup, e)?,
            }
        }
        Err(errors) => errors,
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        page(&accounts, csrf, &token, &form, errors),
    )
        .into_response())
}
