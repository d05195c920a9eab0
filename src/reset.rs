//! Password reset for both realms (F10): the [`Resets`] service, which the reset pages call.
//!
//! A reset link is built from the System URL and carries a random token stored only as its
//! hash, valid for two hours, usable once, and tied to nothing else: no session, no cookie, no
//! host. So it works in any browser, and a link opened on another origin is simply redirected to
//! the System URL with the token intact. Requesting a link answers the same whether or not the
//! address has an account, and is rate-limited per client address and per account. Whether a
//! realm offers resets at all, the password rules and the audit entry live here too; the pages
//! only map [`RequestError`] and [`CompleteError`] to what people see.

use crate::account::{Accounts, FieldError};
use crate::app::AppState;
use crate::auth::policy::PasswordPolicy;
use crate::clock::Clock;
use crate::config::Config;
use crate::db;
use crate::domain::{Action, Actor};
use crate::mail::template::{PasswordChanged, PasswordReset};
use crate::session::Realm;
use crate::settings::Settings;
use secrecy::SecretString;
use std::net::IpAddr;
use std::sync::Arc;

/// What a presented one-time link is: valid (for whom), expired, used or unknown.
pub use crate::db::one_time_token::TokenState;

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

/// Revokes every outstanding reset link of `id` of `realm`, in the caller's transaction: the one
/// rule (issue 18, item 4) that completing a reset, changing the password and changing (or
/// reverting) the email address all call, so a link mailed before the change cannot be used
/// after it. A revoked link reports "expired" (it expired early), never "used".
///
/// # Errors
/// Storage errors.
pub(crate) async fn revoke_links(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    realm: Realm,
    id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    db::one_time_token::revoke_subject(&mut **tx, purpose(realm), id, now).await
}

/// The path of a realm's reset pages.
pub fn base_path(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/password/reset",
        Realm::Admin => "/admin/password/reset",
    }
}

/// The password reset service.
#[derive(Clone)]
pub struct Resets {
    db: crate::db::Pool,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    settings: Settings,
    /// The password rules, hashing and storing a new password (which ends the account's
    /// sessions), and the account a reset link is for.
    accounts: Accounts,
}

impl From<&AppState> for Resets {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            config: state.config.clone(),
            settings: Settings::from(state),
            accounts: Accounts::from(state),
        }
    }
}

/// Why a reset request could not be handled (the page still answers the same; these are
/// failures of the server, never "no such account").
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The random source or the email template failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why a reset was not completed.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// The link cannot be used: unknown, expired or already used.
    #[error("the link cannot be used")]
    Link(TokenState),
    /// The new password is refused, with each field's problem.
    #[error("{}", crate::account::FieldError::list(.0))]
    Invalid(Vec<FieldError>),
    /// Too many passwords are being hashed right now.
    #[error("the server is busy; try again in a moment")]
    Busy,
    /// The hashing task or the email template failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl From<crate::account::CreateError> for CompleteError {
    fn from(e: crate::account::CreateError) -> Self {
        use crate::account::CreateError;
        match e {
            CreateError::Invalid(errors) => Self::Invalid(errors),
            CreateError::Busy => Self::Busy,
            CreateError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl Resets {
    /// Whether the realm offers password resets (the admin area may turn them off).
    pub fn available(&self, realm: Realm) -> bool {
        realm == Realm::Client || self.config.admin_password_reset
    }

    /// The realm's password rules.
    pub fn policy(&self, realm: Realm) -> PasswordPolicy {
        crate::account::policy(&self.config, realm)
    }

    /// Handles a reset request from `ip`: when the realm offers resets, the address and the
    /// account are within their hourly limits and the account is enabled, a link is queued.
    /// The caller shows the same answer whatever happens here.
    ///
    /// # Errors
    /// Storage errors, or a failing random source or template.
    pub async fn request(&self, realm: Realm, email: &str, ip: IpAddr) -> Result<(), RequestError> {
        if !self.available(realm) {
            return Ok(());
        }
        let now = self.clock.unix();
        let email = email.trim();
        let from_address = db::rate_limit::admit(
            &self.db,
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
        let Some(account) = self.accounts.holder_by_email(realm, email).await? else {
            return Ok(());
        };
        let for_account = db::rate_limit::admit(
            &self.db,
            "reset_account",
            &format!("{}:{}", realm.as_str(), account.id),
            now,
            now - 3600,
            PER_ACCOUNT_PER_HOUR,
        )
        .await?;
        if account.disabled || !for_account {
            return Ok(());
        }
        let token = crate::token::generate().map_err(anyhow::Error::from)?;
        let rendered = PasswordReset {
            portal: crate::mail::template::portal_name(&self.config.system_url),
            name: account.name,
            link: self
                .config
                .system_url
                .join(&format!("{}/{}", base_path(realm), token.plain)),
            expires: self.settings.show_time(now + LIFETIME),
        }
        .render()
        .map_err(anyhow::Error::from)?;
        let mut tx = self.db.begin().await?;
        db::one_time_token::insert(
            &mut *tx,
            &token.hash,
            purpose(realm),
            Some(account.id),
            now,
            now + LIFETIME,
        )
        .await?;
        crate::mail::queue::enqueue(&mut *tx, &account.email, &rendered, now).await?;
        tx.commit().await?;
        tracing::info!(
            realm = realm.as_str(),
            account = account.id,
            "password reset link queued"
        );
        Ok(())
    }

    /// The state of a presented reset token.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn token_state(&self, realm: Realm, token: &str) -> Result<TokenState, sqlx::Error> {
        if !crate::token::looks_valid(token) {
            return Ok(TokenState::Unknown);
        }
        db::one_time_token::state(
            &self.db,
            &crate::token::hash(token),
            purpose(realm),
            self.clock.unix(),
        )
        .await
    }

    /// Sets the new password, uses up the link, ends every session of the account, queues the
    /// "password changed" notice and audits it, all in one transaction.
    ///
    /// # Errors
    /// An unusable link, field errors (policy, confirmation), `Busy`, or storage errors.
    pub async fn complete(
        &self,
        realm: Realm,
        token: &str,
        password: &SecretString,
        confirm: &str,
    ) -> Result<(), CompleteError> {
        let TokenState::Valid {
            subject_id: Some(id),
        } = self.token_state(realm, token).await?
        else {
            return Err(CompleteError::Link(self.token_state(realm, token).await?));
        };
        let Some(holder) = self.accounts.holder(realm, id).await? else {
            return Err(CompleteError::Link(TokenState::Unknown));
        };
        let inputs: Vec<&str> = holder.inputs.iter().map(String::as_str).collect();
        let mut errors = Vec::new();
        crate::account::check_password(&self.policy(realm), password, &inputs, &mut errors);
        errors.extend(crate::account::mismatch(password, confirm));
        if !errors.is_empty() {
            return Err(CompleteError::Invalid(errors));
        }
        let hash = self.accounts.hash(password).await?;
        let now = self.clock.unix();
        let notice = PasswordChanged {
            portal: crate::mail::template::portal_name(&self.config.system_url),
            name: holder.name,
            when: self.settings.show_time(now),
            reset_link: self.config.system_url.join(base_path(realm)),
        }
        .render()
        .map_err(anyhow::Error::from)?;
        let mut tx = self.db.begin().await?;
        if !db::one_time_token::consume(&mut *tx, &crate::token::hash(token), purpose(realm), now)
            .await?
        {
            // Lost a race with another tab using the same link.
            return Err(CompleteError::Link(TokenState::Used { at: now }));
        }
        // Every session ends, none kept: whoever held one may be who knew the old password.
        crate::account::replace_password(&mut tx, realm, id, &hash, None, now).await?;
        crate::twofactor::forget_unconfirmed_totp(&mut tx, realm, id).await?;
        if realm == Realm::Client {
            // An unconfirmed address is proved now: undo what a squatter may have set up.
            crate::membership::reclaim_in(&mut tx, crate::domain::UserId(id), now).await?;
        }
        crate::mail::queue::enqueue(&mut *tx, &holder.email, &notice, now).await?;
        let actor = Actor::of(realm, id);
        crate::audit::record(
            &mut *tx,
            now,
            &actor,
            Action::PasswordReset,
            &actor,
            "password set from an emailed reset link; every session ended",
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

    /// The title and message for a reset link that cannot be used (issue 18, item 19): what
    /// happened, as far as the link itself tells (used, stopped working, not one we sent; it
    /// says nothing about the account), and what to do next. Times are in the configured
    /// timezone.
    pub fn link_problem(&self, state: TokenState, request_again: &str) -> (&'static str, String) {
        let snapshot = self.settings.snapshot();
        let zone = &snapshot.values.timezone;
        let how = format!(
            "Request a new link at {request_again}: each link works once, for {} minutes, and only the newest one works.",
            LIFETIME / 60
        );
        match state {
            TokenState::Used { at } => (
                "This reset link was already used",
                format!(
                    "This link was already used at {}, so the password was set then. If that was you, sign in with the new password. If you need to set it again, or it was not you: {how}",
                    crate::clock::display(at, zone)
                ),
            ),
            TokenState::Expired { at } => (
                "This reset link no longer works",
                format!(
                    "This link expired at {}: links expire on their own, and changing the password or the email address ends older links early. {how}",
                    crate::clock::display(at, zone)
                ),
            ),
            TokenState::Unknown | TokenState::Valid { .. } => (
                "This reset link is not valid",
                format!(
                    "This link is not one we sent, or it was copied incompletely. Check that the whole link was opened (some mail programs split long links). Otherwise: {how}"
                ),
            ),
        }
    }
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
