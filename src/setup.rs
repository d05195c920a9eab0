//! The first-admin setup link: while no admin exists, `serve` prints a one-time link that
//! creates the first administrator (a Full Administrator). Each works once, for an hour.
//!
//! Several nodes may start on one database: a node that finds a link still outstanding (unused,
//! unexpired) leaves it alone and says when it was printed ([`SetupLink::Outstanding`]), so
//! starting a second node never invalidates the first node's link. The link's token is stored
//! only as a hash, so no node can print it again; [`Setup::link_if_needed`] (the tests' and an
//! operator's explicit "new link") replaces it.
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

/// What `serve` finds at start-up about the setup link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupLink {
    /// An admin exists: no link is needed.
    NotNeeded,
    /// A new link, just stored (as a hash): print it.
    New(String),
    /// A link printed earlier (by another node, or an earlier start) is still usable; it is
    /// left alone. Times as people read them, in the configured timezone.
    Outstanding {
        printed_at: String,
        expires_at: String,
    },
}

impl SetupLink {
    /// What `serve` prints, if anything.
    pub fn message(&self) -> Option<String> {
        match self {
            Self::NotNeeded => None,
            Self::New(link) => Some(format!(
                "No admin exists yet. Create the first one within the next hour at:\n\n    {link}\n\n(or run `portcullis admin create`). The link works once."
            )),
            Self::Outstanding {
                printed_at,
                expires_at,
            } => Some(format!(
                "No admin exists yet. A one-time setup link was already printed at {printed_at} (by another node, or an earlier start of this one); it works until {expires_at}. Use that link, or run `portcullis admin create`. It is stored only as a hash, so it cannot be shown again; a node started after {expires_at} prints a new one."
            )),
        }
    }
}

/// The first-admin setup service.
#[derive(Clone)]
pub struct Setup {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    system_url: crate::config::SystemUrl,
    invitations: Invitations,
    /// The configured timezone, for when an outstanding link was printed.
    settings: crate::settings::Settings,
}

impl From<&AppState> for Setup {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            system_url: state.config.system_url.clone(),
            invitations: Invitations::from(state),
            settings: crate::settings::Settings::from(state),
        }
    }
}

impl Setup {
    /// At `serve`'s start: a new link when no admin exists and no link is outstanding; the
    /// outstanding link's times when one is (it stays valid); nothing once an admin exists.
    /// Two nodes starting at once may each store a link; both then work (the first used
    /// creates the admin, after which neither does anything).
    ///
    /// # Errors
    /// Storage errors, or the link's secret could not be made.
    pub async fn announce(&self) -> anyhow::Result<SetupLink> {
        if db::account::count_admins(&self.db).await? > 0 {
            return Ok(SetupLink::NotNeeded);
        }
        let now = self.clock.unix();
        let purpose = Link::Setup.purpose();
        if let Some((created, expires)) =
            db::one_time_token::outstanding(&self.db, purpose, now).await?
        {
            return Ok(SetupLink::Outstanding {
                printed_at: self.settings.show_time(created),
                expires_at: self.settings.show_time(expires),
            });
        }
        let token = crate::token::generate()?;
        db::one_time_token::insert(
            &self.db,
            &token.hash,
            purpose,
            None,
            now,
            now + SETUP_LIFETIME,
        )
        .await?;
        Ok(SetupLink::New(
            self.system_url.join(&Link::Setup.path(&token.plain)),
        ))
    }

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
