//! `/admin/admins/{id}`: change an admin's role, disable or delete them. The rules (the last
//! enabled Full Administrator stays, sessions end, grants are bounded) are `admin::Admins`'s;
//! this page shows the form and each refusal next to it.

use crate::admin::{AdminChangeError, AdminDeleteError, AdminRow, Admins, Granter};
use crate::domain::{AdminId, RoleId};
use crate::role::{RoleRow, Roles};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, ManageAdmins, RequirePermission};
use crate::web::page;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// One admin's form.
#[derive(Template)]
#[template(path = "admin_edit.html")]
pub struct AdminEditPage {
    pub title: &'static str,
    pub nav: Option<page::Nav>,
    pub csrf: String,
    pub error: Option<String>,
    pub admin: AdminRow,
    pub roles: Vec<RoleRow>,
}

/// The form, with `error` (answered with `status`) when a change was refused.
async fn render(
    (admins, roles): (&Admins, &Roles),
    gate: &RequirePermission<ManageAdmins>,
    id: AdminId,
    csrf: String,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let admin = admins.find(id).await?.ok_or(AppError::NotFound)?;
    let body = AdminEditPage {
        title: "Edit administrator",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        csrf,
        error,
        admin,
        roles: roles.list().await?,
    };
    Ok((status, page::render(&body)).into_response())
}

/// Shows the form.
pub async fn get_admin(
    State(admins): State<Admins>,
    State(roles): State<Roles>,
    gate: RequirePermission<ManageAdmins>,
    Path(id): Path<AdminId>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render((&admins, &roles), &gate, id, csrf, None, StatusCode::OK).await
}

/// The form's fields.
#[derive(serde::Deserialize)]
pub struct AdminForm {
    #[serde(default)]
    role_id: i64,
    #[serde(default)]
    disabled: Option<String>,
}

/// Saves the role and the disabled flag.
pub async fn post_admin(
    State(admins): State<Admins>,
    State(roles): State<Roles>,
    gate: RequirePermission<ManageAdmins>,
    Path(id): Path<AdminId>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AdminForm>,
) -> AppResult<Response> {
    let by = Granter::new(&gate.current.admin, gate.current.permissions);
    let disabled = form.disabled.is_some();
    let refusal = match admins.update(&by, id, RoleId(form.role_id), disabled).await {
        Ok(()) => return Ok(Redirect::to("/admin/admins").into_response()),
        Err(AdminChangeError::NotFound) => return Err(AppError::NotFound),
        Err(AdminChangeError::Storage(e)) => return Err(e.into()),
        Err(e @ AdminChangeError::Beyond(_)) => (StatusCode::FORBIDDEN, e.to_string()),
        Err(
            e @ (AdminChangeError::NoSuchRole | AdminChangeError::LastFullAdministrator { .. }),
        ) => (StatusCode::BAD_REQUEST, e.to_string()),
    };
    let (status, message) = refusal;
    render((&admins, &roles), &gate, id, csrf, Some(message), status).await
}

/// Deletes an admin and ends their sessions, the client-area ones they opened as a client
/// included.
pub async fn post_delete(
    State(admins): State<Admins>,
    State(roles): State<Roles>,
    gate: RequirePermission<ManageAdmins>,
    Path(id): Path<AdminId>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let by = Granter::new(&gate.current.admin, gate.current.permissions);
    let (status, message) = match admins.delete(&by, id).await {
        Ok(()) => return Ok(Redirect::to("/admin/admins").into_response()),
        Err(AdminDeleteError::NotFound) => return Err(AppError::NotFound),
        Err(AdminDeleteError::Storage(e)) => return Err(e.into()),
        Err(e @ AdminDeleteError::Beyond(_)) => (StatusCode::FORBIDDEN, e.to_string()),
        Err(e @ AdminDeleteError::LastFullAdministrator { .. }) => {
            (StatusCode::BAD_REQUEST, e.to_string())
        }
    };
    render((&admins, &roles), &gate, id, csrf, Some(message), status).await
}
