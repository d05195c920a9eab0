//! Second factors: TOTP, backup codes, WebAuthn keys and Duo, the realm policies, and the
//! changes to a person's factors (each audit-logged).
//!
//! A sign-in whose password was right but whose second factor is still due is a
//! [`pending`] sign-in, never a session; see `web::twofactor` for the pages.

pub mod backup;
pub mod duo;
pub mod manage;
pub mod pending;
pub mod totp;
pub mod webauthn;

use crate::app::AppState;
use crate::config::Policy;
use crate::db;
use crate::session::Realm;

/// A person's enrolled factors.
#[derive(Debug, Clone, Default)]
pub struct Enrolled {
    pub totp: bool,
    pub backup_remaining: i64,
    pub keys: Vec<db::two_factor::KeyRow>,
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

/// The factors `subject_id` of `realm` has.
///
/// # Errors
/// Storage errors.
pub async fn enrolled(
    state: &AppState,
    realm: Realm,
    subject_id: i64,
) -> Result<Enrolled, sqlx::Error> {
    let r = realm.as_str();
    let totp = db::two_factor::totp_get(&state.db, r, subject_id)
        .await?
        .is_some_and(|t| t.confirmed_at.is_some());
    let backup_remaining = db::two_factor::backup_remaining(&state.db, r, subject_id).await?;
    let keys = db::two_factor::keys_list(&state.db, r, subject_id).await?;
    let duo = db::two_factor::duo_enrolled(&state.db, r, subject_id).await?
        && db::two_factor::duo_settings(&state.db).await?.is_some();
    Ok(Enrolled {
        totp,
        backup_remaining,
        keys,
        duo,
    })
}

/// The realm's policy.
pub fn policy(state: &AppState, realm: Realm) -> Policy {
    match realm {
        Realm::Client => state.config.two_factor.client_policy,
        Realm::Admin => state.config.two_factor.admin_policy,
    }
}

/// The sealing context of a subject's TOTP seed.
fn totp_context(realm: Realm, subject_id: i64) -> String {
    format!("totp:{}:{subject_id}", realm.as_str())
}

/// The subject's seed; `confirmed` selects a confirmed enrolment or one awaiting confirmation.
async fn seed(
    state: &AppState,
    realm: Realm,
    subject_id: i64,
    confirmed: bool,
) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(row) = db::two_factor::totp_get(&state.db, realm.as_str(), subject_id).await? else {
        return Ok(None);
    };
    if row.confirmed_at.is_some() != confirmed {
        return Ok(None);
    }
    Ok(Some(state.sealing.open(
        &row.secret_sealed,
        &totp_context(realm, subject_id),
    )?))
}

/// Checks a TOTP code at sign-in (or step-up) and consumes its time step.
///
/// # Errors
/// Storage errors, or a seed that cannot be opened with the configured key.
pub async fn check_totp(
    state: &AppState,
    realm: Realm,
    subject_id: i64,
    code: &str,
) -> anyhow::Result<bool> {
    let Some(seed) = seed(state, realm, subject_id, true).await? else {
        return Ok(false);
    };
    let Some(step) = totp::matching_step(&seed, code, state.clock.unix()) else {
        return Ok(false);
    };
    Ok(db::two_factor::totp_accept_step(&state.db, realm.as_str(), subject_id, step, None).await?)
}

/// The seed awaiting confirmation, creating one if there is none (reloading the enrolment page
/// shows the same QR code). `None` when TOTP is already confirmed.
///
/// # Errors
/// Storage errors or a failing random source.
pub async fn pending_totp_seed(
    state: &AppState,
    realm: Realm,
    subject_id: i64,
) -> anyhow::Result<Option<Vec<u8>>> {
    if let Some(seed) = seed(state, realm, subject_id, false).await? {
        return Ok(Some(seed));
    }
    let fresh = totp::generate_seed()?;
    let sealed = state
        .sealing
        .seal(&fresh, &totp_context(realm, subject_id))?;
    let stored = db::two_factor::totp_put_unconfirmed(
        &state.db,
        realm.as_str(),
        subject_id,
        &sealed,
        state.clock.unix(),
    )
    .await?;
    Ok(stored.then(|| fresh.to_vec()))
}

/// Confirms a TOTP enrolment with its first valid code.
///
/// # Errors
/// Storage errors, or a seed that cannot be opened.
pub async fn confirm_totp(
    state: &AppState,
    realm: Realm,
    subject_id: i64,
    code: &str,
) -> anyhow::Result<bool> {
    let Some(seed) = seed(state, realm, subject_id, false).await? else {
        return Ok(false);
    };
    let now = state.clock.unix();
    let Some(step) = totp::matching_step(&seed, code, now) else {
        return Ok(false);
    };
    Ok(
        db::two_factor::totp_accept_step(&state.db, realm.as_str(), subject_id, step, Some(now))
            .await?,
    )
}
