//! Turning off someone else's two-step verification when they have lost every factor: by an
//! administrator (`/admin/two-factor`) or by the break-glass command (`portcullis admin
//! reset-2fa`). One operation, [`TwoFactor::reset_for`], finds the account by realm and login,
//! removes every factor, audits it and queues the notice to the owner in one transaction, so a
//! reset they did not ask for does not go unnoticed. The front ends only word its outcomes.
//!
//! An administrator's reset is bounded like every other action on another admin: they need a
//! fresh step-up on the session they act from (within [`super::STEP_UP_SECONDS`]), and an
//! admin target may hold nothing the actor's role lacks (the grant bound,
//! [`crate::admin::Granter::grant_bound`]), so `configure_two_factor` alone is no way to strip a
//! Full Administrator's second factor. A refused attempt on an admin is audited. The
//! break-glass command is run by the operating-system user who owns the installation and has
//! neither bound.

use super::{Subject, TwoFactor};
use crate::admin::{GrantError, Granted, Granter};
use crate::config::Policy;
use crate::db;
use crate::domain::{Action, Actor};
use crate::session::Realm;

/// Who turns the factors off, as the audit log and the notice name them.
#[derive(Debug, Clone, Copy)]
pub enum ResetBy<'a> {
    /// An administrator in the admin area: who they are and what their role holds, and the id
    /// hash of the session they act from (which must have stepped up recently).
    Admin {
        by: &'a Granter,
        session_hash: &'a str,
    },
    /// The break-glass command, run by this operating-system user.
    CommandLine { operator: &'a str },
}

impl ResetBy<'_> {
    /// The audit entry's actor.
    fn actor(&self) -> Actor {
        match self {
            Self::Admin { by, .. } => Actor::Admin(by.id),
            Self::CommandLine { .. } => Actor::Named("cli".into()),
        }
    }

    /// Who did it, in the words of the notice.
    fn described(&self) -> String {
        match self {
            Self::Admin { by, .. } => format!("administrator {}", by.username),
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
    /// The administrator's session has not stepped up within [`super::STEP_UP_SECONDS`].
    #[error("no recent step-up")]
    StepUpNeeded,
    /// The target admin holds permissions the acting admin's role does not (audited).
    #[error(transparent)]
    Beyond(#[from] GrantError),
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
    /// An administrator must have stepped up on `session_hash` recently, and an admin target
    /// must hold nothing beyond the administrator's role; the break-glass command needs
    /// neither.
    ///
    /// # Errors
    /// [`ResetError::NoSuchAccount`], `StepUpNeeded`, `Beyond` (audited), or a storage error.
    pub async fn reset_for(
        &self,
        realm: Realm,
        login: &str,
        by: &ResetBy<'_>,
    ) -> Result<Subject, ResetError> {
        let login = login.trim();
        if let ResetBy::Admin { session_hash, .. } = by
            && !self.stepped_up(session_hash).await?
        {
            return Err(ResetError::StepUpNeeded);
        }
        let found = match realm {
            Realm::Client => db::account::find_user_by_email(&self.db, login)
                .await?
                .map(|u| (Subject::of_user(&u), None)),
            Realm::Admin => db::account::find_admin_by_username(&self.db, login)
                .await?
                .map(|a| (Subject::of_admin(&a), Some(a.role_id))),
        };
        let (target, role) = found.ok_or_else(|| ResetError::NoSuchAccount {
            realm,
            login: login.to_owned(),
        })?;
        if let (ResetBy::Admin { by: granter, .. }, Some(role)) = (by, role) {
            let theirs = db::role::permissions(&self.db, role).await?;
            let what = Granted::Admin {
                username: target.login.clone(),
            };
            if let Err(refused) = granter.grant_bound(what, theirs) {
                crate::audit::record(
                    &self.db,
                    self.clock.unix(),
                    &by.actor(),
                    Action::TwoFactorResetRefused,
                    &target.actor(),
                    &format!(
                        "refused to remove the second factors of admin {}: they hold {}, which role {} lacks",
                        target.login,
                        refused.beyond.names(),
                        refused.role
                    ),
                )
                .await?;
                return Err(refused.into());
            }
        }
        let what = format!(
            "Every second factor of your account {} (authenticator app, security keys, Duo and backup codes) was turned off by {}. You can now sign in with your password alone{}.",
            target.login,
            by.described(),
            match self.policy(realm) {
                Policy::Required =>
                    "; you will be asked to set up a new second factor when you next sign in",
                _ => "; set up a new second factor on your security page",
            }
        );
        let from = match by {
            ResetBy::Admin { .. } => crate::request_origin::current()
                .map(|(ip, _)| ip)
                .filter(|ip| !ip.is_empty())
                .map_or_else(
                    || by.described(),
                    |ip| format!("{}, address {ip}", by.described()),
                ),
            ResetBy::CommandLine { .. } => format!("the {} on the server", by.described()),
        };
        let notice = self
            .change_notice(
                &target,
                "Two-factor authentication was turned off for your account",
                &what,
                &from,
            )
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
