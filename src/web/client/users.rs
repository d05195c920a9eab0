//! `GET /account/users`, `POST /account/users/invite`: the account's users (owner only), and
//! `GET/POST /invite/{token}`: accepting an invitation to share an account. The rules are
//! `membership::Members`'s and `invite::Invitations`'s; this page maps their refusals.

use crate::account::FieldError;
use crate::auth::client_permission::ClientPermission;
use crate::domain::UserId;
use crate::invite::{Accepted, Invitations, Link, Taker};
use crate::membership::{Manager, MemberError, Members};
use crate::session::Realm;
use crate::settings::Settings;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, CurrentClient, Form};
use crate::web::invitation::{self, Arrival};
use crate::web::page::{self, AccountUsersPage, FieldErrors, InviteAcceptPage};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// The page for a refusal that is not shown next to a field.
fn refused(e: MemberError) -> AppError {
    match e {
        e @ (MemberError::NotOwner { .. }
        | MemberError::Impersonated { .. }
        | MemberError::Unconfirmed { .. }) => AppError::Forbidden(e.to_string()),
        MemberError::NotMember => AppError::NotFound,
        e @ (MemberError::UnknownPermission(_) | MemberError::Invalid(_)) => {
            AppError::BadRequest(e.to_string())
        }
        MemberError::Storage(e) => e.into(),
        MemberError::Unexpected(e) => AppError::Unexpected(e),
    }
}

async fn users_page(
    members: &Members,
    current: &CurrentClient,
    by: &Manager,
    csrf: String,
    notice: Option<String>,
    email: &str,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    let members = members
        .list(by)
        .await
        .map_err(refused)?
        .into_iter()
        .map(|m| page::MemberView {
            user_id: m.user.get(),
            email: m.email,
            name: m.name,
            permissions: ClientPermission::ALL
                .into_iter()
                .map(|p| (p.as_str(), p.label(), m.permissions.contains(p)))
                .collect(),
        })
        .collect();
    Ok(page::render(&AccountUsersPage {
        title: "Users of this account",
        nav: Some(current.nav(csrf.clone())),
        notice,
        csrf,
        owner: format!("{} <{}>", by.name, by.email),
        account: by.label.clone(),
        members,
        email: email.chars().take(254).collect(),
        errors: FieldErrors(errors),
    }))
}

/// Sets what a user may do in the owner's active account (checkbox fields named after the
/// permissions).
pub async fn post_member_permissions(
    State(members): State<Members>,
    current: CurrentClient,
    Path(user): Path<UserId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let by = current.manager()?;
    let names: Vec<&str> = fields
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "csrf_token")
        .collect();
    members
        .set_permissions(&by, user, &names)
        .await
        .map_err(refused)?;
    // A redirect, so reloading the page never sends the form again.
    Ok(Redirect::to("/account/users?saved=1").into_response())
}

/// Removes a user from the owner's active account.
pub async fn post_member_remove(
    State(members): State<Members>,
    current: CurrentClient,
    Path(user): Path<UserId>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let by = current.manager()?;
    members.remove(&by, user).await.map_err(refused)?;
    let notice = Some("The user no longer has access to this account.".into());
    users_page(&members, &current, &by, csrf, notice, "", Vec::new()).await
}

/// `?invited=1` after an invitation.
#[derive(serde::Deserialize)]
pub struct UsersQuery {
    invited: Option<String>,
    saved: Option<String>,
}

/// The account's users and the invitation form.
pub async fn get_users(
    State(members): State<Members>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<UsersQuery>,
) -> AppResult<Response> {
    let by = current.manager()?;
    let notice = match (q.invited, q.saved) {
        (Some(_), _) => Some("The invitation is on its way.".to_owned()),
        (None, Some(_)) => Some("Saved.".to_owned()),
        (None, None) => None,
    };
    users_page(&members, &current, &by, csrf, notice, "", Vec::new()).await
}

/// The invitation form's field.
#[derive(serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
}

/// Sends an invitation.
pub async fn post_invite(
    State(members): State<Members>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let by = current.manager()?;
    match members.invite(&by, &form.email).await {
        Ok(()) => Ok(Redirect::to("/account/users?invited=1").into_response()),
        Err(MemberError::Invalid(errors)) => {
            let page = users_page(&members, &current, &by, csrf, None, &form.email, errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page.await?).into_response())
        }
        Err(e) => Err(refused(e)),
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

/// The form, for the invitee `email` (whether they have an account, and are signed in as it).
fn accept_page(
    token: &str,
    email: String,
    invitee: crate::invite::Invitee,
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
        exists: invitee.exists,
        signed_in_as_invited: invitee.signed_in,
        first_name: form.first_name.chars().take(100).collect(),
        last_name: form.last_name.chars().take(100).collect(),
        errors: FieldErrors(errors),
    })
}

/// Shows how to accept.
pub async fn get_accept(
    State(settings): State<Settings>,
    State(invitations): State<Invitations>,
    Path(token): Path<String>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let email = invitation::invited(&settings, &invitations, Link::Member, &token).await?;
    let invitee = invitations.invitee(&email, arrival.own_user()).await?;
    let form = AcceptForm::default();
    Ok(accept_page(&token, email, invitee, csrf, &form, Vec::new()))
}

/// Joins the account (creating the user first when the address has no account), then signs in
/// to the shared account.
pub async fn post_accept(
    State(settings): State<Settings>,
    State(invitations): State<Invitations>,
    Path(token): Path<String>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AcceptForm>,
) -> AppResult<Response> {
    let email = invitation::invited(&settings, &invitations, Link::Member, &token).await?;
    let invitee = invitations.invitee(&email, arrival.own_user()).await?;
    // A new user types the password twice; an existing one types none.
    let password = if invitee.exists {
        Ok(secrecy::SecretString::from(form.password.clone()))
    } else {
        invitation::confirmed(&form.password, &form.password_confirm)
    };
    let errors = match password {
        Ok(password) => {
            let taker = Taker::User {
                signed_in: arrival.own_user(),
                first_name: &form.first_name,
                last_name: &form.last_name,
                password: &password,
            };
            match invitations.accept(Link::Member, &token, taker).await {
                Ok(Accepted::Member { user, client }) => {
                    let (user, client) = (user.get(), Some(client.get()));
                    let home = "/clientarea";
                    return arrival.sign_in(Realm::Client, user, client, home).await;
                }
                Ok(Accepted::Admin(_)) => return Err(AppError::NotFound),
                Err(e) => invitation::field_errors(&settings, Link::Member, e)?,
            }
        }
        Err(errors) => errors,
    };
    let page = accept_page(&token, email, invitee, csrf, &form, errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
