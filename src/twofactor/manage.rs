//! The changes people make to their own second factors, from the security page: step-up first
//! (the password, or a code from a current factor, within [`STEP_UP_SECONDS`]), then adding or
//! removing an authenticator app, new backup codes, removing a security key, Duo on or off.
//!
//! The rules live here, once: every change needs a recent step-up, so a session left open on
//! someone's desk cannot be used to swap in the attacker's phone; under a "required" policy
//! nobody removes their last factor; a wrong step-up counts as a failed sign-in. Each change is
//! audited here. Security keys are added in [`super::keys`]; the admin's reset of someone
//! else's factors is [`super::reset`].

use super::TwoFactor;
use crate::auth::hasher::HashError;
use crate::auth::password::Verification;
use crate::config::Policy;
use crate::db;
use crate::domain::{Action, Actor};
use crate::session::Realm;
use secrecy::SecretString;
use std::net::IpAddr;

/// How long a step-up (password or factor re-entered) allows changes to factors.
pub const STEP_UP_SECONDS: i64 = 600;

/// Who a realm's subject is, for labels, notices and Duo.
#[derive(Debug, Clone)]
pub struct Subject {
    pub realm: Realm,
    pub id: i64,
    /// The admin's username or the user's email: what they sign in with.
    pub login: String,
    pub email: String,
    pub display_name: String,
}

impl Subject {
    /// A client-area user as a subject.
    pub fn of_user(u: &db::account::UserRow) -> Self {
        Self {
            realm: Realm::Client,
            id: u.id,
            login: u.email.clone(),
            display_name: format!("{} {}", u.first_name, u.last_name)
                .trim()
                .to_owned(),
            email: u.email.clone(),
        }
    }

    /// An administrator as a subject.
    pub fn of_admin(a: &db::account::AdminRow) -> Self {
        Self {
            realm: Realm::Admin,
            id: a.id,
            login: a.username.clone(),
            display_name: a.username.clone(),
            email: a.email.clone(),
        }
    }

    /// The subject as the actor of the changes they make (`client:ID`, `admin:ID`).
    pub fn actor(&self) -> Actor {
        Actor::of(self.realm, self.id)
    }
}

/// Why a step-up was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum StepUpError {
    /// Neither the password nor a code was right (counted as a failed sign-in).
    #[error("wrong password or code")]
    Wrong,
    /// Too many passwords are being checked right now.
    #[error("busy")]
    Busy,
    /// The password could not be checked, or a seed could not be opened.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why a change to someone's own factors was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// No step-up within [`STEP_UP_SECONDS`].
    #[error("no recent step-up")]
    StepUpNeeded,
    /// It is the person's last factor, and the realm's policy requires one.
    #[error("the last second factor under a required policy")]
    LastFactor,
    /// An authenticator app is set up already (remove it first).
    #[error("an authenticator app is already set up")]
    AlreadySetUp,
    /// The new authenticator app's code is not right.
    #[error("wrong code")]
    WrongCode,
    /// This session has no authenticator app setup in progress: it expired (after
    /// [`super::TOTP_SETUP_SECONDS`]), or it was started, or replaced, in another session.
    #[error("no authenticator app setup in progress in this session")]
    NoSetup,
    /// The security key is not one of the person's.
    #[error("no such security key")]
    NoSuchKey,
    /// Duo cannot be turned on: the installation has no Duo application.
    #[error("Duo is not configured")]
    DuoNotConfigured,
    /// A seed could not be sealed or opened, or the random source failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl TwoFactor {
    /// Looks a subject up.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn subject(&self, realm: Realm, id: i64) -> Result<Option<Subject>, sqlx::Error> {
        Ok(match realm {
            Realm::Client => db::account::find_user_by_id(&self.db, id)
                .await?
                .map(|u| Subject::of_user(&u)),
            Realm::Admin => db::account::find_admin_by_id(&self.db, id)
                .await?
                .map(|a| Subject::of_admin(&a)),
        })
    }

    /// Whether the session (by its id hash) stepped up recently enough to change factors.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn stepped_up(&self, session_hash: &str) -> Result<bool, sqlx::Error> {
        let at = db::session::stepped_up_at(&self.db, session_hash).await?;
        Ok(at.is_some_and(|t| self.clock.unix() - t <= STEP_UP_SECONDS))
    }

    /// Checks the password (against the hash stored now, read only for this) or, when no
    /// password is given, a TOTP or backup code, and records the step-up on the session. A wrong
    /// answer from `ip` counts as a failed sign-in, so a stolen session is no free password
    /// oracle.
    ///
    /// # Errors
    /// [`StepUpError::Wrong`], `Busy`, or a storage or unexpected error.
    pub async fn step_up(
        &self,
        subject: &Subject,
        session_hash: &str,
        password: String,
        code: &str,
        ip: IpAddr,
    ) -> Result<(), StepUpError> {
        let (realm, id) = (subject.realm, subject.id);
        let ok = if !password.is_empty() {
            // Sessions held in memory carry no password hash (session::cache): read it here.
            let password_hash = match realm {
                Realm::Client => db::account::find_user_by_id(&self.db, id)
                    .await?
                    .and_then(|u| u.password_hash),
                Realm::Admin => db::account::find_admin_by_id(&self.db, id)
                    .await?
                    .map(|a| a.password_hash),
            };
            let verified = self
                .hasher
                .verify(SecretString::from(password), password_hash)
                .await
                .map_err(|e| match e {
                    HashError::Busy => StepUpError::Busy,
                    other => StepUpError::Unexpected(anyhow::anyhow!(other.to_string())),
                })?;
            matches!(verified, Verification::Match { .. })
        } else if !code.trim().is_empty() {
            self.check_totp(realm, id, code).await?
                || self.redeem_backup_code(realm, id, code).await?.is_some()
        } else {
            false
        };
        if !ok {
            if let Err(e) = self.bans.record_failure(realm, ip, &subject.login).await {
                tracing::warn!(error = %e, "could not record a failed step-up");
            }
            self.audit(
                &subject.actor(),
                Action::TwoFactorWrongCode,
                "a wrong password or code when confirming it's you (step-up) on the security page",
            )
            .await?;
            return Err(StepUpError::Wrong);
        }
        db::session::step_up(&self.db, session_hash, self.clock.unix()).await?;
        Ok(())
    }

    async fn require_step_up(&self, session_hash: &str) -> Result<(), ChangeError> {
        if self.stepped_up(session_hash).await? {
            Ok(())
        } else {
            Err(ChangeError::StepUpNeeded)
        }
    }

    /// The one rule about removing factors: under a "required" policy, the last one stays.
    async fn keep_a_factor(&self, subject: &Subject) -> Result<(), ChangeError> {
        let enrolled = self.enrolled(subject.realm, subject.id).await?;
        if self.policy(subject.realm) == Policy::Required && enrolled.count() <= 1 {
            return Err(ChangeError::LastFactor);
        }
        Ok(())
    }

    /// The seed of a new authenticator app, to show as a QR code (the same one until it is
    /// confirmed).
    ///
    /// # Errors
    /// `StepUpNeeded`, `AlreadySetUp`, or a storage or unexpected error.
    pub async fn start_totp(
        &self,
        subject: &Subject,
        session_hash: &str,
    ) -> Result<Vec<u8>, ChangeError> {
        self.require_step_up(session_hash).await?;
        self.pending_totp_seed(subject.realm, subject.id, session_hash)
            .await?
            .ok_or(ChangeError::AlreadySetUp)
    }

    /// Confirms a new authenticator app with its first code, only in the session that started
    /// its setup and within [`super::TOTP_SETUP_SECONDS`]. The first factor also brings a set
    /// of backup codes: `Some(codes)` to show once; `None` when the person has codes already.
    ///
    /// # Errors
    /// `StepUpNeeded`, `NoSetup`, `WrongCode`, or a storage or unexpected error.
    pub async fn finish_totp(
        &self,
        subject: &Subject,
        session_hash: &str,
        code: &str,
    ) -> Result<Option<Vec<String>>, ChangeError> {
        self.require_step_up(session_hash).await?;
        let (realm, id) = (subject.realm, subject.id);
        if self
            .totp_setup_seed(realm, id, session_hash)
            .await?
            .is_none()
        {
            return Err(ChangeError::NoSetup);
        }
        if !self.confirm_totp(realm, id, session_hash, code).await? {
            return Err(ChangeError::WrongCode);
        }
        self.audit(
            &subject.actor(),
            Action::TwoFactorTotpEnabled,
            "authenticator app added",
        )
        .await?;
        if self.backup_remaining(realm, id).await? > 0 {
            return Ok(None);
        }
        Ok(Some(self.new_backup_codes(realm, id).await?))
    }

    /// Removes the authenticator app.
    ///
    /// # Errors
    /// `StepUpNeeded`, `LastFactor`, or a storage error.
    pub async fn remove_totp(
        &self,
        subject: &Subject,
        session_hash: &str,
    ) -> Result<(), ChangeError> {
        self.require_step_up(session_hash).await?;
        self.keep_a_factor(subject).await?;
        db::two_factor::totp_delete(&self.db, subject.realm.as_str(), subject.id).await?;
        self.audit(
            &subject.actor(),
            Action::TwoFactorTotpRemoved,
            "authenticator app removed",
        )
        .await?;
        Ok(())
    }

    /// Replaces the backup codes with a new set; returns the codes to show once.
    ///
    /// # Errors
    /// `StepUpNeeded`, or a storage or unexpected error.
    pub async fn regenerate_backup_codes(
        &self,
        subject: &Subject,
        session_hash: &str,
    ) -> Result<Vec<String>, ChangeError> {
        self.require_step_up(session_hash).await?;
        let codes = self.new_backup_codes(subject.realm, subject.id).await?;
        self.audit(
            &subject.actor(),
            Action::TwoFactorBackupRegenerated,
            "new backup codes; the previous set no longer works",
        )
        .await?;
        Ok(codes)
    }

    /// Removes one of the person's security keys.
    ///
    /// # Errors
    /// `StepUpNeeded`, `LastFactor`, `NoSuchKey`, or a storage error.
    pub async fn remove_key(
        &self,
        subject: &Subject,
        session_hash: &str,
        key_id: i64,
    ) -> Result<(), ChangeError> {
        self.require_step_up(session_hash).await?;
        self.keep_a_factor(subject).await?;
        let removed =
            db::two_factor::key_delete(&self.db, subject.realm.as_str(), subject.id, key_id)
                .await?;
        if !removed {
            return Err(ChangeError::NoSuchKey);
        }
        self.audit(
            &subject.actor(),
            Action::TwoFactorWebauthnRemoved,
            &format!("security key #{key_id} removed"),
        )
        .await?;
        Ok(())
    }

    /// Turns Duo on or off for the person (Duo itself enrols their device in its prompt).
    ///
    /// # Errors
    /// `StepUpNeeded`, `DuoNotConfigured` (turning it on), `LastFactor` (turning it off), or a
    /// storage error.
    pub async fn set_duo(
        &self,
        subject: &Subject,
        session_hash: &str,
        on: bool,
    ) -> Result<(), ChangeError> {
        self.require_step_up(session_hash).await?;
        if on && !self.duo_configured().await? {
            return Err(ChangeError::DuoNotConfigured);
        }
        if !on {
            self.keep_a_factor(subject).await?;
        }
        db::two_factor::duo_set(
            &self.db,
            subject.realm.as_str(),
            subject.id,
            on,
            self.clock.unix(),
        )
        .await?;
        let action = if on {
            Action::TwoFactorDuoEnabled
        } else {
            Action::TwoFactorDuoDisabled
        };
        self.audit(&subject.actor(), action, "").await?;
        Ok(())
    }
}
