//! Security keys as stored: registering one from the security page (after step-up), using one
//! to complete a pending sign-in, and the server-side ceremony state both need.
//!
//! Ceremony state is kept in `webauthn_ceremonies`, keyed by the session or pending sign-in it
//! belongs to, and taken (deleted) when the answer arrives, so each challenge is answered at
//! most once. The ceremonies themselves (relying party, options, verification, messages) are
//! [`super::webauthn`], which knows nothing of storage; the JSON endpoints in
//! `web::twofactor::webauthn` only map [`KeyError`] to a status and a message.

use super::pending::{Failure, realm_of};
use super::webauthn as wa;
use super::{KeyRow, PendingRow, Subject, TwoFactor};
use crate::db;
use crate::domain::Action;

/// How long a ceremony may take.
const CEREMONY_SECONDS: i64 = 300;
/// The longest name a key may have.
const MAX_NAME: usize = 64;

/// Why a key could not be registered or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Registering needs a recent step-up.
    #[error("no recent step-up")]
    StepUpNeeded,
    /// This pending sign-in cannot be completed with a key (it must enrol, or Duo is down under
    /// a fail-closed policy).
    #[error("security keys cannot complete this sign-in")]
    NotForThisSignIn,
    /// The name given is longer than 64 characters.
    #[error("Give the key a name of at most 64 characters.")]
    BadName,
    /// The key is registered already, to this account or another (the unique credential id).
    #[error("{}", wa::Error::AlreadyRegistered)]
    AlreadyRegistered,
    /// The ceremony failed, worded for the person holding the key.
    #[error(transparent)]
    Ceremony(wa::Error),
    /// A sign-in's answer was refused, and counted as a wrong code.
    #[error("{error}")]
    Refused { error: wa::Error, failure: Failure },
    /// A key could not be serialised.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl From<wa::Error> for KeyError {
    fn from(e: wa::Error) -> Self {
        Self::Ceremony(e)
    }
}

/// The stored keys that still parse, with their credential ids.
fn passkeys(rows: &[KeyRow]) -> Vec<(String, wa::Passkey)> {
    rows.iter()
        .filter_map(|k| {
            serde_json::from_str(&k.passkey)
                .ok()
                .map(|p| (k.credential_id.clone(), p))
        })
        .collect()
}

/// The name to store: the typed one trimmed, or "Security key".
fn key_name(typed: &str) -> Result<String, KeyError> {
    let name = typed.trim();
    if name.chars().count() > MAX_NAME {
        return Err(KeyError::BadName);
    }
    Ok(if name.is_empty() {
        "Security key".to_owned()
    } else {
        name.to_owned()
    })
}

impl TwoFactor {
    /// The relying party for the System URL.
    fn relying_party(&self) -> Result<wa::Webauthn, wa::Error> {
        let url = url::Url::parse(&self.config.system_url.to_string())
            .map_err(|_| wa::Error::UnsuitableSystemUrl)?;
        wa::relying_party(&url)
    }

    async fn passkeys_of(
        &self,
        realm: crate::session::Realm,
        subject_id: i64,
    ) -> Result<Vec<(String, wa::Passkey)>, sqlx::Error> {
        let rows = db::two_factor::keys_list(&self.db, realm.as_str(), subject_id).await?;
        Ok(passkeys(&rows))
    }

    /// Starts registering a key named `name` for the signed-in subject: the options for the
    /// browser; the state stays with the session.
    ///
    /// # Errors
    /// `StepUpNeeded`, `BadName`, `Ceremony`, or a storage error.
    pub async fn begin_key_registration(
        &self,
        subject: &Subject,
        session_hash: &str,
        name: &str,
    ) -> Result<wa::CreationChallengeResponse, KeyError> {
        if !self.stepped_up(session_hash).await? {
            return Err(KeyError::StepUpNeeded);
        }
        let name = key_name(name)?;
        let rp = self.relying_party()?;
        let existing: Vec<wa::Passkey> = self
            .passkeys_of(subject.realm, subject.id)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let (options, ceremony) = wa::start_registration(
            &rp,
            wa::user_handle(subject.realm.as_str(), subject.id),
            &subject.login,
            &subject.display_name,
            &existing,
        )?;
        db::two_factor::ceremony_put(
            &self.db,
            session_hash,
            "register",
            &ceremony,
            &name,
            self.clock.unix() + CEREMONY_SECONDS,
        )
        .await?;
        Ok(options)
    }

    /// Verifies the browser's answer to the session's registration and stores the key, named
    /// `name` or, when that is blank, by the name given at the start. Audited.
    ///
    /// # Errors
    /// `Ceremony` (expired, refused), `StepUpNeeded`, `BadName`, `AlreadyRegistered`, or a
    /// storage or unexpected error.
    pub async fn finish_key_registration(
        &self,
        subject: &Subject,
        session_hash: &str,
        credential: &wa::RegisterPublicKeyCredential,
        name: &str,
    ) -> Result<(), KeyError> {
        let now = self.clock.unix();
        let Some((ceremony, stored_name)) =
            db::two_factor::ceremony_take(&self.db, session_hash, "register", now).await?
        else {
            return Err(wa::Error::Expired.into());
        };
        if !self.stepped_up(session_hash).await? {
            return Err(KeyError::StepUpNeeded);
        }
        let rp = self.relying_party()?;
        let key = wa::finish_registration(&rp, &ceremony, credential)?;
        let name = if name.trim().is_empty() {
            stored_name
        } else {
            key_name(name)?
        };
        let id = wa::credential_id_b64(&key);
        let passkey = serde_json::to_string(&key).map_err(anyhow::Error::from)?;
        if let Err(e) = db::two_factor::key_insert(
            &self.db,
            subject.realm.as_str(),
            subject.id,
            &name,
            &id,
            &passkey,
            now,
        )
        .await
        {
            // The unique index on the credential id: the key is registered (here or elsewhere).
            if e.as_database_error()
                .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
            {
                return Err(KeyError::AlreadyRegistered);
            }
            return Err(e.into());
        }
        self.audit(
            &subject.actor(),
            Action::TwoFactorWebauthnAdded,
            &format!("security key \"{name}\" added"),
        )
        .await?;
        Ok(())
    }

    /// Starts using one of the subject's keys to complete a pending sign-in: the options for
    /// the browser; the state stays with the pending sign-in.
    ///
    /// # Errors
    /// `NotForThisSignIn`, `Ceremony`, or a storage error.
    pub async fn begin_key_sign_in(
        &self,
        pending: &PendingRow,
    ) -> Result<wa::RequestChallengeResponse, KeyError> {
        if pending.must_enrol || self.backup_only(pending) {
            return Err(KeyError::NotForThisSignIn);
        }
        let rp = self.relying_party()?;
        let realm = realm_of(pending);
        let keys: Vec<wa::Passkey> = self
            .passkeys_of(realm, pending.subject_id)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let (options, ceremony) = wa::start_authentication(&rp, &keys)?;
        db::two_factor::ceremony_put(
            &self.db,
            &pending.id_hash,
            "authenticate",
            &ceremony,
            "",
            self.clock.unix() + CEREMONY_SECONDS,
        )
        .await?;
        Ok(options)
    }

    /// Verifies the key's answer for the pending sign-in and keeps the key's signature counter
    /// current (so a cloned key is noticed). A refused answer counts as a wrong code. The
    /// caller then ends the pending sign-in and starts the session.
    ///
    /// # Errors
    /// `NotForThisSignIn`, `Ceremony` (expired), `Refused`, or a storage or unexpected error.
    pub async fn finish_key_sign_in(
        &self,
        pending: &PendingRow,
        credential: &wa::PublicKeyCredential,
    ) -> Result<(), KeyError> {
        if pending.must_enrol || self.backup_only(pending) {
            return Err(KeyError::NotForThisSignIn);
        }
        let now = self.clock.unix();
        let Some((ceremony, _)) =
            db::two_factor::ceremony_take(&self.db, &pending.id_hash, "authenticate", now).await?
        else {
            return Err(wa::Error::Expired.into());
        };
        let rp = self.relying_party()?;
        let result = match wa::finish_authentication(&rp, &ceremony, credential) {
            Ok(r) => r,
            Err(error) => {
                let failure = self.fail_pending(pending).await?;
                return Err(KeyError::Refused { error, failure });
            }
        };
        let used = wa::result_credential_id_b64(&result);
        let realm = realm_of(pending);
        let keys = self.passkeys_of(realm, pending.subject_id).await?;
        if let Some((id, mut key)) = keys.into_iter().find(|(id, _)| *id == used) {
            key.update_credential(&result);
            let json = serde_json::to_string(&key).map_err(anyhow::Error::from)?;
            db::two_factor::key_used(&self.db, &id, &json, now).await?;
        }
        Ok(())
    }
}
