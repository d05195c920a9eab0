//! Changing a signed-in person's password, for both realms: the current password is checked,
//! the realm's policy applied, and every other session of theirs ends in the same transaction
//! as the change and its audit entry.

use super::{Accounts, CreateError, FieldError, check_password, hash_error, policy};
use crate::db;
use crate::domain::{Action, Actor, Realm};
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
        let (stored, inputs) = match session.realm {
            Realm::Client => {
                let user = db::account::find_user_by_id(&self.db, session.subject_id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the signed-in user no longer exists"))?;
                let inputs = vec![user.email, user.first_name, user.last_name];
                (user.password_hash, inputs)
            }
            Realm::Admin => {
                let admin = db::account::find_admin_by_id(&self.db, session.subject_id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the signed-in admin no longer exists"))?;
                let inputs = vec![admin.username, admin.email];
                (Some(admin.password_hash), inputs)
            }
        };
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let mut errors = Vec::new();
        check_password(
            &policy(&self.config, session.realm),
            new,
            &inputs,
            &mut errors,
        );
        let verified = self
            .hasher
            .verify(current.clone(), stored)
            .await
            .map_err(hash_error)?;
        if !matches!(verified, Verification::Match { .. }) {
            errors.insert(
                0,
                FieldError {
                    field: "current_password",
                    message: "This is not your current password.".into(),
                },
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
        let ended = db::session::end_all_for_subject(
            &mut *tx,
            session.realm.as_str(),
            session.subject_id,
            Some(&session.id_hash),
            crate::session::EndReason::PasswordChanged.as_str(),
            now,
        )
        .await?;
        let actor = Actor::of(session.realm, session.subject_id).to_string();
        db::audit::insert(
            &mut *tx,
            now,
            &db::audit::Entry {
                actor: &actor,
                action: Action::PasswordChanged.as_str(),
                subject: &actor,
                detail: &format!("{ended} other session(s) ended"),
                // The request's address and user agent (request_origin::with_origin), not those the
                // session signed in with.
                ip: "",
                user_agent: "",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }
}
