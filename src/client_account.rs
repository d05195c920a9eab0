//! Client accounts as their users and staff handle them: the profile (company name), the
//! accounts a user belongs to and switching the active one, and for admins the list, one
//! account with its owner and users, and ownership transfer.
//!
//! Who may do these is decided by the caller's gate (the user's `profile` permission in the
//! account, an admin's permission); this service holds the rules that remain: the company
//! name's length, that a user can only switch to an account they belong to, and that ownership
//! only goes to a user of the account. Inviting and removing users and their permissions are
//! `crate::invite` and the users page's service, not here. "Login as client" is
//! `crate::impersonation`.

use crate::app::AppState;
use crate::auth::client_permission::ClientPermissions;
use crate::db;
use crate::domain::{Action, Actor, AdminId, ClientId, UserId};
use crate::session::Session;

pub use crate::db::account::UserRow;
pub use crate::db::client::{ClientRow, Member, Membership};

/// The longest company name, in characters.
pub const COMPANY_NAME_MAX: usize = 120;
/// At most this many accounts are listed for staff.
pub const LIST_LIMIT: i64 = 200;

/// Why a profile change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("The company name can be at most 120 characters.")]
    NameTooLong,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why switching accounts was refused.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("You do not belong to that account. Ask its owner to invite you.")]
    NotMember,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why ownership did not move.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("Ownership can only go to a user of this account. Have the owner invite them first.")]
    NotAUser,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// One account as staff see it: the account, its owner and its other users.
#[derive(Debug, Clone)]
pub struct Overview {
    pub client: ClientRow,
    pub owner: UserRow,
    pub members: Vec<Member>,
}

/// The client accounts service.
#[derive(Clone)]
pub struct ClientAccounts {
    db: db::Pool,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    sessions: crate::session::Sessions,
}

impl From<&AppState> for ClientAccounts {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            sessions: crate::session::Sessions::from(state),
        }
    }
}

impl ClientAccounts {
    /// One account.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn find(&self, client: ClientId) -> Result<Option<ClientRow>, sqlx::Error> {
        db::client::find(&self.db, client.get()).await
    }

    /// Sets the account's company name (trimmed; empty means "use the owner's name").
    ///
    /// # Errors
    /// [`ProfileError::NameTooLong`] beyond [`COMPANY_NAME_MAX`] characters, or storage errors.
    pub async fn set_company_name(&self, client: ClientId, name: &str) -> Result<(), ProfileError> {
        let name = name.trim();
        if name.chars().count() > COMPANY_NAME_MAX {
            return Err(ProfileError::NameTooLong);
        }
        db::client::set_company_name(&self.db, client.get(), name).await?;
        Ok(())
    }

    /// Every account the user can use, owned ones first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn memberships(&self, user: UserId) -> Result<Vec<Membership>, sqlx::Error> {
        db::client::memberships(&self.db, user.get()).await
    }

    /// Makes another of the user's accounts the session's active one. The session id stays:
    /// the user gains nothing they did not hold at sign-in, and a new id would sign out their
    /// other tabs.
    ///
    /// # Errors
    /// [`SwitchError::NotMember`] for an account the user does not belong to, or storage errors.
    pub async fn switch(
        &self,
        session: &Session,
        user: UserId,
        client: ClientId,
    ) -> Result<(), SwitchError> {
        if db::client::membership(&self.db, user.get(), client.get())
            .await?
            .is_none()
        {
            return Err(SwitchError::NotMember);
        }
        self.sessions.set_client(session, client).await?;
        Ok(())
    }

    /// Accounts whose owner's email or name or whose company contains `search` (all when
    /// empty), newest first, at most [`LIST_LIMIT`].
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self, search: &str) -> Result<Vec<ClientRow>, sqlx::Error> {
        db::client::list(&self.db, search, LIST_LIMIT).await
    }

    /// One account with its owner and users, for staff; `None` when either is gone.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn overview(&self, client: ClientId) -> Result<Option<Overview>, sqlx::Error> {
        let Some(account) = self.find(client).await? else {
            return Ok(None);
        };
        let Some(owner) = db::account::find_user_by_id(&self.db, account.owner_id).await? else {
            return Ok(None);
        };
        let members = db::client::members(&self.db, client.get()).await?;
        Ok(Some(Overview {
            client: account,
            owner,
            members,
        }))
    }

    /// Makes one of the account's users its owner; the old owner stays a user with every
    /// permission. Recorded as `account.ownership_transferred` by the admin.
    ///
    /// # Errors
    /// [`TransferError::NotAUser`] when `new_owner` is not a user of the account, or storage
    /// errors.
    pub async fn transfer(
        &self,
        by: AdminId,
        client: ClientId,
        new_owner: UserId,
    ) -> Result<(), TransferError> {
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let done = db::client::transfer(
            &mut tx,
            client.get(),
            new_owner.get(),
            &ClientPermissions::all().to_stored(),
            now,
        )
        .await?;
        if !done {
            return Err(TransferError::NotAUser);
        }
        crate::audit::record(
            &mut *tx,
            now,
            &Actor::Admin(by),
            Action::AccountOwnershipTransferred,
            Actor::Account(client),
            &format!("new owner user:{new_owner}"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
