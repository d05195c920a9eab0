//! Second factors: TOTP, backup codes, WebAuthn keys and Duo, the realm policies, and every
//! change to a person's factors, through one service, [`TwoFactor`].
//!
//! The service's operations are spread over this module's files by area, each an
//! `impl TwoFactor` block: TOTP checks here, [`backup`] codes, [`manage`] (step-up and the
//! changes people make to their own factors, with the rule that nobody under a "required"
//! policy removes their last factor), [`reset`] (the admin's and the command line's reset),
//! [`pending`] sign-ins, [`keys`] (WebAuthn ceremonies and stored keys) and [`duo`] (the Duo
//! application and the Duo round trip). Each change is audit-logged by the operation that
//! makes it, with `domain::Actor` and `domain::Action`. The pages in `web::twofactor` and
//! `web::admin::two_factor` only map the operations' error enums to what people see.
//!
//! A sign-in whose password was right but whose second factor is still due is a
//! [`pending`] sign-in, never a session.

pub mod backup;
pub mod duo;
pub mod keys;
pub mod manage;
pub mod notice;
pub mod pending;
pub mod reset;
pub mod totp;
pub mod webauthn;

use crate::app::AppState;
use crate::auth::hasher::Hasher;
use crate::ban::Bans;
use crate::clock::Clock;
use crate::config::{Config, Policy};
use crate::db;
use crate::domain::{Action, Actor};
use crate::sealing::SealingKey;
use crate::session::Realm;
use std::sync::Arc;

/// A registered security key, as stored.
pub use crate::db::two_factor::KeyRow;
/// A pending sign-in, as stored.
pub use crate::db::two_factor::PendingRow;
pub use manage::{ChangeError, STEP_UP_SECONDS, StepUpError, Subject};

/// The second-factor service.
#[derive(Clone)]
pub struct TwoFactor {
    db: crate::db::Pool,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    sealing: Arc<SealingKey>,
    /// Checks the password at step-up.
    hasher: Hasher,
    /// Wrong step-ups and cancelled pending sign-ins count as failed sign-ins.
    bans: Bans,
    /// The zone the notices' times are shown in.
    settings: crate::settings::Settings,
    /// The limit per account: second-factor answers at sign-in count towards it.
    throttle: crate::throttle::Throttle,
}

impl From<&AppState> for TwoFactor {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            config: state.config.clone(),
            sealing: state.sealing.clone(),
            hasher: state.hasher.clone(),
            bans: Bans::from(state),
            settings: crate::settings::Settings::from(state),
            throttle: crate::throttle::Throttle::from(state),
        }
    }
}

/// A person's enrolled factors.
#[derive(Debug, Clone, Default)]
pub struct Enrolled {
    pub totp: bool,
    pub backup_remaining: i64,
    pub keys: Vec<KeyRow>,
    /// Enrolled in Duo and Duo is configured.
    pub duo: bool,
}

impl Enrolled {
    /// Whether the person has a factor (backup codes alone are a way back in, not a factor).
    pub fn any(&self) -> bool {
        self.totp || !self.keys.is_empty() || self.duo
    }

    /// How many factors the person has.
    pub fn count(&self) -> usize {
        usize::from(self.totp) + self.keys.len() + usize::from(self.duo)
    }
}

/// The sealing context of a subject's TOTP seed.
fn totp_context(realm: Realm, subject_id: i64) -> String {
    format!("totp:{}:{subject_id}", realm.as_str())
}

impl TwoFactor {
    /// The realm's policy.
    pub fn policy(&self, realm: Realm) -> Policy {
        match realm {
            Realm::Client => self.config.two_factor.client_policy,
            Realm::Admin => self.config.two_factor.admin_policy,
        }
    }

    /// What happens to sign-ins that need Duo while Duo is down.
    pub fn duo_outage(&self) -> crate::config::DuoOutage {
        self.config.two_factor.duo_outage
    }

    /// The factors `subject_id` of `realm` has.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn enrolled(&self, realm: Realm, subject_id: i64) -> Result<Enrolled, sqlx::Error> {
        let r = realm.as_str();
        let totp = db::two_factor::totp_get(&self.db, r, subject_id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        let backup_remaining = db::two_factor::backup_remaining(&self.db, r, subject_id).await?;
        let keys = db::two_factor::keys_list(&self.db, r, subject_id).await?;
        let duo = self.duo_enrolled(realm, subject_id).await? && self.duo_configured().await?;
        Ok(Enrolled {
            totp,
            backup_remaining,
            keys,
            duo,
        })
    }

    /// Whether the person turned Duo on (whether or not Duo is still configured).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn duo_enrolled(&self, realm: Realm, subject_id: i64) -> Result<bool, sqlx::Error> {
        db::two_factor::duo_enrolled(&self.db, realm.as_str(), subject_id).await
    }

    /// Whether the installation has a Duo application.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn duo_configured(&self) -> Result<bool, sqlx::Error> {
        Ok(db::two_factor::duo_settings(&self.db).await?.is_some())
    }

    /// Writes one audit entry about a change to `actor`'s own factors (or, for Duo's settings,
    /// the installation's), with the request's address, and queues the notice to the person
    /// when it is a change to their factors ([`notice`]).
    async fn audit(&self, actor: &Actor, action: Action, detail: &str) -> Result<(), sqlx::Error> {
        crate::audit::record(&self.db, self.clock.unix(), actor, action, actor, detail).await?;
        self.notify_change(actor, action, detail).await
    }

    /// The subject's confirmed seed.
    async fn seed(&self, realm: Realm, subject_id: i64) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(row) = db::two_factor::totp_get(&self.db, realm.as_str(), subject_id).await?
        else {
            return Ok(None);
        };
        if row.confirmed_at.is_none() {
            return Ok(None);
        }
        Ok(Some(self.sealing.open(
            &row.secret_sealed,
            &totp_context(realm, subject_id),
        )?))
    }

    /// Checks a TOTP code at sign-in (or step-up) and consumes its time step.
    ///
    /// # Errors
    /// Storage errors, or a seed that cannot be opened with the configured key.
    pub async fn check_totp(
        &self,
        realm: Realm,
        subject_id: i64,
        code: &str,
    ) -> anyhow::Result<bool> {
        let Some(seed) = self.seed(realm, subject_id).await? else {
            return Ok(false);
        };
        let Some(step) = totp::matching_step(&seed, code, self.clock.unix()) else {
            return Ok(false);
        };
        Ok(
            db::two_factor::totp_accept_step(&self.db, realm.as_str(), subject_id, step, None)
                .await?,
        )
    }

    /// The seed of the authenticator app `owner` (the id hash of a session or pending sign-in)
    /// is setting up, if it is still within [`TOTP_SETUP_SECONDS`]. Another session's seed, or
    /// an expired one, is none.
    ///
    /// # Errors
    /// Storage errors, or a seed that cannot be opened.
    pub async fn totp_setup_seed(
        &self,
        realm: Realm,
        subject_id: i64,
        owner: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(row) = db::two_factor::totp_get(&self.db, realm.as_str(), subject_id).await?
        else {
            return Ok(None);
        };
        let mine = row.owner_hash.as_deref() == Some(owner);
        let fresh = self.clock.unix() - row.created_at < TOTP_SETUP_SECONDS;
        if row.confirmed_at.is_some() || !mine || !fresh {
            return Ok(None);
        }
        Ok(Some(self.sealing.open(
            &row.secret_sealed,
            &totp_context(realm, subject_id),
        )?))
    }

    /// The seed `owner` is setting up, creating one if there is none (reloading the enrolment
    /// page shows the same QR code). A new one replaces another session's or an expired seed,
    /// which then cannot be confirmed. `None` when TOTP is already confirmed.
    ///
    /// # Errors
    /// Storage errors or a failing random source.
    pub async fn pending_totp_seed(
        &self,
        realm: Realm,
        subject_id: i64,
        owner: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        if let Some(seed) = self.totp_setup_seed(realm, subject_id, owner).await? {
            return Ok(Some(seed));
        }
        let fresh = totp::generate_seed()?;
        let sealed = self
            .sealing
            .seal(&fresh, &totp_context(realm, subject_id))?;
        let stored = db::two_factor::totp_put_unconfirmed(
            &self.db,
            realm.as_str(),
            subject_id,
            &sealed,
            owner,
            self.clock.unix(),
        )
        .await?;
        Ok(stored.then(|| fresh.to_vec()))
    }

    /// Confirms the TOTP enrolment `owner` started with its first valid code; false for a
    /// wrong code and for no live setup of `owner`'s.
    ///
    /// # Errors
    /// Storage errors, or a seed that cannot be opened.
    async fn confirm_totp(
        &self,
        realm: Realm,
        subject_id: i64,
        owner: &str,
        code: &str,
    ) -> anyhow::Result<bool> {
        let Some(seed) = self.totp_setup_seed(realm, subject_id, owner).await? else {
            return Ok(false);
        };
        let now = self.clock.unix();
        let Some(step) = totp::matching_step(&seed, code, now) else {
            return Ok(false);
        };
        Ok(db::two_factor::totp_confirm(
            &self.db,
            realm.as_str(),
            subject_id,
            step,
            owner,
            now - TOTP_SETUP_SECONDS + 1,
            now,
        )
        .await?)
    }
}

/// How long an authenticator app may take to be confirmed after its QR code was first shown.
pub const TOTP_SETUP_SECONDS: i64 = 900;

/// Removes the unconfirmed authenticator seed of `realm`'s `subject_id`, in the caller's
/// transaction: a password reset calls it, so a seed planted by whoever knew the old password
/// cannot be confirmed later. A confirmed app stays.
///
/// # Errors
/// Storage errors.
pub async fn forget_unconfirmed_totp(
    tx: &mut sqlx::Transaction<'_, crate::db::Db>,
    realm: Realm,
    subject_id: i64,
) -> Result<(), sqlx::Error> {
    db::two_factor::totp_delete_unconfirmed(&mut **tx, realm.as_str(), subject_id)
        .await
        .map(|_| ())
}
