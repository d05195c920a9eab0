//! A client account's users besides its owner: listing them, inviting someone, setting what a
//! user may do in the account, and removing a user.
//!
//! Owns the rules: only the account's owner manages its users (an admin signed in as the owner
//! acts as the owner, and is recorded as the admin); nobody invites their own address; the
//! permissions given are named ones. It writes `account.user_invited` (through `invite`),
//! `account.permissions_changed` and `account.user_removed`.
//!
//! Not here: accepting an invitation (`invite`), the permissions themselves
//! (`auth::client_permission`), transferring ownership. Pages reach it as the `Members`
//! sub-state and describe the person acting with a [`Manager`].

use crate::account::{self, FieldError};
use crate::app::AppState;
use crate::auth::client_permission::ClientPermissions;
use crate::clock::Clock;
use crate::db;
use crate::domain::{Action, Actor, AdminId, ClientId, UserId};
use crate::invite::{Invitation, Invitations, SendError};
use std::sync::Arc;

/// The person managing an account's users, as the request's gate found them.
#[derive(Debug, Clone)]
pub struct Manager {
    /// The signed-in user (the client, during "login as client").
    pub user: UserId,
    pub email: String,
    /// First and last name, as the invitation's email names the inviter.
    pub name: String,
    /// The admin signed in as the user, if any.
    pub impersonator: Option<AdminId>,
    /// The active account, its label, and whether `user` owns it.
    pub client: ClientId,
    pub label: String,
    pub is_owner: bool,
}

impl Manager {
    /// Who the audit log says did it: the admin during "login as client", else the user.
    pub fn actor(&self) -> Actor {
        match self.impersonator {
            Some(admin) => Actor::Admin(admin),
            None => Actor::User(self.user),
        }
    }

    /// During "login as client", the user the admin is signed in as (whom entries name in
    /// their detail).
    pub fn signed_in_as(&self) -> Option<UserId> {
        self.impersonator.map(|_| self.user)
    }

    /// An audit detail, noting whom the admin was signed in as during "login as client".
    pub fn detail(&self, detail: &str) -> String {
        match self.signed_in_as() {
            Some(user) => format!("{detail} (signed in as {})", Actor::User(user)),
            None => detail.to_owned(),
        }
    }
}

/// A user of the account besides its owner.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: UserId,
    pub email: String,
    pub name: String,
    pub permissions: ClientPermissions,
}

/// Why a change to an account's users was refused.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// Only the owner manages the account's users.
    #[error("Only the owner of {label} can manage its users. Ask the owner.")]
    NotOwner { label: String },
    /// The user is not one of the account's (any more).
    #[error("not a user of this account")]
    NotMember,
    /// A form field that names no permission (a stale or forged form).
    #[error("There is no permission called {0:?}. Reload the page and try again.")]
    UnknownPermission(String),
    /// Problems with an invitation's address, per field.
    #[error("{}", crate::account::FieldError::list(.0))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    /// An invitation's secret or email could not be made.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<SendError> for MemberError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Storage(e) => Self::Storage(e),
            SendError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

fn invalid(message: impl Into<String>) -> MemberError {
    MemberError::Invalid(vec![FieldError::new("email", message)])
}

/// The account users service.
#[derive(Clone)]
pub struct Members {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    invitations: Invitations,
}

impl From<&AppState> for Members {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            invitations: Invitations::from(state),
        }
    }
}

impl Members {
    /// The account `by` manages, if they own it.
    fn owned(by: &Manager) -> Result<ClientId, MemberError> {
        if by.is_owner {
            Ok(by.client)
        } else {
            Err(MemberError::NotOwner {
                label: by.label.clone(),
            })
        }
    }

    /// The users of `by`'s account besides its owner.
    ///
    /// # Errors
    /// `by` does not own the account, or storage errors.
    pub async fn list(&self, by: &Manager) -> Result<Vec<Member>, MemberError> {
        let client = Self::owned(by)?;
        Ok(db::client::members(&self.db, client.get())
            .await?
            .into_iter()
            .map(|m| Member {
                user: UserId(m.user_id),
                email: m.email,
                name: m.name,
                permissions: ClientPermissions::parse(&m.permissions),
            })
            .collect())
    }

    /// Sets what `user` may do in `by`'s account to the permissions named by `permissions`
    /// (the form's checkboxes).
    ///
    /// # Errors
    /// Not the owner, an unknown permission, `user` not a user of the account, or storage
    /// errors.
    pub async fn set_permissions(
        &self,
        by: &Manager,
        user: UserId,
        permissions: &[&str],
    ) -> Result<(), MemberError> {
        let client = Self::owned(by)?;
        let granted = ClientPermissions::from_names(permissions.iter().copied())
            .map_err(MemberError::UnknownPermission)?;
        let stored = granted.to_stored();
        let mut tx = self.db.begin().await?;
        if !db::client::set_permissions(&mut *tx, client.get(), user.get(), &stored).await? {
            return Err(MemberError::NotMember);
        }
        let detail = by.detail(&stored);
        self.audit(
            &mut tx,
            by,
            Action::AccountPermissionsChanged,
            user,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes `user` from `by`'s account.
    ///
    /// # Errors
    /// Not the owner, `user` not a user of the account, or storage errors.
    pub async fn remove(&self, by: &Manager, user: UserId) -> Result<(), MemberError> {
        let client = Self::owned(by)?;
        let mut tx = self.db.begin().await?;
        if !db::client::remove_member(&mut *tx, client.get(), user.get()).await? {
            return Err(MemberError::NotMember);
        }
        let detail = by.detail("removed from the account");
        self.audit(&mut tx, by, Action::AccountUserRemoved, user, &detail)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Invites `email` to share `by`'s account; the link travels by email.
    ///
    /// # Errors
    /// Not the owner, a bad address or the owner's own, storage or unexpected errors.
    pub async fn invite(&self, by: &Manager, email: &str) -> Result<(), MemberError> {
        let client = Self::owned(by)?;
        let email = email.trim();
        if let Some(m) = account::check_email(email) {
            return Err(invalid(m));
        }
        if email.eq_ignore_ascii_case(&by.email) {
            return Err(invalid("That is your own address."));
        }
        let invitation = Invitation::Member {
            client,
            email,
            inviter: &by.name,
        };
        let detail = by.detail(&format!("invited {email}"));
        self.invitations
            .send(invitation, &by.actor(), &detail)
            .await?;
        tracing::info!(
            client_id = client.get(),
            owner = by.user.get(),
            "client account invitation queued"
        );
        Ok(())
    }

    /// Records a change to `user`'s place in `by`'s account; the request's address and user
    /// agent come from `request_origin::with_origin`.
    async fn audit(
        &self,
        tx: &mut sqlx::Transaction<'static, db::Db>,
        by: &Manager,
        action: Action,
        user: UserId,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        crate::audit::record(
            &mut **tx,
            self.clock.unix(),
            &by.actor(),
            action,
            Actor::Member(user, by.client),
            detail,
        )
        .await
    }
}
