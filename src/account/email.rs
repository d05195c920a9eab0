//! Email addresses: verification links (issued with a new user, on request), confirming them,
//! and asking to change the address (confirming and undoing a change are `email_change`'s).
//!
//! A link is a one-time token (`verify_email`) whose email is queued in the transaction that
//! issues it, so a link exists if and only if its message does. The pages call these through
//! [`Accounts`]; the link page maps [`ConfirmError`] to the "link cannot be used" page.

use super::{Accounts, CreateError, LinkState, check_email, hash_error, invalid};
use crate::db;
use crate::domain::UserId;
use secrecy::SecretString;

/// Purpose label of email verification links.
pub const VERIFY_PURPOSE: &str = "verify_email";
/// How long an email verification link works.
pub const VERIFY_LIFETIME: i64 = 3600;
/// Purpose label of the link that confirms a new address (its data: the new address).
pub const CHANGE_PURPOSE: &str = "email_change";
/// Purpose label of the link the old address gets to undo a change (its data: the old address).
pub const REVERT_PURPOSE: &str = "email_revert";
/// How long the undo link works: a week, so an owner back from a few days away can still act.
pub const REVERT_LIFETIME: i64 = 7 * 24 * 3600;
/// Where the undo link points (followed by the token).
pub const REVERT_PATH: &str = "/email/revert/";
/// Resends allowed per user per hour.
const RESENDS_PER_HOUR: i64 = 3;

/// Why no link was issued.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No randomness for the token, or the email did not render.
    #[error("cannot make a verification link: {0}")]
    Unexpected(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl From<LinkError> for CreateError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Storage(e) => e.into(),
            other @ LinkError::Unexpected(_) => Self::Unexpected(anyhow::anyhow!(other)),
        }
    }
}

/// Why a presented link confirmed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// Unknown, expired or used (never `Valid`): the page says which.
    #[error("this confirmation link cannot be used")]
    Link(LinkState),
    /// The link confirms a change to an address that another account took in the meantime.
    #[error(
        "Another account uses {0} now, so your address stays as it was. Choose another address on your account's email page."
    )]
    Taken(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// What a resend request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resent {
    /// A new link is queued; older ones stop working.
    Sent,
    /// The address is confirmed already: nothing to send.
    AlreadyVerified,
}

/// Why no link was sent again.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error("A confirmation link was sent {RESENDS_PER_HOUR} times in the last hour. Wait a little, and check your spam folder; each link works for {} minutes.", VERIFY_LIFETIME / 60)]
    TooMany,
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The signed-in user is gone.
    #[error("the signed-in user no longer exists")]
    NoUser,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl Accounts {
    /// Issues a verification link for `user` (invalidating older ones) and queues the email, on
    /// the caller's transaction.
    ///
    /// # Errors
    /// Storage errors, no randomness, a template bug.
    pub async fn queue_verification(
        &self,
        tx: &mut sqlx::Transaction<'static, db::Db>,
        user: UserId,
        email: &str,
        name: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        let token = crate::token::generate().map_err(|e| LinkError::Unexpected(e.to_string()))?;
        let rendered = crate::mail::template::VerifyEmail {
            portal: self.portal_name(),
            name: name.to_owned(),
            email: email.to_owned(),
            link: self
                .config
                .system_url
                .join(&format!("/verify-email/{}", token.plain)),
            expires: self.show_time(now + VERIFY_LIFETIME),
        }
        .render()
        .map_err(|e| LinkError::Unexpected(e.to_string()))?;
        db::one_time_token::revoke_subject(&mut **tx, VERIFY_PURPOSE, user.get(), now).await?;
        db::one_time_token::insert(
            &mut **tx,
            &token.hash,
            VERIFY_PURPOSE,
            Some(user.get()),
            now,
            now + VERIFY_LIFETIME,
        )
        .await?;
        crate::mail::queue::enqueue(&mut **tx, email, &rendered, now).await?;
        Ok(())
    }

    /// Confirms the address a link was sent to: the link is used up and the user's address
    /// marked verified, together; a link confirming an email change makes the change then
    /// ([`Accounts::confirm_change`]). Works without a session, in any browser.
    ///
    /// # Errors
    /// `Link` with the state of a link that cannot be used; storage errors.
    pub async fn confirm_email(&self, token: &str) -> Result<UserId, ConfirmError> {
        let now = self.clock.unix();
        let state = if crate::token::looks_valid(token) {
            db::one_time_token::state(&self.db, &crate::token::hash(token), VERIFY_PURPOSE, now)
                .await?
        } else {
            LinkState::Unknown
        };
        if state == LinkState::Unknown && crate::token::looks_valid(token) {
            // Not a plain verification link: perhaps one confirming an email change.
            let change = db::one_time_token::state(
                &self.db,
                &crate::token::hash(token),
                CHANGE_PURPOSE,
                now,
            )
            .await?;
            if change != LinkState::Unknown {
                return self.confirm_change(token, change, now).await;
            }
        }
        let LinkState::Valid {
            subject_id: Some(user_id),
        } = state
        else {
            return Err(ConfirmError::Link(state));
        };
        let mut tx = self.db.begin().await?;
        db::one_time_token::consume(&mut *tx, &crate::token::hash(token), VERIFY_PURPOSE, now)
            .await?;
        db::account::mark_verified(&mut *tx, user_id, now).await?;
        tx.commit().await?;
        Ok(UserId(user_id))
    }

    /// Sends `user` a fresh verification link (the old one stops working), at most
    /// [`RESENDS_PER_HOUR`] an hour.
    ///
    /// # Errors
    /// `TooMany` past the hourly limit, a link that cannot be made, storage errors.
    pub async fn resend_verification(&self, user: UserId) -> Result<Resent, ResendError> {
        let row = self.user(user).await?.ok_or(ResendError::NoUser)?;
        if row.email_verified_at.is_some() {
            return Ok(Resent::AlreadyVerified);
        }
        let now = self.clock.unix();
        let admitted = db::rate_limit::admit(
            &self.db,
            "verify_resend",
            &user.to_string(),
            now,
            now - 3600,
            RESENDS_PER_HOUR,
        )
        .await?;
        if !admitted {
            return Err(ResendError::TooMany);
        }
        let mut tx = self.db.begin().await?;
        self.queue_verification(&mut tx, user, &row.email, &row.first_name, now)
            .await?;
        tx.commit().await?;
        Ok(Resent::Sent)
    }

    /// Asks to change a signed-in user's email address after checking their password (issue
    /// 18, item 7). Nothing changes yet: the new address gets a confirmation link and the
    /// change takes effect only when it is followed ([`Accounts::confirm_email`]), so until
    /// then the old address still signs in and the new one does not. The old address is told,
    /// with a link that undoes the change for [`REVERT_LIFETIME`] seconds, before or after
    /// confirmation ([`Accounts::revert_email`]). A newer request replaces an older pending one.
    ///
    /// # Errors
    /// Field errors (`email`, `current_password`), `Busy`, or storage errors.
    pub async fn change_email(
        &self,
        user: UserId,
        new_email: &str,
        current: &SecretString,
    ) -> Result<(), CreateError> {
        use crate::auth::password::Verification;
        let row = self
            .user(user)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the signed-in user no longer exists"))?;
        let new_email = new_email.trim();
        if let Some(m) = check_email(new_email) {
            return Err(invalid("email", m));
        }
        if new_email.eq_ignore_ascii_case(&row.email) {
            return Err(invalid("email", "This is already your email address."));
        }
        // Counted like a sign-in, and not checked while the account's delay runs (throttle).
        let key = crate::throttle::Key::Account(crate::domain::Realm::Client, user.get());
        self.throttle.admit(&key).await?;
        let verified = self
            .hasher
            .verify(current.clone(), row.password_hash.clone())
            .await
            .map_err(hash_error)?;
        (self.throttle)
            .current_password(crate::domain::Realm::Client, user.get(), &verified)
            .await?;
        if !matches!(verified, Verification::Match { .. }) {
            return Err(invalid(
                "current_password",
                "This is not your current password.",
            ));
        }
        if db::account::find_user_by_email(&self.db, new_email)
            .await?
            .is_some()
        {
            return Err(invalid(
                "email",
                "Another account already uses this address.",
            ));
        }
        let now = self.clock.unix();
        let change = crate::token::generate().map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let revert = crate::token::generate().map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let confirm = crate::mail::template::VerifyEmail {
            portal: self.portal_name(),
            name: row.first_name.clone(),
            email: new_email.to_owned(),
            link: self
                .config
                .system_url
                .join(&format!("/verify-email/{}", change.plain)),
            expires: self.show_time(now + VERIFY_LIFETIME),
        }
        .render()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let notice = crate::mail::template::Generic {
            subject: format!(
                "Someone asked to change your {} email address",
                self.portal_name()
            ),
            body: format!(
                "Hello {},\n\nAt {} someone signed in to your account asked to change its email address from {} to {new_email}. The change takes effect only once the new address is confirmed; until then this address stays the one you sign in with.\n\nIf this was not you, undo the change here (before or after it was confirmed; the link works until {}):\n{}\n\nUndoing it keeps this address, signs every session out and cancels password reset links. Whoever asked knew your password: change it afterwards (reset it at {}).",
                row.first_name,
                self.show_time(now),
                row.email,
                self.show_time(now + REVERT_LIFETIME),
                self.config
                    .system_url
                    .join(&format!("{REVERT_PATH}{}", revert.plain)),
                self.config.system_url.join("/password/reset")
            ),
        }
        .render()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        // One pending change at a time: an older confirmation link stops working.
        db::one_time_token::revoke_subject(&mut *tx, CHANGE_PURPOSE, user.get(), now).await?;
        db::one_time_token::insert_for_subject_with_data(
            &mut *tx,
            &change.hash,
            CHANGE_PURPOSE,
            user.get(),
            new_email,
            now,
            now + VERIFY_LIFETIME,
        )
        .await?;
        db::one_time_token::insert_for_subject_with_data(
            &mut *tx,
            &revert.hash,
            REVERT_PURPOSE,
            user.get(),
            &row.email,
            now,
            now + REVERT_LIFETIME,
        )
        .await?;
        crate::mail::queue::enqueue(&mut *tx, new_email, &confirm, now).await?;
        crate::mail::queue::enqueue(&mut *tx, &row.email, &notice, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
