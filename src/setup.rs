//! The first-admin setup link: while no admin exists, `serve` prints a one-time link that
//! creates the first administrator (a Full Administrator). A new link replaces the old one; each
//! works once, for an hour.
//!
//! Owns issuing the link. Checking and accepting it go through the one accept path of
//! `invite` (the link grants [`crate::invite::Grant::FirstAdmin`]). Not here: the form
//! (`web/admin/setup.rs`), creating the admin account (`account`).

use crate::account::NewAdmin;
use crate::app::AppState;
use crate::clock::Clock;
use crate::db;
use crate::domain::AdminId;
use crate::invite::{AcceptError, Accepted, Invitations, Link, Taker, TokenState};
use std::sync::Arc;

/// How long the first-admin setup link stays valid.
pub const SETUP_LIFETIME: i64 = 3600;

/// The first-admin setup service.
#[derive(Clone)]
pub struct Setup {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    system_url: crate::config::SystemUrl,
    invitations: Invitations,
}

impl From<&AppState> for Setup {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            system_url: state.config.system_url.clone(),
            invitations: Invitations::from(state),
        }
    }
}

impl Setup {
    /// Issues a new first-admin setup link (invalidating any earlier one) when no admin exists.
    ///
    /// # Errors
    /// Storage errors, or the link's secret could not be made.
    pub async fn link_if_needed(&self) -> anyhow::Result<Option<String>> {
        if db::account::count_admins(&self.db).await? > 0 {
            return Ok(None);
        }
        let now = self.clock.unix();
        let token = crate::token::generate()?;
        let purpose = Link::Setup.purpose();
        let mut tx = self.db.begin().await?;
        db::one_time_token::revoke_purpose(&mut *tx, purpose, now).await?;
        db::one_time_token::insert(
            &mut *tx,
            &token.hash,
            purpose,
            None,
            now,
            now + SETUP_LIFETIME,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(self.system_url.join(&Link::Setup.path(&token.plain))))
    }

    /// Whether a presented setup link can be used, or why not.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn check(&self, token: &str) -> Result<Result<(), TokenState>, sqlx::Error> {
        Ok(self
            .invitations
            .check(Link::Setup, token)
            .await?
            .map(|_| ()))
    }

    /// Creates the first admin with a setup link; the link is consumed only on success.
    ///
    /// # Errors
    /// An unusable link, refused details (per field), or storage errors.
    pub async fn complete(&self, token: &str, new: &NewAdmin<'_>) -> Result<AdminId, AcceptError> {
        let taker = Taker::Admin {
            username: new.username,
            email: Some(new.email),
            password: new.password,
        };
        match self.invitations.accept(Link::Setup, token, taker).await? {
            Accepted::Admin(id) => Ok(id),
            Accepted::Member { .. } => Err(AcceptError::Link(TokenState::Unknown)),
        }
    }
}
