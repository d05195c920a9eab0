//! "Login as client": an admin signed in to the client area as an account's owner.
//!
//! Such a session is an ordinary client session with `impersonator_admin_id` set; nothing of
//! the owner's credentials is used or changed. This service starts it (recording
//! `impersonation.start`), ends it ("Return to admin", recorded as `impersonation.end` by
//! `session::end`, the one place sessions end), and answers, for every request of such a
//! session, whether the admin behind it may still be there. Both entries name their subject as
//! [`Actor::Impersonated`], so a start and its end always match. The gate (the admin's
//! `login_as_client` permission) is the web layer's; this service re-checks it on every request
//! because a role can change while the session lives.
//!
//! Starting needs a recent step-up of the admin's own session, and the client session is tied
//! to that admin session: it ends when the admin signs out, times out or has the session
//! ended elsewhere (`session::ending`, and `Sessions::load` for a timeout nobody noticed).
//! While it lives, the services refuse what would outlast it: `membership::Members` invites
//! no one and changes no permissions; the client's password, email address, second factors and
//! sessions are the client's own (refused by the client pages' gate).

use crate::app::AppState;
use crate::auth::permission::Permission;
use crate::db;
use crate::domain::{Action, Actor, AdminId, ClientId, UserId};
use crate::session::{EndReason, Realm, Session, SignIn, Started, Which};
use crate::twofactor::STEP_UP_SECONDS;
use std::net::IpAddr;

/// Why an admin could not sign in as a client.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No such client account (or its owner is gone).
    #[error("no such client account")]
    NoSuchAccount,
    /// The account's owner is disabled.
    #[error("{email} is disabled; enable the user first.")]
    OwnerDisabled { email: String },
    /// The admin's session has not stepped up within [`STEP_UP_SECONDS`].
    #[error("Signing in as a client needs a fresh confirmation that it is you. Confirm your password or a code on your Security page (/admin/account/security), then sign in as the client within {} minutes.", STEP_UP_SECONDS / 60)]
    StepUpNeeded,
    /// The session could not be stored.
    #[error(transparent)]
    NotStored(#[from] crate::session::StartError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why "Return to admin" did nothing.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    #[error("This is not an admin's session as a client.")]
    NotImpersonation,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// The admin starting an impersonation.
#[derive(Debug, Clone, Copy)]
pub struct By<'a> {
    pub admin: AdminId,
    pub username: &'a str,
    /// The id hash of the admin's own session: it must have stepped up recently, and the
    /// client session ends with it.
    pub session: &'a str,
    /// The request's address and user agent, for the new session.
    pub ip: IpAddr,
    pub user_agent: &'a str,
}

/// The "login as client" service.
#[derive(Clone)]
pub struct Impersonation {
    db: db::Pool,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    sessions: crate::session::Sessions,
}

impl From<&AppState> for Impersonation {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            sessions: crate::session::Sessions::from(state),
        }
    }
}

impl Impersonation {
    /// Starts a client session as `client`'s owner, marked with the admin, and records
    /// `impersonation.start`. The client's own sessions, anywhere, stay as they are, and the
    /// admin's browser keeps its admin session (another cookie).
    ///
    /// The admin's session must have stepped up (password or a current second factor on the
    /// Security page) within [`STEP_UP_SECONDS`] (ASVS 4.3.1's re-authentication before a
    /// sensitive administrative action): a session left open cannot be used to act as every
    /// client. The new session is tied to the admin's, and ends with it.
    ///
    /// # Errors
    /// [`StartError::StepUpNeeded`], [`StartError::NoSuchAccount`],
    /// [`StartError::OwnerDisabled`], or storage errors.
    pub async fn start(&self, by: By<'_>, client: ClientId) -> Result<Started, StartError> {
        let account = db::client::find(&self.db, client.get())
            .await?
            .ok_or(StartError::NoSuchAccount)?;
        let owner = db::account::find_user_by_id(&self.db, account.owner_id)
            .await?
            .ok_or(StartError::NoSuchAccount)?;
        if owner.disabled {
            return Err(StartError::OwnerDisabled { email: owner.email });
        }
        let stepped_up = db::session::stepped_up_at(&self.db, by.session).await?;
        if stepped_up.is_none_or(|at| self.clock.unix() - at > STEP_UP_SECONDS) {
            return Err(StartError::StepUpNeeded);
        }
        let started = self
            .sessions
            .start(SignIn {
                realm: Realm::Client,
                subject_id: owner.id,
                client_id: Some(client.get()),
                impersonator: Some(by.admin.get()),
                ip: by.ip,
                user_agent: by.user_agent,
                remember: false,
                // Nothing is ended: the client's own sessions stay as they are.
                replacing: None,
                second_factor: None,
            })
            .await?;
        self.sessions
            .link_to_admin_session(&started.session.id_hash, by.session)
            .await?;
        tracing::info!(
            admin_id = by.admin.get(),
            client_id = client.get(),
            "signed in as a client"
        );
        crate::audit::record_from(
            &self.db,
            self.clock.unix(),
            &Actor::Admin(by.admin),
            Action::ImpersonationStart,
            Actor::Impersonated(client, UserId(owner.id)),
            &format!("{} signed in as {}", by.username, owner.email),
            crate::audit::Origin {
                ip: &by.ip.to_string(),
                user_agent: by.user_agent,
            },
        )
        .await?;
        Ok(started)
    }

    /// "Return to admin": ends the impersonated session (recorded as `impersonation.end` by the
    /// admin) and returns the account it was in, whose admin page comes next.
    ///
    /// # Errors
    /// [`EndError::NotImpersonation`] for the client's own session, or storage errors.
    pub async fn end(&self, session: &Session) -> Result<ClientId, EndError> {
        if session.impersonator().is_none() {
            return Err(EndError::NotImpersonation);
        }
        self.sessions
            .end(Which::This(session), EndReason::Logout)
            .await?;
        Ok(ClientId(session.client_id.unwrap_or_default()))
    }

    /// The username of the admin behind an impersonated session, if that admin may still be
    /// there: enabled, and holding `login_as_client`. `None` means the session must end.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn admin_behind(&self, admin: AdminId) -> Result<Option<String>, sqlx::Error> {
        let Some(found) = db::account::find_admin_by_id(&self.db, admin.get()).await? else {
            return Ok(None);
        };
        if found.disabled {
            return Ok(None);
        }
        let permissions = db::role::permissions(&self.db, found.role_id).await?;
        Ok(permissions
            .contains(Permission::LoginAsClient)
            .then_some(found.username))
    }

    /// The admin's name for the impersonation banner; never fails, because the banner is drawn
    /// on error pages too (`admin #ID` when the name cannot be read).
    pub async fn admin_name(&self, admin: AdminId) -> String {
        match db::account::find_admin_by_id(&self.db, admin.get()).await {
            Ok(Some(a)) => a.username,
            _ => format!("admin #{admin}"),
        }
    }
}
