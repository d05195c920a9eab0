//! `/admin/roles`: roles as named sets of permissions, shown as grouped checkboxes. Full
//! Administrator is built in (every permission, not editable); a role still held by an admin
//! cannot be deleted.

use crate::app::AppState;
use crate::auth::permission::{GROUPS, Permission, PermissionSet};
use crate::db;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, ManageRoles, Peer, RequirePermission, UserAgent};
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
    pub roles: Vec<db::role::RoleRow>,
}

/// One role's form.
#[derive(Template)]
#[template(path = "role_edit.html")]
pub struct RoleEditPage {
    pub title: &'static str,
    pub nav: Option<page::Nav>,
    pub csrf: String,
    pub error: Option<String>,
    pub role: db::role::RoleRow,
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
    state: &AppState,
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
        roles: db::role::list(&state.db).await?,
    };
    Ok((status, page::render(&body)).into_response())
}

/// `?saved=ID` or `?deleted=1` after a change: the change answers with a redirect, so reloading
/// the list never sends the form again.
#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    saved: Option<i64>,
    deleted: Option<String>,
}

/// Lists the roles.
pub async fn get_roles(
    State(state): State<AppState>,
    gate: RequirePermission<ManageRoles>,
    CsrfToken(csrf): CsrfToken,
    axum::extract::Query(done): axum::extract::Query<DoneQuery>,
) -> AppResult<Response> {
    let notice = match (done.saved, done.deleted) {
        (Some(id), _) => db::role::find(&state.db, id)
            .await?
            .map(|role| format!("Saved the role {}.", role.name)),
        (None, Some(_)) => Some("The role was deleted.".to_owned()),
        (None, None) => None,
    };
    list(&state, &gate, csrf, notice, None).await
}

fn check_name(name: &str) -> Option<&'static str> {
    let n = name.trim().chars().count();
    (n == 0 || n > 64).then_some("Give the role a name of 1 to 64 characters.")
}

/// The new role's name.
#[derive(serde::Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// Creates an empty role and opens its form.
pub async fn post_create(
    State(state): State<AppState>,
    gate: RequirePermission<ManageRoles>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    crate::web::extract::Form(form): crate::web::extract::Form<NameForm>,
) -> AppResult<Response> {
    if let Some(problem) = check_name(&form.name) {
        return list(&state, &gate, csrf, None, Some(problem.into())).await;
    }
    let name = form.name.trim();
    let id = match db::role::insert(&state.db, name, state.clock.unix()).await {
        Ok(id) => id,
        Err(e)
            if e.as_database_error()
                .is_some_and(sqlx::error::DatabaseError::is_unique_violation) =>
        {
            return list(
                &state,
                &gate,
                csrf,
                None,
                Some(format!("A role called {name} already exists.")),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let actor = format!("admin:{}", gate.current.admin.id);
    let subject = format!("role:{id}");
    let ip = addr.ip.to_string();
    db::audit::insert(
        &state.db,
        state.clock.unix(),
        &db::audit::Entry {
            actor: &actor,
            action: "role.created",
            subject: &subject,
            detail: name,
            ip: &ip,
            user_agent: &ua,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/roles/{id}")).into_response())
}

async fn edit_page(
    state: &AppState,
    gate: &RequirePermission<ManageRoles>,
    id: i64,
    csrf: String,
    error: Option<String>,
) -> AppResult<Response> {
    let role = db::role::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let granted = db::role::permissions(&state.db, id).await?;
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
    State(state): State<AppState>,
    gate: RequirePermission<ManageRoles>,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    edit_page(&state, &gate, id, csrf, None).await
}

/// Saves a role's name and permissions (checkbox fields named after the permissions).
pub async fn post_role(
    State(state): State<AppState>,
    gate: RequirePermission<ManageRoles>,
    Path(id): Path<i64>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    crate::web::extract::Form(fields): crate::web::extract::Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let role = db::role::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if role.built_in {
        return edit_page(
            &state,
            &gate,
            id,
            csrf,
            Some(format!(
                "{} is built in: it always holds every permission.",
                role.name
            )),
        )
        .await;
    }
    let name = fields
        .iter()
        .find(|(k, _)| k == "name")
        .map_or(String::new(), |(_, v)| v.trim().to_owned());
    if let Some(problem) = check_name(&name) {
        return edit_page(&state, &gate, id, csrf, Some(problem.into())).await;
    }
    let mut granted = PermissionSet::default();
    for (key, _) in &fields {
        if key == "name" || key == "csrf_token" {
            continue;
        }
        match Permission::parse(key) {
            Some(p) => granted.insert(p),
            None => {
                return Err(AppError::BadRequest(format!(
                    "There is no permission called {key:?}. Reload the page and try again."
                )));
            }
        }
    }
    // Only what the editor holds may be granted, or taken from a role: otherwise
    // `manage_roles` would reach every other permission through the editor's own role.
    let held = gate.current.permissions;
    let before = db::role::permissions(&state.db, id).await?;
    let beyond = granted.beyond(held);
    let beyond_before = before.beyond(held);
    if !beyond.is_empty() || !beyond_before.is_empty() {
        let names = if beyond.is_empty() {
            beyond_before
        } else {
            beyond
        };
        return edit_page(
            &state,
            &gate,
            id,
            csrf,
            Some(format!(
                "Your role ({}) does not hold {}: you can only grant, or edit a role that holds, permissions you hold yourself. Ask a Full Administrator.",
                gate.current.admin.role_name,
                names.names()
            )),
        )
        .await;
    }
    let mut tx = state.db.begin().await?;
    if let Err(e) = db::role::update(&mut tx, id, &name, granted).await {
        if e.as_database_error()
            .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
        {
            return edit_page(
                &state,
                &gate,
                id,
                csrf,
                Some(format!("A role called {name} already exists.")),
            )
            .await;
        }
        return Err(e.into());
    }
    let actor = format!("admin:{}", gate.current.admin.id);
    let subject = format!("role:{id}");
    let detail = format!(
        "{name}: {}",
        granted
            .iter()
            .map(Permission::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ip = addr.ip.to_string();
    db::audit::insert(
        &mut *tx,
        state.clock.unix(),
        &db::audit::Entry {
            actor: &actor,
            action: "role.updated",
            subject: &subject,
            detail: &detail,
            ip: &ip,
            user_agent: &ua,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/roles?saved={id}")).into_response())
}

/// Deletes a role nobody holds.
pub async fn post_delete(
    State(state): State<AppState>,
    gate: RequirePermission<ManageRoles>,
    Path(id): Path<i64>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let role = db::role::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !db::role::delete(&state.db, id).await? {
        let why = if role.built_in {
            format!("{} is built in and cannot be deleted.", role.name)
        } else {
            format!(
                "{} is held by {} administrator(s); give them another role first.",
                role.name, role.admins
            )
        };
        return list(&state, &gate, csrf, None, Some(why)).await;
    }
    let actor = format!("admin:{}", gate.current.admin.id);
    let subject = format!("role:{id}");
    let ip = addr.ip.to_string();
    db::audit::insert(
        &state.db,
        state.clock.unix(),
        &db::audit::Entry {
            actor: &actor,
            action: "role.deleted",
            subject: &subject,
            detail: &role.name,
            ip: &ip,
            user_agent: &ua,
        },
    )
    .await?;
    Ok(Redirect::to("/admin/roles?deleted=1").into_response())
}
