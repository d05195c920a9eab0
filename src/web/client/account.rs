//! The active client account: its profile (permission `profile`), switching between the
//! accounts a user belongs to, and ending an admin's "login as client". The rules are
//! `crate::client_account`'s and `crate::impersonation`'s; this file maps their outcomes.

use crate::auth::client_permission::ClientPermission;
use crate::client_account::{ClientAccounts, Membership, ProfileError, SwitchError};
use crate::domain::ClientId;
use crate::impersonation::{EndError, Impersonation};
use crate::session::Realm;
use crate::web::cookie::Cookies;
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
    pub accounts: Vec<(Membership, bool)>,
}

/// Shows the active account's profile.
pub async fn get_profile(
    State(accounts): State<ClientAccounts>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<SavedQuery>,
) -> AppResult<Response> {
    let notice = q.saved.map(|_| "Saved.".to_owned());
    let account = current.require(ClientPermission::Profile)?;
    let client = accounts
        .find(ClientId(account.client_id))
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
    State(accounts): State<ClientAccounts>,
    current: CurrentClient,
    Form(form): Form<ProfileForm>,
) -> AppResult<Response> {
    let account = current.require(ClientPermission::Profile)?;
    match accounts
        .set_company_name(ClientId(account.client_id), &form.company_name)
        .await
    {
        // A redirect, so reloading the page never sends the form again.
        Ok(()) => Ok(Redirect::to("/account/profile?saved=1").into_response()),
        Err(refused @ ProfileError::NameTooLong) => Err(AppError::BadRequest(refused.to_string())),
        Err(ProfileError::Storage(e)) => Err(e.into()),
    }
}

/// Lists the user's accounts.
pub async fn get_switch(
    State(accounts): State<ClientAccounts>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let active = current.account.as_ref().map(|a| a.client_id);
    let accounts = accounts
        .memberships(current.id())
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
    State(accounts): State<ClientAccounts>,
    current: CurrentClient,
    Form(form): Form<SwitchForm>,
) -> AppResult<Response> {
    match accounts
        .switch(&current.session, current.id(), ClientId(form.client_id))
        .await
    {
        Ok(()) => Ok(Redirect::to("/clientarea").into_response()),
        Err(refused @ SwitchError::NotMember) => Err(AppError::Forbidden(refused.to_string())),
        Err(SwitchError::Storage(e)) => Err(e.into()),
    }
}

/// Ends an admin's "login as client" session and returns to the client's admin page.
pub async fn post_end_impersonation(
    State(cookies): State<Cookies>,
    State(impersonation): State<Impersonation>,
    current: CurrentClient,
) -> AppResult<Response> {
    match impersonation.end(&current.session).await {
        Ok(client) => Ok((
            cookies.clear(Realm::Client),
            Redirect::to(&format!("/admin/clients/{client}")),
        )
            .into_response()),
        Err(refused @ EndError::NotImpersonation) => Err(AppError::BadRequest(refused.to_string())),
        Err(EndError::Storage(e)) => Err(e.into()),
    }
}
