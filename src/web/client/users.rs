//! `GET /account/users`, `POST /account/users/invite`: the account's users (owner only), and
//! `GET/POST /invite/{token}`: accepting an invitation to share an account.

use crate::account::{CreateError, FieldError, NewUser};
use crate::app::AppState;
use crate::db::one_time_token::TokenState;
use crate::invite::{self, AcceptError};
use crate::session::Realm;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, CurrentClient, Form, Peer, SessionInfo, UserAgent};
use crate::web::page::{self, AccountUsersPage, FieldErrors, InviteAcceptPage};
use crate::web::signin;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret as _, SecretString};

/// The active account, if the current user owns it (only owners manage its users).
fn owned_client(current: &CurrentClient) -> AppResult<i64> {
    let account = current.account()?;
    if account.is_owner {
        Ok(account.client_id)
    } else {
        Err(AppError::Forbidden(format!(
            "Only the owner of {} can manage its users. Ask the owner.",
            account.label
        )))
    }
}

async fn users_page(
    state: &AppState,
    current: &CurrentClient,
    client_id: i64,
    csrf: String,
    notice: Option<String>,
    email: &str,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    use crate::auth::client_permission::{ClientPermission, ClientPermissions};
    let members = crate::db::client::members(&state.db, client_id)
        .await?
        .into_iter()
        .map(|m| {
            let granted = ClientPermissions::parse(&m.permissions);
            page::MemberView {
                user_id: m.user_id,
                email: m.email,
                name: m.name,
                permissions: ClientPermission::ALL
                    .into_iter()
                    .map(|p| (p.as_str(), p.label(), granted.contains(p)))
                    .collect(),
            }
        })
        .collect();
    Ok(page::render(&AccountUsersPage {
        title: "Users of this account",
        nav: Some(current.nav(csrf.clone())),
        notice,
        csrf,
        owner: format!(
            "{} {} <{}>",
            current.user.first_name, current.user.last_name, current.user.email
        ),
        account: current
            .account
            .as_ref()
            .map(|a| a.label.clone())
            .unwrap_or_default(),
        members,
        email: email.chars().take(254).collect(),
        errors: FieldErrors(errors),
    }))
}

/// Sets what a user may do in the owner's active account (checkbox fields named after the
/// permissions).
pub async fn post_member_permissions(
    State(state): State<AppState>,
    current: CurrentClient,
    Path(user_id): Path<i64>,
    Peer(addr): Peer,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    use crate::auth::client_permission::{ClientPermission, ClientPermissions};
    let client_id = owned_client(&current)?;
    let mut granted = ClientPermissions::default();
    for (key, _) in fields.iter().filter(|(k, _)| k != "csrf_token") {
        granted.insert(ClientPermission::parse(key).ok_or_else(|| {
            AppError::BadRequest(format!(
                "There is no permission called {key:?}. Reload the page and try again."
            ))
        })?);
    }
    if !crate::db::client::set_permissions(&state.db, client_id, user_id, &granted.to_stored())
        .await?
    {
        return Err(AppError::NotFound);
    }
    crate::db::audit::insert(
        &state.db,
        state.clock.unix(),
        &crate::db::audit::Entry {
            actor: &current.actor_text(),
            action: "account.permissions_changed",
            subject: &format!("user:{user_id}@client:{client_id}"),
            detail: &current.detail(&granted.to_stored()),
            ip: &addr.ip.to_string(),
            user_agent: "",
        },
    )
    .await?;
    // A redirect, so reloading the page never sends the form again.
    Ok(Redirect::to("/account/users?saved=1").into_response())
}

/// Removes a user from the owner's active account.
pub async fn post_member_remove(
    State(state): State<AppState>,
    current: CurrentClient,
    Path(user_id): Path<i64>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let client_id = owned_client(&current)?;
    if !crate::db::client::remove_member(&state.db, client_id, user_id).await? {
        return Err(AppError::NotFound);
    }
    crate::db::audit::insert(
        &state.db,
        state.clock.unix(),
        &crate::db::audit::Entry {
            actor: &current.actor_text(),
            action: "account.user_removed",
            subject: &format!("user:{user_id}@client:{client_id}"),
            detail: &current.detail("removed from the account"),
            ip: &addr.ip.to_string(),
            user_agent: "",
        },
    )
    .await?;
    users_page(
        &state,
        &current,
        client_id,
        csrf,
        Some("The user no longer has access to this account.".into()),
        "",
        Vec::new(),
    )
    .await
}

/// `?invited=1` after an invitation.
#[derive(serde::Deserialize)]
pub struct UsersQuery {
    invited: Option<String>,
    saved: Option<String>,
}

/// The account's users and the invitation form.
pub async fn get_users(
    State(state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<UsersQuery>,
) -> AppResult<Response> {
    let client_id = owned_client(&current)?;
    users_page(
        &state,
        &current,
        client_id,
        csrf,
        match (q.invited, q.saved) {
            (Some(_), _) => Some("The invitation is on its way.".to_owned()),
            (None, Some(_)) => Some("Saved.".to_owned()),
            (None, None) => None,
        },
        "",
        Vec::new(),
    )
    .await
}

/// The invitation form's field.
#[derive(serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
}

/// Sends an invitation.
pub async fn post_invite(
    State(state): State<AppState>,
    current: CurrentClient,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let client_id = owned_client(&current)?;
    match invite::invite_user(
        &state,
        &current.user,
        client_id,
        &form.email,
        &crate::db::audit::Entry {
            actor: &current.actor_text(),
            detail: &current.detail(&format!("invited {}", form.email.trim())),
            ip: &addr.ip.to_string(),
            ..Default::default()
        },
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/account/users?invited=1").into_response()),
        Err(CreateError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            users_page(&state, &current, client_id, csrf, None, &form.email, errors).await?,
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}

fn link_error(state: &AppState, token_state: TokenState) -> AppError {
    AppError::LinkInvalid {
        title: "This invitation cannot be used",
        message: crate::reset::link_problem(
            token_state,
            "the account owner (ask for a new invitation)",
            &state.settings.snapshot().values.timezone,
        ),
        unknown: matches!(token_state, TokenState::Unknown),
    }
}

/// The acceptance form's fields (a new user's details; empty when joining as an existing user).
#[derive(serde::Deserialize, Default)]
pub struct AcceptForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// Who is accepting: the invited address, whether it has an account, and whether the request is
/// signed in as it.
async fn acceptor(
    state: &AppState,
    email: &str,
    loaded: Option<&crate::web::middleware::session::LoadedSession>,
) -> AppResult<(Option<i64>, bool)> {
    let existing = crate::db::account::find_user_by_email(&state.db, email)
        .await?
        .map(|u| u.id);
    // An admin signed in as the client ("login as client") does not accept invitations on
    // their behalf: that session does not count as the invited user's.
    let signed_in_as = loaded
        .and_then(|l| l.live())
        .is_some_and(|s| Some(s.subject_id) == existing && s.impersonator_admin_id.is_none());
    Ok((existing, signed_in_as))
}

fn accept_page(
    token: &str,
    email: String,
    exists: bool,
    signed_in: bool,
    csrf: String,
    form: &AcceptForm,
    errors: Vec<FieldError>,
) -> Response {
    page::render(&InviteAcceptPage {
        title: "Accept the invitation",
        nav: None,
        csrf,
        action: format!("/invite/{token}"),
        email,
        exists,
        signed_in_as_invited: signed_in,
        first_name: form.first_name.chars().take(100).collect(),
        last_name: form.last_name.chars().take(100).collect(),
        errors: FieldErrors(errors),
    })
}

/// Shows how to accept.
pub async fn get_accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let (_, email) = invite::user_invitation(&state, &token)
        .await?
        .map_err(|t| link_error(&state, t))?;
    let (existing, signed_in) = acceptor(&state, &email, loaded.as_ref()).await?;
    Ok(accept_page(
        &token,
        email,
        existing.is_some(),
        signed_in,
        csrf,
        &AcceptForm::default(),
        Vec::new(),
    ))
}

/// Joins the account (creating the user first when the address has no account), then signs in
/// to the shared account.
pub async fn post_accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AcceptForm>,
) -> AppResult<Response> {
    let (_, email) = invite::user_invitation(&state, &token)
        .await?
        .map_err(|t| link_error(&state, t))?;
    let (existing, signed_in) = acceptor(&state, &email, loaded.as_ref()).await?;
    if existing.is_some() && !signed_in {
        return Err(AppError::Forbidden(format!(
            "Sign in as {email} first, then open the invitation link again."
        )));
    }
    let password = SecretString::from(form.password.clone());
    let new_user = NewUser {
        email: &email,
        first_name: &form.first_name,
        last_name: &form.last_name,
        password: &password,
        verified: true,
        owns_account: false,
    };
    let result = if existing.is_none() && form.password_confirm != *password.expose_secret() {
        Err(AcceptError::Create(CreateError::Invalid(vec![
            FieldError {
                field: "password_confirm",
                message: "The two passwords are not the same.".into(),
            },
        ])))
    } else {
        invite::accept_user(
            &state,
            &token,
            existing,
            existing.is_none().then_some(&new_user),
        )
        .await
    };
    match result {
        Ok((user_id, client_id)) => {
            let sign_in = signin::for_request(
                Realm::Client,
                user_id,
                Some(client_id),
                addr,
                &ua,
                loaded.as_ref(),
            );
            signin::start_session(&state, sign_in, "/clientarea").await
        }
        Err(AcceptError::Link(token_state)) => Err(link_error(&state, token_state)),
        Err(AcceptError::Create(CreateError::Invalid(errors))) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            accept_page(
                &token,
                email,
                existing.is_some(),
                signed_in,
                csrf,
                &form,
                errors,
            ),
        )
            .into_response()),
        Err(AcceptError::Create(other)) => Err(other.into()),
    }
}
