//! Changing a user on an operator's word (the admin API): their names, whether they are
//! disabled, and a password hash carried over from another system.
//!
//! - Disabling ends the user's live sessions in the same transaction (reason `revoked`), so the
//!   applications they signed in to are told by back-channel logout and their tokens end; the
//!   per-request check (`access`) would refuse the sessions anyway, but only this tells the
//!   applications.
//! - An imported hash must be one Portcullis verifies (bcrypt as PHP writes it, WHMCS's
//!   `md5:salt`); the first sign-in with the right password replaces it with Argon2id
//!   (`auth::login`). Argon2 hashes from elsewhere are refused: ours are keyed with this
//!   installation's pepper, so a foreign one would never match.

use super::{Accounts, FieldError, check_name};
use crate::auth::password::{HashFormat, current_format};
use crate::db;
use crate::domain::UserId;
use crate::domain::audit::{Action, Actor};
use crate::session::{EndReason, Realm, Which};

/// What to change; `None` keeps the stored value.
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub disabled: Option<bool>,
}

/// Why a change or an imported hash was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserChangeError {
    /// No user has the id.
    #[error("no such user")]
    Unknown,
    /// Fields that cannot be used.
    #[error("{}", FieldError::list(.0))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl Accounts {
    /// Applies `changes` to user `id` as `actor` (`how`: through what), recorded as
    /// `user.updated`; disabling ends their sessions in the same transaction. Returns the
    /// sessions ended.
    ///
    /// # Errors
    /// [`UserChangeError::Unknown`], [`UserChangeError::Invalid`] naming each field, or storage
    /// errors.
    pub async fn update_user_as(
        &self,
        actor: &Actor,
        how: &str,
        id: UserId,
        changes: &UserChanges,
    ) -> Result<u64, UserChangeError> {
        let user = db::account::find_user_by_id(&self.db, id.0)
            .await?
            .ok_or(UserChangeError::Unknown)?;
        let mut errors = Vec::new();
        let first = changes.first_name.as_deref().unwrap_or(&user.first_name);
        let last = changes.last_name.as_deref().unwrap_or(&user.last_name);
        check_name("first_name", first, &mut errors);
        check_name("last_name", last, &mut errors);
        if !errors.is_empty() {
            return Err(UserChangeError::Invalid(errors));
        }
        let disabled = changes.disabled.unwrap_or(user.disabled);
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        if !db::account::update_user_profile(
            &mut *tx,
            id.0,
            (first.trim(), last.trim()),
            disabled,
            now,
        )
        .await?
        {
            return Err(UserChangeError::Unknown);
        }
        let ended = if disabled && !user.disabled {
            let which = Which::AllOf {
                realm: Realm::Client,
                subject_id: id.0,
                except: None,
            };
            let ended =
                crate::session::ending::end_in(&mut tx, which, EndReason::Revoked, now).await?;
            ended.own + ended.as_client
        } else {
            0
        };
        let mut said = Vec::new();
        if first.trim() != user.first_name || last.trim() != user.last_name {
            said.push("name changed".to_owned());
        }
        if disabled != user.disabled {
            said.push(if disabled {
                format!("disabled ({ended} sessions ended)")
            } else {
                "enabled".to_owned()
            });
        }
        if said.is_empty() {
            said.push("nothing changed".to_owned());
        }
        crate::audit::record(
            &mut *tx,
            now,
            actor,
            Action::UserUpdated,
            format!("user:{}", id.0),
            &format!("{}: {} {how}", user.email, said.join(", ")),
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Stores `hash`, a password hash from another system, as user `id`'s password, as
    /// `actor`; recorded as `user.password_hash_imported` (the format, never the hash). Returns
    /// the format's name.
    ///
    /// # Errors
    /// [`UserChangeError::Unknown`], [`UserChangeError::Invalid`] (field `password_hash`) for
    /// a format Portcullis does not verify, or storage errors.
    pub async fn import_password_hash_as(
        &self,
        actor: &Actor,
        how: &str,
        id: UserId,
        hash: &str,
    ) -> Result<&'static str, UserChangeError> {
        let hash = hash.trim();
        let format = match current_format(hash) {
            HashFormat::Bcrypt if hash.len() == 60 => "bcrypt",
            HashFormat::WhmcsMd5 => "WHMCS md5:salt",
            HashFormat::Argon2 => {
                return Err(invalid_hash(
                    "An Argon2 hash from another system cannot be verified here: Portcullis keys its Argon2 hashes with this installation's pepper. Let the person reset their password instead.",
                ));
            }
            HashFormat::Bcrypt | HashFormat::Unknown => {
                return Err(invalid_hash(
                    "Not a password hash Portcullis verifies: give a bcrypt hash ($2y$, $2a$ or $2b$, 60 characters) or WHMCS's md5:salt.",
                ));
            }
        };
        let user = db::account::find_user_by_id(&self.db, id.0)
            .await?
            .ok_or(UserChangeError::Unknown)?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        db::account::update_user_password(&mut *tx, id.0, hash, now).await?;
        crate::audit::record(
            &mut *tx,
            now,
            actor,
            Action::UserPasswordHashImported,
            format!("user:{}", id.0),
            &format!(
                "{}: a {format} hash imported {how}; it becomes Argon2id at the first sign-in",
                user.email
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(format)
    }
}

fn invalid_hash(message: &str) -> UserChangeError {
    UserChangeError::Invalid(vec![FieldError::new("password_hash", message)])
}
