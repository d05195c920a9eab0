//! The sign-in decision for both realms.
//!
//! Finding the account, verifying the password and refusing disabled accounts all end in the
//! same [`LoginError::InvalidCredentials`], after the same hashing work, so the response does not
//! tell whether an account exists. A database failure is *not* folded into that answer: it is
//! [`LoginError::Unexpected`] and becomes an error page, because telling someone their correct
//! password is wrong during an outage sends them to reset it for nothing.
//!
//! [`Login`] holds what the check needs (storage, the bounded hasher, the clock); the sign-in
//! service (`crate::signin`) calls it and records the outcome.

use crate::app::AppState;
use crate::auth::hasher::{HashError, Hasher};
use crate::auth::password::{PasswordError, Verification};
use crate::clock::Clock;
use crate::db;
use secrecy::SecretString;
use std::sync::Arc;

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong password, unknown account or disabled account: one answer for all. Which it was
    /// is carried for the audit log only.
    #[error("Login Details Incorrect. Please try again.")]
    InvalidCredentials(Refusal),
    /// Too many sign-ins are being verified right now.
    #[error("the server is busy verifying other sign-ins")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why the credentials were refused: written to the audit log (for the operator chasing a
/// "my password does not work" call), never shown on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownAccount,
    /// The account exists but has no usable password (never set, or a hash we cannot read).
    NoPassword,
    WrongPassword,
    Disabled,
}

impl Refusal {
    /// The audit log's wording.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAccount => "no account has this name",
            Self::NoPassword => "the account has no usable password",
            Self::WrongPassword => "wrong password",
            Self::Disabled => "the account is disabled",
        }
    }

    fn of(found: bool, has_password: bool, matched: bool) -> Self {
        match (found, has_password, matched) {
            (false, _, _) => Self::UnknownAccount,
            (true, false, _) => Self::NoPassword,
            _ => Self::WrongPassword,
        }
    }
}

impl From<sqlx::Error> for LoginError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unexpected(e.into())
    }
}

/// The password check of both realms.
#[derive(Clone)]
pub struct Login {
    db: db::Pool,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
}

impl From<&AppState> for Login {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            hasher: state.hasher.clone(),
            clock: state.clock.clone(),
        }
    }
}

impl Login {
    /// Checks a password against a stored hash (or none, for an unknown account) through the
    /// bounded hasher; `Ok(Some(true))` when it matched and the stored hash should be upgraded.
    async fn check(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<Option<bool>, LoginError> {
        match self.hasher.verify(password, stored).await {
            Ok(Verification::Match { needs_upgrade }) => Ok(Some(needs_upgrade)),
            Ok(Verification::Mismatch) => Ok(None),
            Err(HashError::Busy) => Err(LoginError::Busy),
            Err(HashError::Password(PasswordError::UnknownFormat | PasswordError::Malformed)) => {
                tracing::warn!(
                    "an account has a password hash in an unrecognised format; it cannot sign in until the password is reset"
                );
                Ok(None)
            }
            Err(e) => Err(LoginError::Unexpected(anyhow::anyhow!(e.to_string()))),
        }
    }

    /// Rehashes a legacy or outdated hash with the current Argon2id parameters.
    async fn upgrade(&self, password: SecretString) -> Option<String> {
        match self.hasher.hash(password).await {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "could not upgrade a password hash; will retry at the next sign-in");
                None
            }
        }
    }

    /// Signs in a client-area user by email.
    ///
    /// # Errors
    /// See [`LoginError`].
    pub async fn client(
        &self,
        email: &str,
        password: &SecretString,
    ) -> Result<db::account::UserRow, LoginError> {
        let user = db::account::find_user_by_email(&self.db, email.trim()).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let has_password = stored.is_some();
        let outcome = self.check(password.clone(), stored).await?;
        let (Some(user), Some(needs_upgrade)) = (user.clone(), outcome) else {
            return Err(LoginError::InvalidCredentials(Refusal::of(
                user.is_some(),
                has_password,
                outcome.is_some(),
            )));
        };
        if user.disabled {
            return Err(LoginError::InvalidCredentials(Refusal::Disabled));
        }
        if needs_upgrade {
            if let Some(hash) = self.upgrade(password.clone()).await {
                db::account::update_user_password(&self.db, user.id, &hash, self.clock.unix())
                    .await?;
                tracing::info!(
                    user_id = user.id,
                    "upgraded a legacy password hash to Argon2id"
                );
            }
        }
        Ok(user)
    }

    /// Signs in an admin by username.
    ///
    /// # Errors
    /// See [`LoginError`].
    pub async fn admin(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<db::account::AdminRow, LoginError> {
        let admin = db::account::find_admin_by_username(&self.db, username.trim()).await?;
        let stored = admin.as_ref().map(|a| a.password_hash.clone());
        let outcome = self.check(password.clone(), stored).await?;
        let (Some(admin), Some(needs_upgrade)) = (admin.clone(), outcome) else {
            return Err(LoginError::InvalidCredentials(Refusal::of(
                admin.is_some(),
                true,
                outcome.is_some(),
            )));
        };
        if admin.disabled {
            return Err(LoginError::InvalidCredentials(Refusal::Disabled));
        }
        if needs_upgrade {
            if let Some(hash) = self.upgrade(password.clone()).await {
                db::account::update_admin_password(&self.db, admin.id, &hash, self.clock.unix())
                    .await?;
                tracing::info!(
                    admin_id = admin.id,
                    "upgraded a legacy password hash to Argon2id"
                );
            }
        }
        Ok(admin)
    }
}
