//! A client account's users besides its owner: listing them, inviting someone, setting what a
//! user may do in the account, and removing a user.
//!
//! Owns the rules: only the account's owner manages its users; an admin signed in as the owner
//! ("login as client") may list and remove users (recorded as the admin) but never invite or
//! change permissions, which would outlast the visit; an owner whose email address is not
//! confirmed invites nobody (README "Unconfirmed accounts"); nobody invites their own address;
//! the permissions given are named ones. It writes `account.user_invited` (through `invite`),
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
    /// An admin signed in as the owner ("login as client") may not give anyone access: an
    /// invitation or a permission outlives the visit and would be a door back in.
    #[error(
        "You are signed in as this client: inviting users and changing their permissions give access that outlasts your visit, so only {label}'s owner can do it, signed in themselves."
    )]
    Impersonated { label: String },
    /// The owner has not confirmed their email address yet: until they do, the account may
    /// belong to someone who registered another person's address first.
    #[error(
        "Confirm your email address first: inviting users to {label} needs a confirmed address. Use the link we sent you, or send it again from the client area."
    )]
    Unconfirmed { label: String },
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

    /// The account `by` owns, if they act for themselves: no "login as client" (see
    /// [`MemberError::Impersonated`]).
    fn owned_in_person(by: &Manager) -> Result<ClientId, MemberError> {
        let client = Self::owned(by)?;
        if by.impersonator.is_some() {
            return Err(MemberError::Impersonated {
                label: by.label.clone(),
            });
        }
        Ok(client)
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
    /// Not the owner, an admin signed in as the owner, an unknown permission, `user` not a
    /// user of the account, or storage errors.
    pub async fn set_permissions(
        &self,
        by: &Manager,
        user: UserId,
        permissions: &[&str],
    ) -> Result<(), MemberError> {
        let client = Self::owned_in_person(by)?;
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

    /// Removes `user` from `by`'s account. Allowed during "login as client": it takes access
    /// away and gives none (support removing a departed employee at the owner's request).
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
    /// Only the owner in person ([`MemberError::Impersonated`]) with a confirmed email
    /// address ([`MemberError::Unconfirmed`]) invites.
    ///
    /// # Errors
    /// Not the owner, an admin signed in as the owner, an unconfirmed owner, a bad address or
    /// the owner's own, storage or unexpected errors.
    pub async fn invite(&self, by: &Manager, email: &str) -> Result<(), MemberError> {
        let client = Self::owned_in_person(by)?;
        let confirmed = db::account::find_user_by_id(&self.db, by.user.get())
            .await?
            .is_some_and(|u| u.email_verified_at.is_some());
        if !confirmed {
            return Err(MemberError::Unconfirmed {
                label: by.label.clone(),
            });
        }
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

/// What a reclaim undid (see [`reclaim_in`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Users removed from the accounts the user owns.
    pub members: u64,
    /// Unused invitations to those accounts that were revoked.
    pub invitations: u64,
}

/// A completed password reset proves the address: if the user's email was not confirmed yet,
/// whoever set the account up may not have been its owner (someone can register another
/// person's address first, README "Unconfirmed accounts"). So, inside the reset's transaction:
/// the address becomes confirmed, every other user of the accounts the user owns is removed,
/// their unused invitations are revoked and every second factor is removed (a squatter's
/// authenticator app would otherwise keep the real owner out, or let the squatter back in);
/// the reset itself ends every session. Recorded as `account.reclaimed`. Returns `None` for a
/// user whose address was already confirmed: nothing changes for them.
///
/// # Errors
/// Storage errors.
pub async fn reclaim_in(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    user: UserId,
    now: i64,
) -> Result<Option<Reclaimed>, sqlx::Error> {
    let Some(found) = db::account::find_user_by_id(&mut **tx, user.get()).await? else {
        return Ok(None);
    };
    if found.email_verified_at.is_some() {
        return Ok(None);
    }
    let mut undone = Reclaimed::default();
    let owned: Vec<i64> = db::client::memberships(&mut **tx, user.get())
        .await?
        .into_iter()
        .filter(|m| m.is_owner)
        .map(|m| m.client_id)
        .collect();
    for &client in &owned {
        for member in db::client::members(&mut **tx, client).await? {
            if db::client::remove_member(&mut **tx, client, member.user_id).await? {
                undone.members += 1;
            }
        }
        undone.invitations += db::one_time_token::revoke_data_prefix(
            &mut **tx,
            crate::invite::USER_PURPOSE,
            &format!("{client}:"),
            now,
        )
        .await?;
    }
    db::two_factor::remove_all(tx, crate::session::Realm::Client.as_str(), user.get()).await?;
    db::account::mark_verified(&mut **tx, user.get(), now).await?;
    let actor = Actor::User(user);
    let detail = format!(
        "unconfirmed address proved by a password reset: address confirmed, {} user(s) removed, {} invitation(s) revoked, second factors removed",
        undone.members, undone.invitations
    );
    crate::audit::record(
        &mut **tx,
        now,
        &actor,
        Action::AccountReclaimed,
        &actor,
        &detail,
    )
    .await?;
    Ok(Some(undone))
}
