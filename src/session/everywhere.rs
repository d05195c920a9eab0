//! Signing a person out everywhere, on the operator's word: `portcullis user sign-out` and
//! `portcullis admin sign-out` (a stolen laptop, a departing employee). Every live session of the
//! person ends (reason `revoked`), the applications they signed in to are told (through
//! `ending::end_in`), and one `session.ended` entry names who did it and how many ended. Nodes
//! refuse the sessions within a second (`session::cache`).

use super::{EndReason, Realm, Sessions, Which, ending::end_in};
use crate::db;
use crate::domain::{Action, Actor};

/// The person to sign out, as the operator names them.
#[derive(Debug, Clone, Copy)]
pub enum Person<'a> {
    /// A client-area user by email address.
    Client(&'a str),
    /// An admin by username.
    Admin(&'a str),
}

/// Why nobody was signed out.
#[derive(Debug, thiserror::Error)]
pub enum SignOutError {
    #[error("no such person")]
    Unknown,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl Sessions {
    /// Ends every live session of `person`, recorded as done by `actor`; how many ended.
    ///
    /// # Errors
    /// [`SignOutError::Unknown`] when nobody has that email address or username, or storage
    /// errors.
    pub async fn sign_out_everywhere(
        &self,
        person: Person<'_>,
        actor: &Actor,
    ) -> Result<u64, SignOutError> {
        let (realm, subject_id) = match person {
            Person::Client(email) => (
                Realm::Client,
                db::account::find_user_by_email(&self.db, email)
                    .await?
                    .map(|u| u.id),
            ),
            Person::Admin(username) => (
                Realm::Admin,
                db::account::find_admin_by_username(&self.db, username)
                    .await?
                    .map(|a| a.id),
            ),
        };
        let subject_id = subject_id.ok_or(SignOutError::Unknown)?;
        let now = self.clock.unix();
        let which = Which::AllOf {
            realm,
            subject_id,
            except: None,
        };
        let mut tx = self.db.begin().await?;
        let ended = end_in(&mut tx, which, EndReason::Revoked, now).await?;
        let count = ended.own + ended.as_client;
        if count > 0 {
            let detail = format!("revoked: signed out everywhere by the operator ({count})");
            crate::audit::record(
                &mut *tx,
                now,
                actor,
                Action::SessionEnded,
                Actor::of(realm, subject_id),
                &detail,
            )
            .await?;
        }
        tx.commit().await?;
        self.cache.forget_subject(realm, subject_id);
        Ok(count)
    }
}
