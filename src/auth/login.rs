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
use crate::domain::Realm;
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

    /// Checks `password` for the account `identifier` names in `realm` (a user's email, an
    /// admin's username) and returns the account's id; a legacy or outdated hash is upgraded.
    ///
    /// # Errors
    /// See [`LoginError`].
    pub async fn password(
        &self,
        realm: Realm,
        identifier: &str,
        password: &SecretString,
    ) -> Result<i64, LoginError> {
        let identifier = identifier.trim();
        // The account's id, its stored hash (none: it has no password) and whether it is disabled.
        let found = match realm {
            Realm::Client => db::account::find_user_by_email(&self.db, identifier)
                .await?
                .map(|u| (u.id, u.password_hash, u.disabled)),
            Realm::Admin => db::account::find_admin_by_username(&self.db, identifier)
                .await?
                .map(|a| (a.id, Some(a.password_hash), a.disabled)),
        };
        let exists = found.is_some();
        let stored = found.as_ref().and_then(|(_, hash, _)| hash.clone());
        let has_password = stored.is_some();
        let outcome = self.check(password.clone(), stored).await?;
        let (Some((id, _, disabled)), Some(needs_upgrade)) = (found, outcome) else {
            return Err(LoginError::InvalidCredentials(Refusal::of(
                exists,
                has_password,
                outcome.is_some(),
            )));
        };
        if disabled {
            return Err(LoginError::InvalidCredentials(Refusal::Disabled));
        }
        if needs_upgrade && let Some(hash) = self.upgrade(password.clone()).await {
            let now = self.clock.unix();
            match realm {
                Realm::Client => {
                    db::account::update_user_password(&self.db, id, &hash, now).await?;
                }
                Realm::Admin => {
                    db::account::update_admin_password(&self.db, id, &hash, now).await?;
                }
            }
            tracing::info!(
                realm = realm.as_str(),
                subject_id = id,
                "upgraded a legacy password hash to Argon2id"
            );
        }
        Ok(id)
    }
}
