//! Password reset for both realms (F10).
//!
//! A reset link is built from the System URL and carries a random token stored only as its
//! hash, valid for two hours, usable once, and tied to nothing else: no session, no cookie, no
//! host. So it works in any browser, and a link opened on another origin is simply redirected to
//! the System URL with the token intact. Requesting a link answers the same whether or not the
//! address has an account, and is rate-limited per client address and per account.

use crate::account::{FieldError, admin_policy, client_policy};
use crate::app::AppState;
use crate::db;
use crate::db::one_time_token::TokenState;
use crate::mail::template::{PasswordChanged, PasswordReset};
use crate::session::{EndReason, Realm};
use secrecy::{ExposeSecret as _, SecretString};
use std::net::IpAddr;

/// How long a reset link works.
pub const LIFETIME: i64 = 2 * 3600;
/// Requests from one address per hour before further ones are silently dropped.
pub const PER_ADDRESS_PER_HOUR: i64 = 10;
/// Links sent to one account per hour.
pub const PER_ACCOUNT_PER_HOUR: i64 = 3;

fn purpose(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "password_reset:client",
        Realm::Admin => "password_reset:admin",
    }
}

/// The path of a realm's reset pages.
pub fn base_path(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/password/reset",
        Realm::Admin => "/admin/password/reset",
    }
}

/// The portal's name in emails: the System URL's host.
pub fn portal_name(state: &AppState) -> String {
    state.config.system_url.host().to_owned()
}

/// Whom a reset concerns: id, email, display name, enabled.
async fn account_by_email(
    state: &AppState,
    realm: Realm,
    email: &str,
) -> Result<Option<(i64, String, String, bool)>, sqlx::Error> {
    Ok(match realm {
        Realm::Client => db::account::find_user_by_email(&state.db, email)
            .await?
            .map(|u| (u.id, u.email, u.first_name, !u.disabled)),
        Realm::Admin => db::account::find_admin_by_email(&state.db, email)
            .await?
            .map(|a| (a.id, a.email, a.username, !a.disabled)),
    })
}

async fn account_by_id(
    state: &AppState,
    realm: Realm,
    id: i64,
) -> Result<Option<(String, String, Vec<String>)>, sqlx::Error> {
    Ok(match realm {
        Realm::Client => db::account::find_user_by_id(&state.db, id).await?.map(|u| {
            let inputs = vec![u.email.clone(), u.first_name.clone(), u.last_name.clone()];
            (u.email, u.first_name, inputs)
        }),
        Realm::Admin => db::account::find_admin_by_id(&state.db, id)
            .await?
            .map(|a| {
                let inputs = vec![a.username.clone(), a.email.clone()];
                (a.email, a.username, inputs)
            }),
    })
}

/// Handles a reset request. The caller shows the same answer whatever happens here.
///
/// # Errors
/// Storage errors only.
pub async fn request(
    state: &AppState,
    realm: Realm,
    email: &str,
    ip: IpAddr,
) -> Result<(), sqlx::Error> {
    let now = state.clock.unix();
    let email = email.trim();
    let from_address = db::mail::admit_request(
        &state.db,
        "reset_address",
        &ip.to_string(),
        now,
        now - 3600,
        PER_ADDRESS_PER_HOUR,
    )
    .await?;
    if !from_address {
        tracing::info!(%ip, "password reset requests from this address are rate-limited");
        return Ok(());
    }
    let Some((id, address, name, enabled)) = account_by_email(state, realm, email).await? else {
        return Ok(());
    };
    let for_account = db::mail::admit_request(
        &state.db,
        "reset_account",
        &format!("{}:{id}", realm.as_str()),
        now,
        now - 3600,
        PER_ACCOUNT_PER_HOUR,
    )
    .await?;
    if !enabled || !for_account {
        return Ok(());
    }
    let token = crate::token::generate().map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let rendered = PasswordReset {
        portal: portal_name(state),
        name,
        link: state
            .config
            .system_url
            .join(&format!("{}/{}", base_path(realm), token.plain)),
        expires: state.show_time(now + LIFETIME),
    }
    .render()
    .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let mut tx = state.db.begin().await?;
    db::one_time_token::insert(
        &mut *tx,
        &token.hash,
        purpose(realm),
        Some(id),
        now,
        now + LIFETIME,
    )
    .await?;
    crate::mail::queue::enqueue(&mut *tx, &address, &rendered, now).await?;
    tx.commit().await?;
    tracing::info!(
        realm = realm.as_str(),
        account = id,
        "password reset link queued"
    );
    Ok(())
}

/// The state of a presented reset token.
///
/// # Errors
/// Storage errors.
pub async fn token_state(
    state: &AppState,
    realm: Realm,
    token: &str,
) -> Result<TokenState, sqlx::Error> {
    if !crate::token::looks_valid(token) {
        return Ok(TokenState::Unknown);
    }
    db::one_time_token::state(
        &state.db,
        &crate::token::hash(token),
        purpose(realm),
        state.clock.unix(),
    )
    .await
}

/// Why a reset was not completed.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    #[error("the link cannot be used")]
    Link(TokenState),
    #[error(transparent)]
    Create(#[from] crate::account::CreateError),
}

impl From<sqlx::Error> for CompleteError {
    fn from(e: sqlx::Error) -> Self {
        Self::Create(e.into())
    }
}

/// Sets the new password, uses up the link, ends every session of the account and queues the
/// "password changed" notice, all in one transaction.
///
/// # Errors
/// An unusable link, field errors (policy, confirmation), `Busy`, or storage errors.
pub async fn complete(
    state: &AppState,
    realm: Realm,
    token: &str,
    password: &SecretString,
    confirm: &str,
) -> Result<(), CompleteError> {
    let TokenState::Valid {
        subject_id: Some(id),
    } = token_state(state, realm, token).await?
    else {
        return Err(CompleteError::Link(token_state(state, realm, token).await?));
    };
    let Some((address, name, inputs)) = account_by_id(state, realm, id).await? else {
        return Err(CompleteError::Link(TokenState::Unknown));
    };
    let policy = match realm {
        Realm::Client => client_policy(state),
        Realm::Admin => admin_policy(state),
    };
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let mut errors = Vec::new();
    if let Err(v) = policy.check(password.expose_secret(), &inputs) {
        errors.push(FieldError {
            field: "password",
            message: v.to_string(),
        });
    }
    if confirm != password.expose_secret() {
        errors.push(FieldError {
            field: "password_confirm",
            message: "The two passwords are not the same.".into(),
        });
    }
    if !errors.is_empty() {
        return Err(crate::account::CreateError::Invalid(errors).into());
    }
    let hash = state
        .hasher
        .hash(password.clone())
        .await
        .map_err(|e| match e {
            crate::auth::hasher::HashError::Busy => crate::account::CreateError::Busy,
            other => crate::account::CreateError::Unexpected(anyhow::anyhow!(other.to_string())),
        })?;
    let now = state.clock.unix();
    let notice = PasswordChanged {
        portal: portal_name(state),
        name,
        when: state.show_time(now),
        reset_link: state.config.system_url.join(base_path(realm)),
    }
    .render()
    .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let mut tx = state.db.begin().await?;
    if !db::one_time_token::consume(&mut *tx, &crate::token::hash(token), purpose(realm), now)
        .await?
    {
        // Lost a race with another tab using the same link.
        return Err(CompleteError::Link(TokenState::Used { at: now }));
    }
    match realm {
        Realm::Client => db::account::update_user_password(&mut *tx, id, &hash, now).await?,
        Realm::Admin => db::account::update_admin_password(&mut *tx, id, &hash, now).await?,
    }
    db::session::end_all_for_subject(
        &mut *tx,
        realm.as_str(),
        id,
        None,
        EndReason::PasswordChanged.as_str(),
        now,
    )
    .await?;
    crate::mail::queue::enqueue(&mut *tx, &address, &notice, now).await?;
    let actor = format!("{}:{id}", realm.as_str());
    db::audit::insert(
        &mut *tx,
        now,
        &db::audit::Entry {
            actor: &actor,
            action: "password.reset",
            subject: &actor,
            detail: "password set from an emailed reset link; every session ended",
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        realm = realm.as_str(),
        account = id,
        "password reset completed"
    );
    Ok(())
}

/// The message for a link that cannot be used: which of unknown, expired (and when) or used.
pub fn link_problem(state: TokenState, request_again: &str, zone: &crate::clock::Zone) -> String {
    match state {
        TokenState::Expired { at } => format!(
            "This link expired at {}. Request a new one at {request_again}.",
            crate::clock::display(at, zone)
        ),
        TokenState::Used { at } => format!(
            "This link was already used at {}. Request a new one at {request_again} if you need to.",
            crate::clock::display(at, zone)
        ),
        TokenState::Unknown | TokenState::Valid { .. } => format!(
            "This link is not one we sent, or it was copied incompletely. Check that the whole link was opened, or request a new one at {request_again}."
        ),
    }
}
