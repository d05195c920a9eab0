//! `/admin/clients`: client accounts for staff: the list (`list_clients`), one account with its
//! owner and users (`view_client_profile`), ownership transfer (`manage_client_accounts`), and
//! "login as client" (`login_as_client`), which works whatever the owner's password, email or
//! two-step state, because it never asks for the owner's credentials.

use crate::app::AppState;
use crate::auth::client_permission::ClientPermissions;
use crate::auth::permission::Permission;
use crate::db;
use crate::session::Realm;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{
    CsrfToken, Form, ListClients, LoginAsClient, ManageClientAccounts, Peer, RequirePermission,
    UserAgent, ViewClientProfile,
};
use crate::web::page::{self, Nav};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

/// The list.
#[derive(Template)]
#[template(path = "admin_clients.html")]
pub struct ClientsPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub q: String,
    pub clients: Vec<db::client::ClientRow>,
}

/// One account.
#[derive(Template)]
#[template(path = "admin_client.html")]
pub struct ClientPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub client: db::client::ClientRow,
    pub owner_state: Vec<String>,
    pub members: Vec<db::client::Member>,
    pub can_login_as: bool,
    pub can_transfer: bool,
}

/// `?q=` search.
#[derive(serde::Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// Lists client accounts.
pub async fn get_clients(
    State(state): State<AppState>,
    gate: RequirePermission<ListClients>,
    CsrfToken(csrf): CsrfToken,
    Query(search): Query<Search>,
) -> AppResult<Response> {
    let q: String = search.q.trim().chars().take(100).collect();
    let clients = db::client::list(&state.db, &q, 200).await?;
    Ok(page::render(&ClientsPage {
        title: "Clients",
        nav: Some(super::nav(&gate.current, csrf)),
        q,
        clients,
    }))
}

async fn render(
    state: &AppState,
    current: &crate::web::extract::CurrentAdmin,
    id: i64,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let client = db::client::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let owner = db::account::find_user_by_id(&state.db, client.owner_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let enrolled = crate::twofactor::enrolled(state, Realm::Client, owner.id).await?;
    let owner_state = vec![
        if owner.password_hash.is_some() {
            "has a password".to_owned()
        } else {
            "has no password yet".to_owned()
        },
        if owner.email_verified_at.is_some() {
            "email confirmed".to_owned()
        } else {
            "email not confirmed".to_owned()
        },
        if enrolled.any() {
            format!("two-step verification on ({} factor(s))", enrolled.count())
        } else {
            "two-step verification off".to_owned()
        },
        if owner.disabled {
            "disabled".to_owned()
        } else {
            "enabled".to_owned()
        },
    ];
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let body = ClientPage {
        title: "Client account",
        nav: Some(super::nav(current, csrf.clone())),
        csrf,
        notice,
        error,
        members: db::client::members(&state.db, id).await?,
        client,
        owner_state,
        can_login_as: current.permissions.contains(Permission::LoginAsClient),
        can_transfer: current
            .permissions
            .contains(Permission::ManageClientAccounts),
    };
    Ok((status, page::render(&body)).into_response())
}

/// One account, its owner's state and its users.
pub async fn get_client(
    State(state): State<AppState>,
    gate: RequirePermission<ViewClientProfile>,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render(&state, &gate.current, id, csrf, None, None).await
}

/// The new owner.
#[derive(serde::Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    user_id: i64,
}

/// Makes one of the account's users its owner (admins only; the old owner stays a user with
/// every permission).
pub async fn post_transfer(
    State(state): State<AppState>,
    gate: RequirePermission<ManageClientAccounts>,
    Path(id): Path<i64>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<TransferForm>,
) -> AppResult<Response> {
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    let done = db::client::transfer(
        &mut tx,
        id,
        form.user_id,
        &ClientPermissions::all().to_stored(),
        now,
    )
    .await?;
    if !done {
        drop(tx);
        return render(
            &state,
            &gate.current,
            id,
            csrf,
            None,
            Some("Ownership can only go to a user of this account. Have the owner invite them first.".into()),
        )
        .await;
    }
    db::audit::insert(
        &mut *tx,
        now,
        &db::audit::Entry {
            actor: &format!("admin:{}", gate.current.admin.id),
            action: "account.ownership_transferred",
            subject: &format!("client:{id}"),
            detail: &format!("new owner user:{}", form.user_id),
            ip: &addr.ip.to_string(),
            user_agent: &ua,
        },
    )
    .await?;
    tx.commit().await?;
    render(
        &state,
        &gate.current,
        id,
        csrf,
        Some("Ownership transferred.".into()),
        None,
    )
    .await
}

/// Signs this browser in to the client area as the account's owner, marked with the admin.
pub async fn post_login_as(
    State(state): State<AppState>,
    gate: RequirePermission<LoginAsClient>,
    Path(id): Path<i64>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let client = db::client::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let owner = db::account::find_user_by_id(&state.db, client.owner_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if owner.disabled {
        return render(
            &state,
            &gate.current,
            id,
            csrf,
            None,
            Some(format!(
                "{} is disabled; enable the user first.",
                owner.email
            )),
        )
        .await;
    }
    let sign_in = crate::session::SignIn {
        realm: Realm::Client,
        subject_id: owner.id,
        client_id: Some(id),
        impersonator: Some(gate.current.admin.id),
        ip: addr.ip,
        user_agent: &ua,
        remember: false,
        // Nothing is ended: the client's own sessions, anywhere, stay as they are.
        replacing: None,
    };
    let (jar, target) = crate::web::signin::begin_session(&state, sign_in, "/clientarea").await?;
    db::audit::insert(
        &state.db,
        state.clock.unix(),
        &db::audit::Entry {
            actor: &format!("admin:{}", gate.current.admin.id),
            action: "impersonation.start",
            subject: &format!("client:{id} (user:{})", owner.id),
            detail: &format!(
                "{} signed in as {}",
                gate.current.admin.username, owner.email
            ),
            ip: &addr.ip.to_string(),
            user_agent: &ua,
        },
    )
    .await?;
    Ok((jar, Redirect::to(&target)).into_response())
}
