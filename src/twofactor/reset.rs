//! Turning off someone else's two-step verification when they have lost every factor: by an
//! administrator (`/admin/two-factor`) or by the break-glass command (`portcullis admin
//! reset-2fa`). One operation, [`TwoFactor::reset_for`], finds the account by realm and login,
//! removes every factor, audits it and queues the notice to the owner in one transaction, so a
//! reset they did not ask for does not go unnoticed. The front ends only word its outcomes.

use super::{Subject, TwoFactor};
use crate::config::Policy;
use crate::db;
use crate::domain::{Action, Actor, AdminId};
use crate::session::Realm;

/// Who turns the factors off, as the audit log and the notice name them.
#[derive(Debug, Clone, Copy)]
pub enum ResetBy<'a> {
    /// An administrator in the admin area.
    Admin { id: AdminId, username: &'a str },
    /// The break-glass command, run by this operating-system user.
    CommandLine { operator: &'a str },
}

impl ResetBy<'_> {
    /// The audit entry's actor.
    fn actor(&self) -> Actor {
        match self {
            Self::Admin { id, .. } => Actor::Admin(*id),
            Self::CommandLine { .. } => Actor::Named("cli".into()),
        }
    }

    /// Who did it, in the words of the notice.
    fn described(&self) -> String {
        match self {
            Self::Admin { username, .. } => format!("administrator {username}"),
            Self::CommandLine { operator } => format!("command line (user {operator})"),
        }
    }

    /// The address the audit entry names: the request's, or `cli`.
    fn address(&self) -> &'static str {
        match self {
            Self::Admin { .. } => "",
            Self::CommandLine { .. } => "cli",
        }
    }
}

/// Why a reset was not made.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// No account of the realm signs in with that login.
    #[error("no {realm} account is called {login}")]
    NoSuchAccount { realm: Realm, login: String },
    /// The notice could not be rendered.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl TwoFactor {
    /// Removes every factor (TOTP, backup codes, keys, Duo) of the `realm` account that signs
    /// in with `login` (a user's email, an admin's username), records who did it, and queues
    /// the notice to the owner. Returns whose factors were removed.
    ///
    /// # Errors
    /// [`ResetError::NoSuchAccount`], or a storage error.
    pub async fn reset_for(
        &self,
        realm: Realm,
        login: &str,
        by: &ResetBy<'_>,
    ) -> Result<Subject, ResetError> {
        let login = login.trim();
        let found = match realm {
            Realm::Client => db::account::find_user_by_email(&self.db, login)
                .await?
                .map(|u| Subject::of_user(&u)),
            Realm::Admin => db::account::find_admin_by_username(&self.db, login)
                .await?
                .map(|a| Subject::of_admin(&a)),
        };
        let target = found.ok_or_else(|| ResetError::NoSuchAccount {
            realm,
            login: login.to_owned(),
        })?;
        let body = format!(
            "Hello {},\n\nThe two-factor authentication of your account {} was turned off by {}. You can now sign in with your password alone{}.\n\nIf you did not ask for this, contact your administrator at once and change your password.",
            target.display_name,
            target.login,
            by.described(),
            match self.policy(realm) {
                Policy::Required =>
                    "; you will be asked to set up a new second factor when you next sign in",
                _ => "; set up a new second factor on your security page",
            }
        );
        let notice = crate::mail::template::Generic {
            subject: "Two-factor authentication was turned off for your account".into(),
            body,
        }
        .render()
        .map_err(anyhow::Error::from)?;
        let now = self.clock.unix();
        let subject = target.actor();
        let mut tx = self.db.begin().await?;
        db::two_factor::remove_all(&mut tx, realm.as_str(), target.id).await?;
        crate::audit::record_from(
            &mut *tx,
            now,
            &by.actor(),
            Action::TwoFactorReset,
            &subject,
            &format!(
                "removed every second factor of {subject} ({})",
                target.login
            ),
            crate::audit::Origin {
                ip: by.address(),
                user_agent: "",
            },
        )
        .await?;
        crate::mail::queue::enqueue(&mut *tx, &target.email, &notice, now).await?;
        tx.commit().await?;
        Ok(target)
    }
}
