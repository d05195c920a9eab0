//! `/admin/admins/{id}`: change an admin's role, disable or delete them. Disabling or deleting
//! ends their sessions at once. The last enabled Full Administrator can be neither demoted,
//! disabled nor deleted, so the portal always keeps someone who can administer it.

use crate::app::AppState;
use crate::auth::permission::FULL_ADMINISTRATOR;
use crate::db;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, ManageAdmins, Peer, RequirePermission, UserAgent};
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
    pub admin: db::account::AdminRow,
    pub roles: Vec<db::role::RoleRow>,
}

/// The form, with `error` (answered with `status`) when a change was refused.
async fn render(
    state: &AppState,
    gate: &RequirePermission<ManageAdmins>,
    id: i64,
    csrf: String,
    error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let admin = db::account::find_admin_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let body = AdminEditPage {
        title: "Edit administrator",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        csrf,
        error,
        admin,
        roles: db::role::list(&state.db).await?,
    };
    Ok((status, page::render(&body)).into_response())
}

/// Shows the form.
pub async fn get_admin(
    State(state): State<AppState>,
    gate: RequirePermission<ManageAdmins>,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render(&state, &gate, id, csrf, None, StatusCode::OK).await
}

/// Whether `target` counts among the enabled Full Administrators, whose last one may be neither
/// demoted, disabled nor deleted.
fn is_enabled_full_administrator(target: &db::account::AdminRow) -> bool {
    target.role_id == FULL_ADMINISTRATOR && !target.disabled
}

/// Why the acting admin may not change `target` (or give them `new_role`): an admin acts only
/// on admins, and gives only roles, whose permissions they hold themselves, so `manage_admins`
/// is never a way to Full Administrator or to any other permission.
async fn beyond_actor(
    state: &AppState,
    gate: &RequirePermission<ManageAdmins>,
    target: &db::account::AdminRow,
    new_role: Option<&db::role::RoleRow>,
) -> Result<Option<String>, sqlx::Error> {
    let held = gate.current.permissions;
    let theirs = db::role::permissions(&state.db, target.role_id)
        .await?
        .beyond(held);
    if !theirs.is_empty() {
        return Ok(Some(format!(
            "{} holds permissions your role ({}) does not: {}. Only an admin who holds them can change or delete this account; ask a Full Administrator.",
            target.username,
            gate.current.admin.role_name,
            theirs.names()
        )));
    }
    match new_role {
        Some(role) => role_beyond(state, gate, role).await,
        None => Ok(None),
    }
}

/// Why the acting admin may not give `role` (to an admin, or in an invitation): it holds
/// permissions they lack.
pub(super) async fn role_beyond(
    state: &AppState,
    gate: &RequirePermission<ManageAdmins>,
    role: &db::role::RoleRow,
) -> Result<Option<String>, sqlx::Error> {
    let given = db::role::permissions(&state.db, role.id)
        .await?
        .beyond(gate.current.permissions);
    Ok((!given.is_empty()).then(|| {
        format!(
            "The role {} holds permissions your role ({}) does not: {}. Only an admin who holds them can give them; ask a Full Administrator.",
            role.name,
            gate.current.admin.role_name,
            given.names()
        )
    }))
}

/// Ends an admin's own sessions and the client sessions they opened with "login as client";
/// returns the audit detail's note of how many.
async fn end_sessions(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    id: i64,
    now: i64,
) -> Result<String, sqlx::Error> {
    let (own, as_client) =
        crate::session::revoke_admin(tx, crate::domain::AdminId(id), now).await?;
    Ok(format!(
        "; ended {own} admin session(s) and {as_client} login-as-client session(s)"
    ))
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
    State(state): State<AppState>,
    gate: RequirePermission<ManageAdmins>,
    Path(id): Path<i64>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AdminForm>,
) -> AppResult<Response> {
    let target = db::account::find_admin_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(role) = db::role::find(&state.db, form.role_id).await? else {
        return render(
            &state,
            &gate,
            id,
            csrf,
            Some("Choose one of the roles.".into()),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    if let Some(problem) = beyond_actor(&state, &gate, &target, Some(&role)).await? {
        return render(
            &state,
            &gate,
            id,
            csrf,
            Some(problem),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let disabled = form.disabled.is_some();
    let leaves_full = role.id != FULL_ADMINISTRATOR || disabled;
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    db::role::lock_full_administrators(&mut tx, db::is_postgres(&state.db)).await?;
    db::account::update_admin(&mut *tx, id, role.id, disabled, now).await?;
    // Counted inside the transaction (the rows locked on PostgreSQL), so two admins demoted at
    // once cannot both pass.
    if leaves_full
        && is_enabled_full_administrator(&target)
        && db::role::enabled_full_administrators(&mut *tx).await? == 0
    {
        tx.rollback().await?;
        return render(
            &state,
            &gate,
            id,
            csrf,
            Some(format!(
                "{} is the last enabled Full Administrator: they cannot be demoted or disabled. Make someone else a Full Administrator first.",
                target.username
            )),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let mut ended = String::new();
    if disabled && !target.disabled {
        ended = end_sessions(&mut tx, id, now).await?;
    }
    let detail = format!(
        "{}: role {} -> {}, {}{ended}",
        target.username,
        target.role_name,
        role.name,
        if disabled { "disabled" } else { "enabled" }
    );
    db::audit::insert(
        &mut *tx,
        now,
        &db::audit::Entry {
            actor: &format!("admin:{}", gate.current.admin.id),
            action: "admin.updated",
            subject: &format!("admin:{id}"),
            detail: &detail,
            ip: &addr.ip.to_string(),
            user_agent: &ua,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/admins").into_response())
}

/// Deletes an admin and ends their sessions, the client-area ones they opened as a client
/// included.
pub async fn post_delete(
    State(state): State<AppState>,
    gate: RequirePermission<ManageAdmins>,
    Path(id): Path<i64>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let target = db::account::find_admin_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(problem) = beyond_actor(&state, &gate, &target, None).await? {
        return render(
            &state,
            &gate,
            id,
            csrf,
            Some(problem),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    db::role::lock_full_administrators(&mut tx, db::is_postgres(&state.db)).await?;
    let ended = end_sessions(&mut tx, id, now).await?;
    db::two_factor::remove_all(&mut tx, "admin", id).await?;
    db::account::delete_admin(&mut *tx, id).await?;
    if is_enabled_full_administrator(&target)
        && db::role::enabled_full_administrators(&mut *tx).await? == 0
    {
        tx.rollback().await?;
        return render(
            &state,
            &gate,
            id,
            csrf,
            Some(format!(
                "{} is the last enabled Full Administrator and cannot be deleted.",
                target.username
            )),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    db::audit::insert(
        &mut *tx,
        now,
        &db::audit::Entry {
            actor: &format!("admin:{}", gate.current.admin.id),
            action: "admin.deleted",
            subject: &format!("admin:{id}"),
            detail: &format!("{}{ended}", target.username),
            ip: &addr.ip.to_string(),
            user_agent: &ua,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/admins").into_response())
}
