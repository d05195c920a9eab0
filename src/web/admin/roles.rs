//! `/admin/roles`: roles as named sets of permissions, shown as grouped checkboxes. Full
//! Administrator is built in (every permission, not editable); a role still held by an admin
//! cannot be deleted. The rules are `role::Roles`'s; this page shows each refusal.

use crate::admin::Granter;
use crate::auth::permission::{GROUPS, Permission, PermissionSet};
use crate::domain::RoleId;
use crate::role::{RoleCreateError, RoleDeleteError, RoleEditError, RoleRow, Roles};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, ManageRoles, RequirePermission};
use crate::web::page;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// A checkbox on the role form.
pub struct PermissionBox {
    pub id: &'static str,
    pub action: &'static str,
    pub checked: bool,
}

/// The role list.
#[derive(Template)]
#[template(path = "roles.html")]
pub struct RolesPage {
    pub title: &'static str,
    pub nav: Option<page::Nav>,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub roles: Vec<RoleRow>,
}

/// One role's form.
#[derive(Template)]
#[template(path = "role_edit.html")]
pub struct RoleEditPage {
    pub title: &'static str,
    pub nav: Option<page::Nav>,
    pub csrf: String,
    pub error: Option<String>,
    pub role: RoleRow,
    pub groups: Vec<(&'static str, Vec<PermissionBox>)>,
}

fn boxes(granted: PermissionSet) -> Vec<(&'static str, Vec<PermissionBox>)> {
    GROUPS
        .iter()
        .map(|g| {
            let items = Permission::ALL
                .into_iter()
                .filter(|p| p.group() == *g)
                .map(|p| PermissionBox {
                    id: p.as_str(),
                    action: p.action(),
                    checked: granted.contains(p),
                })
                .collect();
            (*g, items)
        })
        .collect()
}

async fn list(
    roles: &Roles,
    gate: &RequirePermission<ManageRoles>,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = RolesPage {
        title: "Roles",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        csrf,
        notice,
        error,
        roles: roles.list().await?,
    };
    Ok((status, page::render(&body)).into_response())
}

/// `?saved=ID` or `?deleted=1` after a change: the change answers with a redirect, so reloading
/// the list never sends the form again.
#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    saved: Option<RoleId>,
    deleted: Option<String>,
}

/// Lists the roles.
pub async fn get_roles(
    State(roles): State<Roles>,
    gate: RequirePermission<ManageRoles>,
    CsrfToken(csrf): CsrfToken,
    axum::extract::Query(done): axum::extract::Query<DoneQuery>,
) -> AppResult<Response> {
    let notice = match (done.saved, done.deleted) {
        (Some(id), _) => roles
            .find(id)
            .await?
            .map(|role| format!("Saved the role {}.", role.name)),
        (None, Some(_)) => Some("The role was deleted.".to_owned()),
        (None, None) => None,
    };
    list(&roles, &gate, csrf, notice, None).await
}

/// The new role's name.
#[derive(serde::Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// Creates an empty role and opens its form.
pub async fn post_create(
    State(roles): State<Roles>,
    gate: RequirePermission<ManageRoles>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<NameForm>,
) -> AppResult<Response> {
    let by = Granter::new(&gate.current.admin, gate.current.permissions);
    match roles
        .create(&by, &form.name, PermissionSet::default())
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/admin/roles/{id}")).into_response()),
        Err(RoleCreateError::Storage(e)) => Err(e.into()),
        Err(e) => list(&roles, &gate, csrf, None, Some(e.to_string())).await,
    }
}

async fn edit_page(
    roles: &Roles,
    gate: &RequirePermission<ManageRoles>,
    id: RoleId,
    csrf: String,
    error: Option<String>,
) -> AppResult<Response> {
    let role = roles.find(id).await?.ok_or(AppError::NotFound)?;
    let granted = roles.permissions(id).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = RoleEditPage {
        title: "Edit role",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        csrf,
        error,
        role,
        groups: boxes(granted),
    };
    Ok((status, page::render(&body)).into_response())
}

/// Shows a role's form.
pub async fn get_role(
    State(roles): State<Roles>,
    gate: RequirePermission<ManageRoles>,
    Path(id): Path<RoleId>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    edit_page(&roles, &gate, id, csrf, None).await
}

/// Saves a role's name and permissions (checkbox fields named after the permissions).
pub async fn post_role(
    State(roles): State<Roles>,
    gate: RequirePermission<ManageRoles>,
    Path(id): Path<RoleId>,
    CsrfToken(csrf): CsrfToken,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let by = Granter::new(&gate.current.admin, gate.current.permissions);
    let name = fields
        .iter()
        .find(|(k, _)| k == "name")
        .map_or("", |(_, v)| v.as_str());
    let permissions: Vec<&str> = fields
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "name" && *k != "csrf_token")
        .collect();
    match roles.update(&by, id, name, &permissions).await {
        Ok(()) => Ok(Redirect::to(&format!("/admin/roles?saved={id}")).into_response()),
        Err(RoleEditError::NotFound) => Err(AppError::NotFound),
        Err(e @ RoleEditError::UnknownPermission(_)) => Err(AppError::BadRequest(e.to_string())),
        Err(RoleEditError::Storage(e)) => Err(e.into()),
        Err(e) => edit_page(&roles, &gate, id, csrf, Some(e.to_string())).await,
    }
}

/// Deletes a role nobody holds.
pub async fn post_delete(
    State(roles): State<Roles>,
    gate: RequirePermission<ManageRoles>,
    Path(id): Path<RoleId>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    match roles.delete(gate.current.id(), id).await {
        Ok(()) => Ok(Redirect::to("/admin/roles?deleted=1").into_response()),
        Err(RoleDeleteError::NotFound) => Err(AppError::NotFound),
        Err(RoleDeleteError::Storage(e)) => Err(e.into()),
        Err(e) => list(&roles, &gate, csrf, None, Some(e.to_string())).await,
    }
}
