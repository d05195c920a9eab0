//! `/admin/admins/{id}`: change an admin's role, disable or delete them. Disabling or deleting
//! ends their sessions at once. The last enabled Full Administrator can be neither demoted,
//! disabled nor deleted, so the portal always keeps someone who can administer it.

use crate::app::AppState;
use crate::auth::permission::FULL_ADMINISTRATOR;
use crate::db;
use crate::session::EndReason;
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

async fn render(
    state: &AppState,
    gate: &RequirePermission<ManageAdmins>,
    id: i64,
    csrf: String,
    error: Option<String>,
) -> AppResult<Response> {
    let admin = db::account::find_admin_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
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
    render(&state, &gate, id, csrf, None).await
}

/// Whether removing `target` from the Full Administrators (demotion, disabling, deletion)
/// would leave none who can sign in.
async fn is_last_full_administrator(
    state: &AppState,
    target: &db::account::AdminRow,
) -> Result<bool, sqlx::Error> {
    Ok(target.role_id == FULL_ADMINISTRATOR
        && !target.disabled
        && db::role::enabled_full_administrators(&state.db).await? <= 1)
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
        )
        .await;
    };
    let disabled = form.disabled.is_some();
    let leaves_full = role.id != FULL_ADMINISTRATOR || disabled;
    if leaves_full && is_last_full_administrator(&state, &target).await? {
        return render(
            &state,
            &gate,
            id,
            csrf,
            Some(format!(
                "{} is the last enabled Full Administrator: they cannot be demoted or disabled. Make someone else a Full Administrator first.",
                target.username
            )),
        )
        .await;
    }
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    db::account::update_admin(&mut *tx, id, role.id, disabled, now).await?;
    if disabled && !target.disabled {
        db::session::end_all_for_subject(
            &mut *tx,
            "admin",
            id,
            None,
            EndReason::Revoked.as_str(),
            now,
        )
        .await?;
    }
    let detail = format!(
        "{}: role {} -> {}, {}",
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
    if is_last_full_administrator(&state, &target).await? {
        return render(
            &state,
            &gate,
            id,
            csrf,
            Some(format!(
                "{} is the last enabled Full Administrator and cannot be deleted.",
                target.username
            )),
        )
        .await;
    }
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    db::session::end_all_for_subject(
        &mut *tx,
        "admin",
        id,
        None,
        EndReason::Revoked.as_str(),
        now,
    )
    .await?;
    db::session::end_impersonations_by(&mut *tx, id, EndReason::Revoked.as_str(), now).await?;
    db::two_factor::remove_all(&mut tx, "admin", id).await?;
    db::account::delete_admin(&mut *tx, id).await?;
    db::audit::insert(
        &mut *tx,
        now,
        &db::audit::Entry {
            actor: &format!("admin:{}", gate.current.admin.id),
            action: "admin.deleted",
            subject: &format!("admin:{id}"),
            detail: &target.username,
            ip: &addr.ip.to_string(),
            user_agent: &ua,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/admins").into_response())
}
