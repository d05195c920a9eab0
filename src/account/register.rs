//! Self-registration that does not tell whether an address has an account (issue 18, item 11;
//! ASVS 2.5.x/3.x "no account enumeration").
//!
//! [`Accounts::register`] answers the same for a new and a taken address: the page shows the
//! same "check your inbox" text, with the same status, and nobody is signed in. A new address
//! gets its account and a verification link; a taken one gets a message to its owner ("someone
//! tried to register with your address: sign in or reset your password") instead. Both paths
//! hash the typed password and queue one message in one transaction, so the time taken does
//! not tell them apart either.

use super::{Accounts, CreateError, NewUser};
use crate::db;
use crate::domain::UserId;

/// Notices about attempts on a taken address per account per hour (the owner is not flooded).
const TAKEN_NOTICES_PER_HOUR: i64 = 3;

impl Accounts {
    /// Registers `new` (a person signing up on the registration page). Field errors come first
    /// and are the same for a new and a taken address. Then, for a new address, the user, their
    /// client account and a verification link are created; for a taken one the owner is mailed.
    /// The caller shows one answer either way. Returns the new user, when one was created, for
    /// the log only.
    ///
    /// # Errors
    /// Field errors, `Busy`, or storage errors (never "this address is taken").
    pub async fn register(&self, new: &NewUser<'_>) -> Result<Option<UserId>, CreateError> {
        match self.create_user(new).await {
            Ok((user, _)) => Ok(Some(user)),
            Err(CreateError::Invalid(errors)) if errors.iter().all(|e| e.message == TAKEN) => {
                self.tell_owner(new).await?;
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// The taken-address path: hash the typed password anyway (as a new account would), then
    /// queue the owner's notice, within its hourly limit.
    async fn tell_owner(&self, new: &NewUser<'_>) -> Result<(), CreateError> {
        // Discarded: only there so this path costs what creating an account costs.
        let _ = self.hash(new.password).await?;
        let email = new.email.trim();
        let Some(owner) = db::account::find_user_by_email(&self.db, email).await? else {
            // Removed in the meantime: nothing to tell anyone.
            return Ok(());
        };
        let now = self.clock.unix();
        let notice = crate::mail::template::Generic {
            subject: format!(
                "Someone tried to register at {} with your address",
                self.portal_name()
            ),
            body: format!(
                "Hello {},\n\nAt {} someone tried to create a new {} account with your email address, {}. You already have an account, so nothing was created and nothing about your account changed.\n\nIf it was you: sign in at {}, or if you forgot your password, reset it at {}.\n\nIf it was not you, you can ignore this message.",
                owner.first_name,
                self.show_time(now),
                self.portal_name(),
                owner.email,
                self.config.system_url.join("/login"),
                self.config.system_url.join("/password/reset"),
            ),
        }
        .render()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        let admitted = db::rate_limit::admit(
            &mut *tx,
            "register_taken",
            &owner.id.to_string(),
            now,
            now - 3600,
            TAKEN_NOTICES_PER_HOUR,
        )
        .await?;
        if admitted {
            crate::mail::queue::enqueue(&mut *tx, &owner.email, &notice, now).await?;
        }
        tx.commit().await?;
        tracing::info!(
            user_id = owner.id,
            admitted,
            "registration attempted with a taken address; the owner is told"
        );
        Ok(())
    }
}

/// The field message [`Accounts::create_user`] gives a taken address (the CLI shows it; the
/// registration page never does).
pub(super) const TAKEN: &str =
    "An account with this email address already exists. Sign in, or reset your password.";
