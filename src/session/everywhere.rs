//! Signing a person out on the operator's word: everywhere (`portcullis user sign-out`,
//! `portcullis admin sign-out`, the admin API: a stolen laptop, a departing employee) or from
//! one session (the admin API). The sessions end (reason `revoked`), the applications they
//! signed in to are told (through `ending::end_in`), and one `session.ended` entry names who
//! did it and how many ended. Nodes refuse the sessions within a second (`session::cache`).

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
    /// A client-area user by id (the admin API).
    User(crate::domain::UserId),
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
        let (realm, subject_id) = self.person(person).await?;
        let which = Which::AllOf {
            realm,
            subject_id,
            except: None,
        };
        self.revoke(
            (realm, subject_id),
            which,
            actor,
            "signed out everywhere by the operator",
        )
        .await
    }

    /// Ends the one live session of `person` whose id hash is `target`, recorded as done by
    /// `actor`; whether it was live (a hash of someone else's session ends nothing).
    ///
    /// # Errors
    /// As [`Sessions::sign_out_everywhere`].
    pub async fn sign_out_one(
        &self,
        person: Person<'_>,
        target: &str,
        actor: &Actor,
    ) -> Result<bool, SignOutError> {
        let (realm, subject_id) = self.person(person).await?;
        let which = Which::Named {
            realm,
            subject_id,
            target,
        };
        let why = "one session ended by the operator";
        Ok(self.revoke((realm, subject_id), which, actor, why).await? > 0)
    }

    /// The realm and id of `person`.
    async fn person(&self, person: Person<'_>) -> Result<(Realm, i64), SignOutError> {
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
            Person::User(id) => (
                Realm::Client,
                db::account::find_user_by_id(&self.db, id.0)
                    .await?
                    .map(|u| u.id),
            ),
        };
        Ok((realm, subject_id.ok_or(SignOutError::Unknown)?))
    }

    /// Ends `which`, sessions of the person `realm` and `subject_id` name (reason `revoked`),
    /// and records it once with `why` and the count.
    async fn revoke(
        &self,
        (realm, subject_id): (Realm, i64),
        which: Which<'_>,
        actor: &Actor,
        why: &str,
    ) -> Result<u64, SignOutError> {
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let ended = end_in(&mut tx, which, EndReason::Revoked, now).await?;
        let count = ended.own + ended.as_client;
        if count > 0 {
            let detail = format!("revoked: {why} ({count})");
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
        match which {
            Which::Named { target, .. } => self.cache.forget_session(target),
            _ => self.cache.forget_subject(realm, subject_id),
        }
        Ok(count)
    }
}
