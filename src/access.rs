//! Who is behind a live session, and what they may do: the reads the web layer's gates
//! (`CurrentAdmin`, `CurrentClient`, `RequirePermission`) make on every request.
//!
//! A session whose account is gone or disabled is ended here (reason `revoked`), as is a
//! "login as client" session whose admin may no longer be there, so the gates only decide where
//! the browser goes next. A refused admin permission is recorded here (`access.denied`, F08).
//! Loading and ending sessions themselves is `crate::session`.

use crate::app::AppState;
use crate::auth::permission::{Permission, PermissionSet};
use crate::db;
use crate::domain::{Action, Actor, AdminId};
use crate::session::{EndReason, Session, Sessions, Which};

pub use crate::db::account::{AdminRow, UserRow};
pub use crate::db::client::Membership;

/// The admin behind an admin session.
#[derive(Debug)]
pub enum AdminAccess {
    /// Enabled, with what their role grants.
    Allowed {
        admin: AdminRow,
        permissions: PermissionSet,
    },
    /// The admin is gone or disabled: the session has just been ended.
    Ended,
}

/// An enabled client-area user behind a session.
#[derive(Debug)]
pub struct ClientUser {
    /// The user, without their password hash (`None` here whatever is stored: sessions held in
    /// memory do not keep it; `TwoFactor::step_up` reads it when it is needed).
    pub user: UserRow,
    /// Their place in the session's active account, if they still belong to it.
    pub membership: Option<Membership>,
    /// During "login as client": the admin's username.
    pub impersonator: Option<String>,
}

/// The person behind a client session.
#[derive(Debug)]
pub enum ClientAccess {
    /// Enabled (boxed: the other answers carry nothing).
    Allowed(Box<ClientUser>),
    /// The user is gone or disabled: the session has just been ended.
    Ended,
    /// The admin behind the session was disabled, deleted or lost `login_as_client`: the
    /// session has just been ended.
    ImpersonatorGone,
}

/// The access service.
#[derive(Clone)]
pub struct Access {
    db: db::Pool,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    sessions: Sessions,
    impersonation: crate::impersonation::Impersonation,
}

impl From<&AppState> for Access {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            sessions: Sessions::from(state),
            impersonation: crate::impersonation::Impersonation::from(state),
        }
    }
}

impl Access {
    /// The admin of an admin session, ending the session if they are gone or disabled.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn admin(&self, session: &Session) -> Result<AdminAccess, sqlx::Error> {
        match db::account::find_admin_by_id(&self.db, session.subject_id).await? {
            Some(admin) if !admin.disabled => {
                let permissions = db::role::permissions(&self.db, admin.role_id).await?;
                Ok(AdminAccess::Allowed { admin, permissions })
            }
            _ => {
                self.revoke(session).await?;
                Ok(AdminAccess::Ended)
            }
        }
    }

    /// The user of a client session and their active account, ending the session if the user
    /// is gone or disabled, or if the admin behind a "login as client" session may no longer
    /// be there (re-checked on every request, so taking the permission away takes effect now).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn client(&self, session: &Session) -> Result<ClientAccess, sqlx::Error> {
        // Read with the session by the pipeline; asked again only for a session started during
        // this request or whose user was not found.
        let found = match &session.client_user {
            Some(known) => Some((*known.0).clone()),
            None => self.unread_client_user(session).await?,
        };
        let (user, membership) = match found {
            Some((user, membership)) if !user.disabled => (user, membership),
            _ => {
                self.revoke(session).await?;
                return Ok(ClientAccess::Ended);
            }
        };
        let mut impersonator = None;
        if let Some(admin) = session.impersonator() {
            impersonator = self.impersonation.admin_behind(admin).await?;
            if impersonator.is_none() {
                self.revoke(session).await?;
                return Ok(ClientAccess::ImpersonatorGone);
            }
        }
        Ok(ClientAccess::Allowed(Box::new(ClientUser {
            user,
            membership,
            impersonator,
        })))
    }

    /// Records that `admin` was refused a page for lack of `missing` (`access.denied`, with the
    /// request's address and user agent) and returns who could grant it. Never fails: the
    /// refusal must be answered whatever the database does.
    pub async fn denied(&self, admin: &AdminRow, missing: Permission, path: &str) -> Vec<String> {
        let granters = db::role::granters(&self.db).await.unwrap_or_default();
        let detail = format!(
            "{} ({}) lacks {}",
            admin.username,
            admin.role_name,
            missing.as_str()
        );
        let actor = Actor::Admin(AdminId(admin.id));
        let recorded = crate::audit::record(
            &self.db,
            self.clock.unix(),
            &actor,
            Action::AccessDenied,
            path,
            &detail,
        )
        .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not audit an access denial");
        }
        granters
    }

    /// Ends a session whose account may no longer use it.
    async fn revoke(&self, session: &Session) -> Result<(), sqlx::Error> {
        self.sessions
            .end(Which::This(session), EndReason::Revoked)
            .await
            .map(|_| ())
    }

    /// The user and active account of a client session the pipeline did not read them with.
    async fn unread_client_user(
        &self,
        session: &Session,
    ) -> Result<Option<(UserRow, Option<Membership>)>, sqlx::Error> {
        let Some(mut user) = db::account::find_user_by_id(&self.db, session.subject_id).await?
        else {
            return Ok(None);
        };
        // As when read with the session (`db::client::session_with_user`): no password hash.
        user.password_hash = None;
        let membership = match session.client_id {
            Some(id) => db::client::membership(&self.db, user.id, id).await?,
            None => None,
        };
        Ok(Some((user, membership)))
    }
}
