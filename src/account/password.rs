//! Changing a signed-in person's password, for both realms: the current password is checked,
//! the realm's policy applied, and every other session of theirs ends in the same transaction
//! as the change and its audit entry (through `session::ending`, the one place sessions end).

use super::{Accounts, CreateError, FieldError, check_password, hash_error, policy};
use crate::db;
use crate::domain::{Action, Actor, Realm};
use crate::session::EndReason;
use crate::session::ending::{Which, end_in};
use secrecy::SecretString;

impl Accounts {
    /// Changes a signed-in person's password after checking the current one, and ends every
    /// other session of theirs (reason `password_changed`): whoever knew the old password is
    /// signed out. Returns how many sessions ended.
    ///
    /// # Errors
    /// Field errors (`current_password`, `password`), `Busy`, or storage errors.
    pub async fn change_password(
        &self,
        session: &crate::session::Session,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<u64, CreateError> {
        use crate::auth::password::Verification;
        let holder = self
            .holder(session.realm, session.subject_id)
            .await?
            .ok_or_else(|| match session.realm {
                Realm::Client => anyhow::anyhow!("the signed-in user no longer exists"),
                Realm::Admin => anyhow::anyhow!("the signed-in admin no longer exists"),
            })?;
        let inputs: Vec<&str> = holder.inputs.iter().map(String::as_str).collect();
        let mut errors = Vec::new();
        check_password(
            &policy(&self.config, session.realm),
            new,
            &inputs,
            &mut errors,
        );
        let verified = self
            .hasher
            .verify(current.clone(), holder.password_hash)
            .await
            .map_err(hash_error)?;
        if !matches!(verified, Verification::Match { .. }) {
            errors.insert(
                0,
                FieldError::new("current_password", "This is not your current password."),
            );
        }
        if !errors.is_empty() {
            return Err(CreateError::Invalid(errors));
        }
        let hash = self.hash(new).await?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        match session.realm {
            Realm::Client => {
                db::account::update_user_password(&mut *tx, session.subject_id, &hash, now).await?;
            }
            Realm::Admin => {
                db::account::update_admin_password(&mut *tx, session.subject_id, &hash, now)
                    .await?;
            }
        }
        // Every other session of theirs; this one made the change and stays.
        let everyone_else = Which::AllOf {
            realm: session.realm,
            subject_id: session.subject_id,
            except: Some(&session.id_hash),
        };
        let ended = end_in(&mut tx, everyone_else, EndReason::PasswordChanged, now)
            .await?
            .own;
        let actor = Actor::of(session.realm, session.subject_id);
        // The request's address and user agent (db::audit::with_origin), not those the session
        // signed in with.
        crate::audit::record(
            &mut *tx,
            now,
            &actor,
            Action::PasswordChanged,
            &actor,
            &format!("{ended} other session(s) ended"),
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }
}
