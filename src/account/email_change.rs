//! An email change takes effect on confirmation and can be undone from the old address (issue
//! 18, item 7; ASVS 2.5.x recovery, 2.2.3 notices).
//!
//! [`Accounts::change_email`] only stores two one-time tokens (hashed at rest, like every link):
//! `email_change` (to the new address, carrying it) and `email_revert` (to the old one, carrying
//! it, for a week). Confirming swaps the address in; undoing puts the old one back (or cancels the
//! pending change), signs every session out and cancels reset links, because whoever asked for
//! the change held a session and knew the password.

use super::email::{CHANGE_PURPOSE, REVERT_PURPOSE};
use super::{Accounts, ConfirmError, LinkState};
use crate::db;
use crate::domain::{Realm, UserId};
use crate::session::EndReason;
use crate::session::ending::{Which, end_in};

/// Why an email change was not undone.
#[derive(Debug, thiserror::Error)]
pub enum RevertError {
    /// Unknown, expired or used (never `Valid`): the page says which.
    #[error("this link cannot be used")]
    Link(LinkState),
    /// The old address belongs to another account now, so it cannot come back.
    #[error(
        "Another account uses {0} now, so it cannot be restored. Every session of yours was still signed out; reset your password from your current address, or contact support."
    )]
    Taken(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// What undoing a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reverted {
    /// The address the account has again.
    pub email: String,
}

impl Accounts {
    /// Makes a confirmed change: the link is used up, the new address replaces the old one and
    /// is marked confirmed, other pending changes and every reset link end, together.
    pub(super) async fn confirm_change(
        &self,
        token: &str,
        state: LinkState,
        now: i64,
    ) -> Result<UserId, ConfirmError> {
        let LinkState::Valid {
            subject_id: Some(user_id),
        } = state
        else {
            return Err(ConfirmError::Link(state));
        };
        let hash = crate::token::hash(token);
        let new_email = db::one_time_token::data(&self.db, &hash, CHANGE_PURPOSE)
            .await?
            .unwrap_or_default();
        let mut tx = self.db.begin().await?;
        if !db::one_time_token::consume(&mut *tx, &hash, CHANGE_PURPOSE, now).await? {
            // Lost a race with another tab following the same link.
            return Err(ConfirmError::Link(LinkState::Used { at: now }));
        }
        if let Some(other) = db::account::find_user_by_email(&mut *tx, &new_email).await?
            && other.id != user_id
        {
            return Err(ConfirmError::Taken(new_email));
        }
        match db::account::update_user_email(&mut *tx, user_id, &new_email, now).await {
            Err(e) if db::account::is_unique_violation(&e) => {
                return Err(ConfirmError::Taken(new_email));
            }
            other => other?,
        }
        db::account::mark_verified(&mut *tx, user_id, now).await?;
        db::one_time_token::revoke_subject(&mut *tx, CHANGE_PURPOSE, user_id, now).await?;
        // A reset link mailed to the old address must not outlive the change (item 4).
        crate::reset::revoke_links(&mut tx, Realm::Client, user_id, now).await?;
        tx.commit().await?;
        tracing::info!(user_id, "email address change confirmed");
        Ok(UserId(user_id))
    }

    /// The state of an undo link, for the page that asks before undoing.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn revert_state(&self, token: &str) -> Result<LinkState, sqlx::Error> {
        if !crate::token::looks_valid(token) {
            return Ok(LinkState::Unknown);
        }
        db::one_time_token::state(
            &self.db,
            &crate::token::hash(token),
            REVERT_PURPOSE,
            self.clock.unix(),
        )
        .await
    }

    /// The address an undo link restores (shown on the page before undoing).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn revert_address(&self, token: &str) -> Result<String, sqlx::Error> {
        Ok(
            db::one_time_token::data(&self.db, &crate::token::hash(token), REVERT_PURPOSE)
                .await?
                .unwrap_or_default(),
        )
    }

    /// Undoes an email change from the link the old address got: the old address is the
    /// account's (confirmed: its owner just followed a link sent there) and a pending change is
    /// cancelled; every session ends and every reset link is cancelled, in one transaction.
    ///
    /// # Errors
    /// `Link` for a link that cannot be used, `Taken` when another account has the old
    /// address now (sessions still end), storage errors.
    pub async fn revert_email(&self, token: &str) -> Result<Reverted, RevertError> {
        let state = self.revert_state(token).await?;
        let LinkState::Valid {
            subject_id: Some(user_id),
        } = state
        else {
            return Err(RevertError::Link(state));
        };
        let now = self.clock.unix();
        let hash = crate::token::hash(token);
        let old_email = db::one_time_token::data(&self.db, &hash, REVERT_PURPOSE)
            .await?
            .unwrap_or_default();
        let mut tx = self.db.begin().await?;
        if !db::one_time_token::consume(&mut *tx, &hash, REVERT_PURPOSE, now).await? {
            return Err(RevertError::Link(LinkState::Used { at: now }));
        }
        db::one_time_token::revoke_subject(&mut *tx, CHANGE_PURPOSE, user_id, now).await?;
        let everyone = Which::AllOf {
            realm: Realm::Client,
            subject_id: user_id,
            except: None,
        };
        end_in(&mut tx, everyone, EndReason::Revoked, now).await?;
        crate::reset::revoke_links(&mut tx, Realm::Client, user_id, now).await?;
        let current = db::account::find_user_by_id(&mut *tx, user_id).await?;
        let address_taken = match current {
            Some(user) if !user.email.eq_ignore_ascii_case(&old_email) => {
                match db::account::find_user_by_email(&mut *tx, &old_email).await? {
                    Some(other) if other.id != user_id => true,
                    _ => {
                        db::account::update_user_email(&mut *tx, user_id, &old_email, now).await?;
                        false
                    }
                }
            }
            _ => false,
        };
        if !address_taken {
            db::account::mark_verified(&mut *tx, user_id, now).await?;
        }
        tx.commit().await?;
        tracing::info!(
            user_id,
            address_taken,
            "email address change undone from the old address"
        );
        if address_taken {
            return Err(RevertError::Taken(old_email));
        }
        Ok(Reverted { email: old_email })
    }
}
