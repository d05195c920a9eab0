//! The active client account: its profile (permission `profile`), switching between the
//! accounts a user belongs to, and ending an admin's "login as client".

use crate::app::AppState;
use crate::auth::client_permission::ClientPermission;
use crate::db;
use crate::web::cookie;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, CurrentClient, Form};
use crate::web::page::{self, Nav};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};

/// The account profile.
#[derive(Template)]
#[template(path = "account_profile.html")]
pub struct ProfilePage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub notice: Option<String>,
    pub client_id: i64,
    pub company_name: String,
    pub owner: String,
}

/// The accounts a user can switch between.
#[derive(Template)]
#[template(path = "account_switch.html")]
pub struct SwitchPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    /// Each account and whether it is the active one.
    pub accounts: Vec<(db::client::Membership, bool)>,
}

async fn profile(
    state: &AppState,
    current: &CurrentClient,
    csrf: String,
    notice: Option<String>,
) -> AppResult<Response> {
    let account = current.require(ClientPermission::Profile)?;
    let client = db::client::find(&state.db, account.client_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(page::render(&ProfilePage {
        title: "Account profile",
        nav: Some(current.nav(csrf.clone())),
        csrf,
        notice,
        client_id: client.id,
        company_name: client.company_name,
        owner: format!("{} <{}>", client.owner_name, client.owner_email),
    }))
}

/// Shows the active account's profile.
pub async fn get_profile(
    State(state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<SavedQuery>,
) -> AppResult<Response> {
    let notice = q.saved.map(|_| "Saved.".to_owned());
    profile(&state, &current, csrf, notice).await
}

/// `?saved=1` after the form was saved.
#[derive(serde::Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// The profile form.
#[derive(serde::Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    company_name: String,
}

/// Saves the active account's profile.
pub async fn post_profile(
    State(state): State<AppState>,
    current: CurrentClient,
    Form(form): Form<ProfileForm>,
) -> AppResult<Response> {
    let account = current.require(ClientPermission::Profile)?;
    let name = form.company_name.trim();
    if name.chars().count() > 120 {
        return Err(AppError::BadRequest(
            "The company name can be at most 120 characters.".into(),
        ));
    }
    db::client::set_company_name(&state.db, account.client_id, name).await?;
    // A redirect, so reloading the page never sends the form again.
    Ok(Redirect::to("/account/profile?saved=1").into_response())
}

/// Lists the user's accounts.
pub async fn get_switch(
    State(state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let active = current.account.as_ref().map(|a| a.client_id);
    let accounts = db::client::memberships(&state.db, current.user.id)
        .await?
        .into_iter()
        .map(|m| {
            let is_active = Some(m.client_id) == active;
            (m, is_active)
        })
        .collect();
    Ok(page::render(&SwitchPage {
        title: "Your accounts",
        nav: Some(current.nav(csrf.clone())),
        csrf,
        accounts,
    }))
}

/// The account to switch to.
#[derive(serde::Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    client_id: i64,
}

/// Makes another of the user's accounts the active one.
pub async fn post_switch(
    State(state): State<AppState>,
    current: CurrentClient,
    Form(form): Form<SwitchForm>,
) -> AppResult<Response> {
    if db::client::membership(&state.db, current.user.id, form.client_id)
        .await?
        .is_none()
    {
        return Err(AppError::Forbidden(
            "You do not belong to that account. Ask its owner to invite you.".into(),
        ));
    }
    db::session::set_client(&state.db, &current.session.id_hash, form.client_id).await?;
    Ok(Redirect::to("/clientarea").into_response())
}

/// Ends an admin's "login as client" session and returns to the client's admin page.
pub async fn post_end_impersonation(
    State(state): State<AppState>,
    current: CurrentClient,
) -> AppResult<Response> {
    if current.session.impersonator_admin_id.is_none() {
        return Err(AppError::BadRequest(
            "This is not an admin's session as a client.".into(),
        ));
    }
    // Recorded by the session's end as `impersonation.end`, by the admin.
    crate::session::end(
        &state,
        &current.session.id_hash,
        crate::session::EndReason::Logout,
    )
    .await?;
    let client_id = current.session.client_id.unwrap_or_default();
    Ok((
        cookie::clear(&state, crate::session::Realm::Client),
        Redirect::to(&format!("/admin/clients/{client_id}")),
    )
        .into_response())
}
