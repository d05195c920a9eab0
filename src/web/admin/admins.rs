//! `GET /admin/admins`, `POST /admin/admins/invite`: the admins and invitations;
//! `GET/POST /admin/invite/{token}`: accepting an invitation.

use crate::account::Accounts;
use crate::account::FieldError;
use crate::admin::{AdminInviteError, Admins, Granter};
use crate::domain::RoleId;
use crate::invite::{Accepted, Invitations, Link, Taker};
use crate::role::Roles;
use crate::session::Realm;
use crate::settings::Settings;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, ManageAdmins, RequirePermission};
use crate::web::invitation::{self, Arrival};
use crate::web::page::{self, AdminsPage, FieldErrors, SetupPage};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// `?invited=1` after an invitation was sent.
#[derive(serde::Deserialize)]
pub struct AdminsQuery {
    invited: Option<String>,
}

async fn admins_page(
    (admins, roles): (&Admins, &Roles),
    gate: &RequirePermission<ManageAdmins>,
    csrf: String,
    notice: Option<String>,
    email: &str,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    Ok(page::render(&AdminsPage {
        title: "Administrators",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        notice,
        csrf,
        admins: admins.list().await?,
        roles: roles.list().await?,
        email: email.chars().take(254).collect(),
        errors: FieldErrors(errors),
    }))
}

/// Lists admins with the invitation form.
pub async fn get_admins(
    State(admins): State<Admins>,
    State(roles): State<Roles>,
    gate: RequirePermission<ManageAdmins>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<AdminsQuery>,
) -> AppResult<Response> {
    let notice = q
        .invited
        .map(|_| "The invitation is on its way.".to_owned());
    admins_page((&admins, &roles), &gate, csrf, notice, "", Vec::new()).await
}

/// The invitation form's field.
#[derive(serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: Option<RoleId>,
}

/// Sends an invitation.
pub async fn post_invite(
    State(admins): State<Admins>,
    State(roles): State<Roles>,
    gate: RequirePermission<ManageAdmins>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let by = Granter::new(&gate.current.admin, gate.current.permissions);
    let services = (&admins, &roles);
    let (status, errors) = match admins.invite(&by, &form.email, form.role_id).await {
        Ok(None) => return Ok(Redirect::to("/admin/admins?invited=1").into_response()),
        Ok(Some(link)) => {
            let notice = format!(
                "Sending email is switched off (mail.enabled = false), so the invitation was not emailed. Give {} this one-time link yourself; it works once and for 7 days: {link}",
                form.email.trim()
            );
            return admins_page(services, &gate, csrf, Some(notice), "", Vec::new()).await;
        }
        Err(AdminInviteError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        Err(AdminInviteError::Beyond(refusal)) => (
            StatusCode::FORBIDDEN,
            vec![FieldError::new("role_id", refusal.to_string())],
        ),
        Err(AdminInviteError::Storage(e)) => return Err(e.into()),
        Err(AdminInviteError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
    };
    let page = admins_page(services, &gate, csrf, None, &form.email, errors).await?;
    Ok((status, page).into_response())
}

fn accept_page(
    accounts: &Accounts,
    token: &str,
    email: String,
    csrf: String,
    form: &AcceptForm,
    errors: Vec<FieldError>,
) -> Response {
    page::render(&SetupPage {
        title: "Accept your invitation",
        nav: None,
        csrf,
        lead: "Choose the username and password you will sign in to the admin area with. This link works once.",
        action: format!("/admin/invite/{token}"),
        button: "Create my admin account",
        email_fixed: true,
        username: form.username.chars().take(32).collect(),
        email,
        min_length: accounts.min_password_length(Realm::Admin),
        errors: FieldErrors(errors),
    })
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
    State(settings): State<Settings>,
    State(accounts): State<Accounts>,
    State(invitations): State<Invitations>,
    Path(token): Path<String>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let email = invitation::invited(&settings, &invitations, Link::Admin, &token).await?;
    let form = AcceptForm::default();
    Ok(accept_page(
        &accounts,
        &token,
        email,
        csrf,
        &form,
        Vec::new(),
    ))
}

/// Creates the admin account and signs it in.
pub async fn post_accept(
    State(settings): State<Settings>,
    State(accounts): State<Accounts>,
    State(invitations): State<Invitations>,
    Path(token): Path<String>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AcceptForm>,
) -> AppResult<Response> {
    let email = invitation::invited(&settings, &invitations, Link::Admin, &token).await?;
    let errors = match invitation::confirmed(&form.password, &form.password_confirm) {
        Ok(password) => {
            let taker = Taker::Admin {
                username: &form.username,
                email: None,
                password: &password,
            };
            match invitations.accept(Link::Admin, &token, taker).await {
                Ok(Accepted::Admin(admin)) => {
                    return arrival
                        .sign_in(Realm::Admin, admin.get(), None, "/admin")
                        .await;
                }
                Ok(Accepted::Member { .. }) => return Err(AppError::NotFound),
                Err(e) => invitation::field_errors(&settings, Link::Admin, e)?,
            }
        }
        Err(errors) => errors,
    };
    let page = accept_page(&accounts, &token, email, csrf, &form, errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
