//! `/admin/clients`: client accounts for staff: the list (`list_clients`), one account with its
//! owner and users (`view_client_profile`), ownership transfer (`manage_client_accounts`), and
//! "login as client" (`login_as_client`), which works whatever the owner's password, email or
//! two-step state, because it never asks for the owner's credentials.

use crate::app::AppState;
use crate::auth::permission::Permission;
use crate::client_account::{ClientAccounts, ClientRow, Member, Overview, TransferError};
use crate::domain::{ClientId, UserId};
use crate::impersonation::{self, Impersonation, StartError};
use crate::session::Realm;
use crate::twofactor::TwoFactor;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{
    CsrfToken, CurrentAdmin, Form, ListClients, LoginAsClient, ManageClientAccounts,
    RequirePermission, ViewClientProfile,
};
use crate::web::invitation::Arrival;
use crate::web::page::{self, Nav};
use askama::Template;
use axum::extract::{FromRef, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

/// The list.
#[derive(Template)]
#[template(path = "admin_clients.html")]
pub struct ClientsPage {
    pub title: &'static str,
    pub nav: Option<Nav>,
    pub q: String,
    pub clients: Vec<ClientRow>,
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
    pub client: ClientRow,
    pub owner_state: Vec<String>,
    pub members: Vec<Member>,
    pub can_login_as: bool,
    pub can_transfer: bool,
}

/// What the account page reads: the account, and its owner's second factors.
#[derive(Clone)]
pub struct AccountView {
    accounts: ClientAccounts,
    two_factor: TwoFactor,
}

impl FromRef<AppState> for AccountView {
    fn from_ref(state: &AppState) -> Self {
        Self {
            accounts: ClientAccounts::from(state),
            two_factor: TwoFactor::from(state),
        }
    }
}

/// `?q=` search.
#[derive(serde::Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// Lists client accounts.
pub async fn get_clients(
    State(accounts): State<ClientAccounts>,
    gate: RequirePermission<ListClients>,
    CsrfToken(csrf): CsrfToken,
    Query(search): Query<Search>,
) -> AppResult<Response> {
    let q: String = search.q.trim().chars().take(100).collect();
    let clients = accounts.list(&q).await?;
    Ok(page::render(&ClientsPage {
        title: "Clients",
        nav: Some(super::nav(&gate.current, csrf)),
        q,
        clients,
    }))
}

/// What the owner's state line says.
async fn owner_state(
    two_factor: &TwoFactor,
    owner: &crate::client_account::UserRow,
) -> AppResult<Vec<String>> {
    let enrolled = two_factor.enrolled(Realm::Client, owner.id).await?;
    Ok(vec![
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
    ])
}

/// The account page, with a notice after a change or an error (then with status 400).
async fn render(
    view: &AccountView,
    current: &CurrentAdmin,
    id: ClientId,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let Overview {
        client,
        owner,
        members,
    } = view
        .accounts
        .overview(id)
        .await?
        .ok_or(AppError::NotFound)?;
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
        owner_state: owner_state(&view.two_factor, &owner).await?,
        members,
        client,
        can_login_as: current.permissions.contains(Permission::LoginAsClient),
        can_transfer: current
            .permissions
            .contains(Permission::ManageClientAccounts),
    };
    Ok((status, page::render(&body)).into_response())
}

/// One account, its owner's state and its users.
pub async fn get_client(
    State(view): State<AccountView>,
    gate: RequirePermission<ViewClientProfile>,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render(&view, &gate.current, ClientId(id), csrf, None, None).await
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
    State(view): State<AccountView>,
    gate: RequirePermission<ManageClientAccounts>,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<TransferForm>,
) -> AppResult<Response> {
    let id = ClientId(id);
    let (notice, error) = match view
        .accounts
        .transfer(gate.current.id(), id, UserId(form.user_id))
        .await
    {
        Ok(()) => (Some("Ownership transferred.".to_owned()), None),
        Err(refused @ TransferError::NotAUser) => (None, Some(refused.to_string())),
        Err(TransferError::Storage(e)) => return Err(e.into()),
    };
    render(&view, &gate.current, id, csrf, notice, error).await
}

/// Signs this browser in to the client area as the account's owner, marked with the admin.
pub async fn post_login_as(
    State(view): State<AccountView>,
    State(impersonation): State<Impersonation>,
    gate: RequirePermission<LoginAsClient>,
    Path(id): Path<i64>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let by = impersonation::By {
        admin: gate.current.id(),
        username: &gate.current.admin.username,
        session: &gate.current.session.id_hash,
        ip: arrival.addr.ip,
        user_agent: &arrival.user_agent,
    };
    match impersonation.start(by, ClientId(id)).await {
        Ok(started) => {
            let (jar, target) = crate::web::signin::session_cookie(
                arrival.cookies(),
                Realm::Client,
                started,
                "/clientarea",
            );
            Ok((jar, Redirect::to(&target)).into_response())
        }
        Err(StartError::NoSuchAccount) => Err(AppError::NotFound),
        Err(refused @ (StartError::OwnerDisabled { .. } | StartError::StepUpNeeded)) => {
            let error = Some(refused.to_string());
            render(&view, &gate.current, ClientId(id), csrf, None, error).await
        }
        Err(StartError::NotStored(e)) => Err(AppError::storage(e.into_anyhow())),
        Err(StartError::Storage(e)) => Err(e.into()),
    }
}
