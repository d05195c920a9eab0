//! Invitations. An admin invites someone by email to become an admin with a role; a client
//! account's owner invites someone to share the account. Each link works once for 7 days;
//! inviting the same address again replaces the old link. Accepting creates the admin or user,
//! or links an existing user (who must be signed in as the invited address).
//!
//! TODO(#6): per-account permissions for invited users arrive with the roles issue.

use crate::account::{self, CreateError, NewAdmin};
use crate::app::AppState;
use crate::db;
use crate::db::one_time_token::TokenState;
use secrecy::SecretString;

/// Purpose label of admin invitation links.
pub const ADMIN_PURPOSE: &str = "invite_admin";
/// How long an invitation works.
pub const LIFETIME: i64 = 7 * 86_400;

fn data(role_id: i64, email: &str) -> String {
    format!("{role_id}:{}", email.trim().to_lowercase())
}

fn parse(data: &str) -> Option<(i64, String)> {
    let (role, email) = data.split_once(':')?;
    Some((role.parse().ok()?, email.to_owned()))
}

/// Stores an invitation on the caller's transaction: replaces any unused link for the same
/// grant, stores the new token's hash with what it grants, and queues the email.
async fn store(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    purpose: &str,
    grant: &str,
    token_hash: &str,
    to: &str,
    rendered: &crate::mail::template::Rendered,
    now: i64,
) -> Result<(), sqlx::Error> {
    db::one_time_token::revoke_data(&mut **tx, purpose, grant, now).await?;
    db::one_time_token::insert_with_data(
        &mut **tx,
        token_hash,
        purpose,
        grant,
        now,
        now + LIFETIME,
    )
    .await?;
    crate::mail::queue::enqueue(&mut **tx, to, rendered, now).await?;
    Ok(())
}

/// Invites `email` to become an admin with `role_id`, on behalf of `inviter`.
///
/// # Errors
/// A bad or already-used address, or storage errors.
pub async fn invite_admin(
    state: &AppState,
    inviter: &db::account::AdminRow,
    email: &str,
    role_id: i64,
) -> Result<Option<String>, CreateError> {
    let email = email.trim();
    if let Some(m) = account::check_email(email) {
        return Err(CreateError::Invalid(vec![account::FieldError {
            field: "email",
            message: m,
        }]));
    }
    if db::account::find_admin_by_email(&state.db, email)
        .await?
        .is_some()
    {
        return Err(CreateError::Invalid(vec![account::FieldError {
            field: "email",
            message: "An admin with this address already exists.".into(),
        }]));
    }
    let now = state.clock.unix();
    let token = crate::token::generate().map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let Some(role) = db::role::find(&state.db, role_id).await? else {
        return Err(CreateError::Invalid(vec![account::FieldError {
            field: "role_id",
            message: "Choose one of the roles.".into(),
        }]));
    };
    let role = role.name.as_str();
    let link = state
        .config
        .system_url
        .join(&format!("/admin/invite/{}", token.plain));
    let rendered = crate::mail::template::InviteAdmin {
        portal: crate::reset::portal_name(state),
        inviter: inviter.username.clone(),
        role: role.to_owned(),
        link: link.clone(),
        expires: state.show_time(now + LIFETIME),
    }
    .render()
    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let mut tx = state.db.begin().await?;
    store(
        &mut tx,
        ADMIN_PURPOSE,
        &data(role_id, email),
        &token.hash,
        email,
        &rendered,
        now,
    )
    .await?;
    db::audit::insert(
        &mut *tx,
        now,
        &db::audit::Entry {
            actor: &format!("admin:{}", inviter.id),
            action: "admin.invite",
            subject: email,
            detail: &format!("{email} as {role}"),
            // The request's address and user agent (db::audit::RequestOrigin).
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    // With sending switched off the message only waits in the queue, so the inviter is given
    // the link to pass on; otherwise it travels by email alone.
    Ok((!state.config.mail.enabled).then_some(link))
}

/// What a token of `purpose` grants (an id and an email), or why it cannot be used.
async fn lookup(
    state: &AppState,
    token: &str,
    purpose: &str,
) -> Result<Result<(i64, String), TokenState>, sqlx::Error> {
    if !crate::token::looks_valid(token) {
        return Ok(Err(TokenState::Unknown));
    }
    let hash = crate::token::hash(token);
    match db::one_time_token::state(&state.db, &hash, purpose, state.clock.unix()).await? {
        TokenState::Valid { .. } => Ok(db::one_time_token::data(&state.db, &hash, purpose)
            .await?
            .as_deref()
            .and_then(parse)
            .ok_or(TokenState::Unknown)),
        other => Ok(Err(other)),
    }
}

/// The admin invitation a token stands for (role and email), or why it cannot be used.
///
/// # Errors
/// Storage errors.
pub async fn invitation(
    state: &AppState,
    token: &str,
) -> Result<Result<(i64, String), TokenState>, sqlx::Error> {
    lookup(state, token, ADMIN_PURPOSE).await
}

/// Why an invitation was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("the invitation cannot be used")]
    Link(TokenState),
    #[error(transparent)]
    Create(#[from] CreateError),
}

/// Accepts an admin invitation: creates the admin with the invited address and role.
///
/// # Errors
/// An unusable link, field errors, or storage errors.
pub async fn accept_admin(
    state: &AppState,
    token: &str,
    username: &str,
    password: &SecretString,
) -> Result<i64, AcceptError> {
    let (role_id, email) = invitation(state, token)
        .await
        .map_err(CreateError::from)?
        .map_err(AcceptError::Link)?;
    let id = account::create_admin(
        state,
        &NewAdmin {
            username,
            email: &email,
            password,
        },
        role_id,
    )
    .await?;
    db::one_time_token::consume(
        &state.db,
        &crate::token::hash(token),
        ADMIN_PURPOSE,
        state.clock.unix(),
    )
    .await
    .map_err(CreateError::from)?;
    db::setting::audit_about(
        &state.db,
        state.clock.unix(),
        &format!("admin:{id}"),
        "admin.invitation_accepted",
        &format!("admin:{id}"),
        &format!("{username} <{email}> joined through an invitation"),
        "",
    )
    .await
    .map_err(CreateError::from)?;
    tracing::info!(admin_id = id, "admin invitation accepted");
    Ok(id)
}

/// Purpose label of client-account invitation links.
pub const USER_PURPOSE: &str = "invite_user";

/// Invites `email` to share client account `client_id`, on behalf of its owner.
///
/// # Errors
/// A bad address, or storage errors.
pub async fn invite_user(
    state: &AppState,
    owner: &db::account::UserRow,
    client_id: i64,
    email: &str,
    by: &db::audit::Entry<'_>,
) -> Result<(), CreateError> {
    let email = email.trim();
    if let Some(m) = account::check_email(email) {
        return Err(CreateError::Invalid(vec![account::FieldError {
            field: "email",
            message: m,
        }]));
    }
    if email.eq_ignore_ascii_case(&owner.email) {
        return Err(CreateError::Invalid(vec![account::FieldError {
            field: "email",
            message: "That is your own address.".into(),
        }]));
    }
    let now = state.clock.unix();
    let token = crate::token::generate().map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let rendered = crate::mail::template::InviteUser {
        portal: crate::reset::portal_name(state),
        inviter: format!("{} {}", owner.first_name, owner.last_name),
        link: state
            .config
            .system_url
            .join(&format!("/invite/{}", token.plain)),
        expires: state.show_time(now + LIFETIME),
    }
    .render()
    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let mut tx = state.db.begin().await?;
    store(
        &mut tx,
        USER_PURPOSE,
        &data(client_id, email),
        &token.hash,
        email,
        &rendered,
        now,
    )
    .await?;
    db::audit::insert(
        &mut *tx,
        now,
        &db::audit::Entry {
            action: "account.user_invited",
            subject: &format!("client:{client_id}"),
            ..*by
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        client_id,
        owner = owner.id,
        "client account invitation queued"
    );
    Ok(())
}

/// The client-account invitation a token stands for (client id and email), or why not.
///
/// # Errors
/// Storage errors.
pub async fn user_invitation(
    state: &AppState,
    token: &str,
) -> Result<Result<(i64, String), TokenState>, sqlx::Error> {
    lookup(state, token, USER_PURPOSE).await
}

/// Accepts a client-account invitation for an existing user `user_id` (the caller checked that
/// they are signed in as the invited address) or, with `new_user`, creates that user first.
/// Returns the user and the client account.
///
/// # Errors
/// An unusable link, field errors for a new user, or storage errors.
pub async fn accept_user(
    state: &AppState,
    token: &str,
    existing: Option<i64>,
    new_user: Option<&account::NewUser<'_>>,
) -> Result<(i64, i64), AcceptError> {
    let (client_id, _) = user_invitation(state, token)
        .await
        .map_err(CreateError::from)?
        .map_err(AcceptError::Link)?;
    let user_id = match (existing, new_user) {
        (Some(id), _) => id,
        (None, Some(new)) => account::create_user(state, new).await?.0,
        (None, None) => return Err(AcceptError::Link(TokenState::Unknown)),
    };
    let now = state.clock.unix();
    let mut tx = state.db.begin().await.map_err(CreateError::from)?;
    if !db::one_time_token::consume(&mut *tx, &crate::token::hash(token), USER_PURPOSE, now)
        .await
        .map_err(CreateError::from)?
    {
        return Err(AcceptError::Link(TokenState::Used { at: now }));
    }
    db::account::add_client_user(
        &mut *tx,
        client_id,
        user_id,
        &crate::auth::client_permission::ClientPermissions::invited_default().to_stored(),
        now,
    )
    .await
    .map_err(CreateError::from)?;
    db::setting::audit_about(
        &mut *tx,
        now,
        &format!("client:{user_id}"),
        "account.invitation_accepted",
        &format!("user:{user_id}@client:{client_id}"),
        "joined the account through an invitation",
        "",
    )
    .await
    .map_err(CreateError::from)?;
    tx.commit().await.map_err(CreateError::from)?;
    tracing::info!(client_id, user_id, "client account invitation accepted");
    Ok((user_id, client_id))
}
