//! `GET /admin/admins`, `POST /admin/admins/invite`: the admins and invitations;
//! `GET/POST /admin/invite/{token}`: accepting an invitation.

use crate::account::{CreateError, FieldError};
use crate::app::AppState;
use crate::db::one_time_token::TokenState;
use crate::invite::{self, AcceptError};
use crate::session::Realm;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{
    CsrfToken, Form, ManageAdmins, Peer, RequirePermission, SessionInfo, UserAgent,
};
use crate::web::page::{self, AdminsPage, FieldErrors, SetupPage};
use crate::web::signin;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret as _, SecretString};

/// `?invited=1` after an invitation was sent.
#[derive(serde::Deserialize)]
pub struct AdminsQuery {
    invited: Option<String>,
}

async fn admins_page(
    state: &AppState,
    gate: &RequirePermission<ManageAdmins>,
    csrf: String,
    notice: Option<String>,
    email: &str,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    let admins = crate::db::account::list_admins(&state.db).await?;
    let roles = crate::db::role::list(&state.db).await?;
    Ok(page::render(&AdminsPage {
        title: "Administrators",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        notice,
        csrf,
        admins,
        roles,
        email: email.chars().take(254).collect(),
        errors: FieldErrors(errors),
    }))
}

/// Lists admins with the invitation form.
pub async fn get_admins(
    State(state): State<AppState>,
    gate: RequirePermission<ManageAdmins>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<AdminsQuery>,
) -> AppResult<Response> {
    let notice = q
        .invited
        .map(|_| "The invitation is on its way.".to_owned());
    admins_page(&state, &gate, csrf, notice, "", Vec::new()).await
}

/// The invitation form's field.
#[derive(serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: Option<i64>,
}

/// Sends an invitation.
pub async fn post_invite(
    State(state): State<AppState>,
    gate: RequirePermission<ManageAdmins>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    // No role is assumed: a forgotten choice must not make a Full Administrator.
    let Some(role_id) = form.role_id else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            admins_page(
                &state,
                &gate,
                csrf,
                None,
                &form.email,
                vec![FieldError {
                    field: "role_id",
                    message: "Choose the role the new admin will have.".into(),
                }],
            )
            .await?,
        )
            .into_response());
    };
    let role = crate::db::role::find(&state.db, role_id).await?;
    let refusal = match &role {
        Some(role) => super::admin_edit::role_beyond(&state, &gate, role).await?,
        None => None,
    };
    if let Some(message) = refusal {
        return Ok((
            StatusCode::FORBIDDEN,
            admins_page(
                &state,
                &gate,
                csrf,
                None,
                &form.email,
                vec![FieldError {
                    field: "role_id",
                    message,
                }],
            )
            .await?,
        )
            .into_response());
    }
    match invite::invite_admin(
        &state,
        &gate.current.admin,
        &form.email,
        role_id,
    )
    .await
    {
        Ok(None) => Ok(Redirect::to("/admin/admins?invited=1").into_response()),
        Ok(Some(link)) => admins_page(
            &state,
            &gate,
            csrf,
            Some(format!(
                "Sending email is switched off (mail.enabled = false), so the invitation was not emailed. Give {} this one-time link yourself; it works once and for 7 days: {link}",
                form.email.trim()
            )),
            "",
            Vec::new(),
        )
        .await,
        Err(CreateError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            admins_page(&state, &gate, csrf, None, &form.email, errors).await?,
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}

fn link_error(state: &AppState, token_state: TokenState) -> AppError {
    AppError::LinkInvalid {
        title: "This invitation cannot be used",
        message: crate::reset::link_problem(
            token_state,
            "the admin who invited you (ask for a new invitation)",
            &state.settings.snapshot().values.timezone,
        ),
        unknown: matches!(token_state, TokenState::Unknown),
    }
}

fn accept_page(
    state: &AppState,
    token: &str,
    email: String,
    csrf: String,
    form: &AcceptForm,
    errors: Vec<FieldError>,
) -> SetupPage {
    SetupPage {
        title: "Accept your invitation",
        nav: None,
        csrf,
        lead: "Choose the username and password you will sign in to the admin area with. This link works once.",
        action: format!("/admin/invite/{token}"),
        button: "Create my admin account",
        email_fixed: true,
        username: form.username.chars().take(32).collect(),
        email,
        min_length: state.config.admin_min_password_length,
        errors: FieldErrors(errors),
    }
}

/// The acceptance form's fields.
#[derive(serde::Deserialize, Default)]
pub struct AcceptForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// Shows the acceptance form for a usable invitation.
pub async fn get_accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let (_, email) = invite::invitation(&state, &token)
        .await?
        .map_err(|t| link_error(&state, t))?;
    Ok(page::render(&accept_page(
        &state,
        &token,
        email,
        csrf,
        &AcceptForm::default(),
        Vec::new(),
    )))
}

/// Creates the admin account and signs it in.
pub async fn post_accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AcceptForm>,
) -> AppResult<Response> {
    let (_, email) = invite::invitation(&state, &token)
        .await?
        .map_err(|t| link_error(&state, t))?;
    let password = SecretString::from(form.password.clone());
    let result = if form.password_confirm == *password.expose_secret() {
        invite::accept_admin(&state, &token, &form.username, &password).await
    } else {
        Err(AcceptError::Create(CreateError::Invalid(vec![
            FieldError {
                field: "password_confirm",
                message: "The two passwords are not the same.".into(),
            },
        ])))
    };
    match result {
        Ok(admin_id) => {
            let sign_in =
                signin::for_request(Realm::Admin, admin_id, None, addr, &ua, loaded.as_ref());
            signin::start_session(&state, sign_in, "/admin").await
        }
        Err(AcceptError::Link(token_state)) => Err(link_error(&state, token_state)),
        Err(AcceptError::Create(CreateError::Invalid(errors))) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page::render(&accept_page(&state, &token, email, csrf, &form, errors)),
        )
            .into_response()),
        Err(AcceptError::Create(other)) => Err(other.into()),
    }
}
