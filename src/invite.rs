//! Admin invitations: an admin invites someone by email to become an admin with a role. The
//! link works once for 7 days; inviting the same address again replaces the old link.
//!
//! TODO(#6): client-account invitations (an owner inviting a user to their account) need the
//! account memberships that arrive with the roles and accounts issue.

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

/// Invites `email` to become an admin with `role_id`, on behalf of `inviter`.
///
/// # Errors
/// A bad or already-used address, or storage errors.
pub async fn invite_admin(
    state: &AppState,
    inviter: &db::account::AdminRow,
    email: &str,
    role_id: i64,
    from: &str,
) -> Result<(), CreateError> {
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
    let role = if role_id == crate::auth::permission::FULL_ADMINISTRATOR {
        "Full Administrator"
    } else {
        "an administrator"
    };
    let rendered = crate::mail::template::InviteAdmin {
        portal: crate::reset::portal_name(state),
        inviter: inviter.username.clone(),
        role: role.to_owned(),
        link: state
            .config
            .system_url
            .join(&format!("/admin/invite/{}", token.plain)),
        expires: crate::clock::display(now + LIFETIME),
    }
    .render()
    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let key = data(role_id, email);
    let mut tx = state.db.begin().await?;
    db::one_time_token::revoke_data(&mut *tx, ADMIN_PURPOSE, &key, now).await?;
    db::one_time_token::insert_with_data(
        &mut *tx,
        &token.hash,
        ADMIN_PURPOSE,
        &key,
        now,
        now + LIFETIME,
    )
    .await?;
    crate::mail::queue::enqueue(&mut *tx, email, &rendered, now).await?;
    db::setting::audit(
        &mut *tx,
        now,
        &format!("admin:{}", inviter.username),
        "admin.invite",
        &format!("{email} as {role}"),
        from,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The invitation a token stands for (role and email), or why it cannot be used.
///
/// # Errors
/// Storage errors.
pub async fn invitation(
    state: &AppState,
    token: &str,
) -> Result<Result<(i64, String), TokenState>, sqlx::Error> {
    if !crate::token::looks_valid(token) {
        return Ok(Err(TokenState::Unknown));
    }
    let hash = crate::token::hash(token);
    match db::one_time_token::state(&state.db, &hash, ADMIN_PURPOSE, state.clock.unix()).await? {
        TokenState::Valid { .. } => Ok(db::one_time_token::data(&state.db, &hash, ADMIN_PURPOSE)
            .await?
            .as_deref()
            .and_then(parse)
            .ok_or(TokenState::Unknown)),
        other => Ok(Err(other)),
    }
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
    tracing::info!(admin_id = id, "admin invitation accepted");
    Ok(id)
}
