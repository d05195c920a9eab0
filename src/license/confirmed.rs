//! Issue 18, item 8: an account whose email address is not confirmed may not obtain or issue
//! licences. Whoever registers an address first must not hold licence keys there: the key is a
//! bearer secret, and a licence issued to an account someone else set up for the victim's
//! address would be theirs to use. So the client area shows no keys and reissues nothing for a
//! user who has not confirmed their address, and no licence is issued to an account whose
//! owner has not. The rule is [`Licenses::confirmed`]; the refusal says to confirm the address
//! first, and the page offers a new link.

use super::Licenses;
use crate::db;
use crate::domain::UserId;

/// A user whose email address is not confirmed (or who is gone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Confirm your email address first: licences are shown and reissued only once the address \
     is confirmed. Follow the link we sent to {email}, or send the link again."
)]
pub struct Unconfirmed {
    /// The address waiting to be confirmed (empty when the user is gone).
    pub email: String,
}

/// Why the client area's licence list was refused.
#[derive(Debug, thiserror::Error)]
pub enum OwnedError {
    #[error(transparent)]
    Unconfirmed(#[from] Unconfirmed),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl Licenses {
    /// The rule: `user` has confirmed their email address. A user who no longer exists has
    /// not.
    ///
    /// # Errors
    /// `Ok(Err(Unconfirmed))` for an unconfirmed address; storage errors.
    pub(super) async fn confirmed(
        &self,
        user: UserId,
    ) -> Result<Result<(), Unconfirmed>, sqlx::Error> {
        let row = db::account::find_user_by_id(&self.db, user.get()).await?;
        Ok(match row {
            Some(u) if u.email_verified_at.is_some() => Ok(()),
            Some(u) => Err(Unconfirmed { email: u.email }),
            None => Err(Unconfirmed {
                email: String::new(),
            }),
        })
    }

    /// Whether the owner of client account `client_id` has confirmed their address (an
    /// account without an owner has not).
    ///
    /// # Errors
    /// `Ok(Err(Unconfirmed))` naming the owner's address; storage errors.
    pub(super) async fn owner_confirmed(
        &self,
        client_id: i64,
    ) -> Result<Result<(), Unconfirmed>, sqlx::Error> {
        match db::client::owner(&self.db, client_id).await? {
            Some(owner) => self.confirmed(UserId(owner)).await,
            None => Ok(Err(Unconfirmed {
                email: String::new(),
            })),
        }
    }

    /// The licences of `account` with their keys, for `user` in the client area: refused while
    /// `user` has not confirmed their email address.
    ///
    /// # Errors
    /// `Unconfirmed`, storage errors.
    pub async fn owned_by(
        &self,
        user: UserId,
        account: crate::domain::ClientId,
    ) -> Result<Vec<super::Owned>, OwnedError> {
        self.confirmed(user).await??;
        Ok(self.owned(account).await?)
    }
}
