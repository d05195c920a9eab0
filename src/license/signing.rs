//! The Ed25519 keys that sign verify answers: created on first use, sealed at rest, rotated in
//! two steps. A new key is first only published (`GET /api/license/v1/keys`), so vendors can
//! ship it in their software; once activated it signs, and the key before it is retired but
//! stays published, so answers it signed still verify in the field.

use super::{Licenses, SigningKey};
use crate::db;
use crate::domain::{Action, Actor, AdminId};
use license_verifier::protocol::{KeyList, PublicKey, public_key_of};

const CONTEXT: &str = "license-signing-key";

/// Where a signing key is in its rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published (`/api/license/v1/keys`) but not signing yet.
    Published,
    /// Signs answers now.
    Signing,
    /// Signed before the key that signs now; still published, so its answers still verify.
    Retired { at: i64 },
}

impl KeyState {
    /// The state of a stored key: retired once retired, else signing once activated.
    pub fn of(key: &SigningKey) -> Self {
        match (key.activated_at, key.retired_at) {
            (_, Some(at)) => Self::Retired { at },
            (Some(_), None) => Self::Signing,
            (None, None) => Self::Published,
        }
    }
}

/// Why no signing key could be read or made.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    /// Randomness or sealing failed, or the sealing key cannot open the stored key.
    #[error("{0}")]
    Unusable(#[from] anyhow::Error),
}

/// Why a key was not activated.
#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    #[error("There is no published, unretired key {0:?}.")]
    NoSuchKey(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl Licenses {
    /// The key that signs now, creating (and activating) the first one on first use.
    ///
    /// # Errors
    /// Storage, randomness or sealing failures.
    pub async fn active_signing_key(&self) -> Result<(String, [u8; 32]), SigningError> {
        let signing = |keys: Vec<SigningKey>| {
            keys.into_iter()
                .filter(|k| KeyState::of(k) == KeyState::Signing)
                .max_by_key(|k| k.activated_at)
        };
        let key = if let Some(k) = signing(db::license::signing_keys(&self.db).await?) {
            k
        } else {
            self.create_signing_key(true).await?;
            signing(db::license::signing_keys(&self.db).await?)
                .ok_or_else(|| anyhow::anyhow!("no signing key after creating one"))?
        };
        let secret: [u8; 32] = self
            .sealing
            .open(&key.secret_sealed, CONTEXT)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the sealing key cannot open licence signing key {}; restore the key file the server used",
                    key.key_id
                )
            })?;
        Ok((key.key_id, secret))
    }

    async fn create_signing_key(&self, activate: bool) -> Result<String, SigningError> {
        let secret = crate::token::random_bytes::<32>().map_err(anyhow::Error::from)?;
        let id_bytes = crate::token::random_bytes::<6>().map_err(anyhow::Error::from)?;
        let key_id = format!("k{}", crate::token::hex(&id_bytes));
        let now = self.clock.unix();
        db::license::insert_signing_key(
            &self.db,
            &SigningKey {
                key_id: key_id.clone(),
                secret_sealed: self.sealing.seal(&secret, CONTEXT)?,
                public_key: public_key_of(&secret),
                created_at: now,
                activated_at: activate.then_some(now),
                retired_at: None,
            },
        )
        .await?;
        Ok(key_id)
    }

    /// Adds a key that is published but does not sign yet, audited as the admin's; returns
    /// its id.
    ///
    /// # Errors
    /// Storage, randomness or sealing failures.
    pub async fn add_signing_key(&self, admin: AdminId) -> Result<String, SigningError> {
        self.active_signing_key().await?;
        let key_id = self.create_signing_key(false).await?;
        self.audit(
            &self.db,
            &Actor::Admin(admin),
            Action::LicenseKeyAdded,
            &key_id,
            "published, not signing yet",
        )
        .await?;
        Ok(key_id)
    }

    /// Makes a published key the signing key, audited as the admin's; the previous one is
    /// retired (still published), so answers it signed still verify.
    ///
    /// # Errors
    /// `NoSuchKey` when there is no such unretired key; storage errors.
    pub async fn activate_signing_key(
        &self,
        admin: AdminId,
        key_id: &str,
    ) -> Result<(), ActivateError> {
        if !db::license::activate(&self.db, key_id, self.clock.unix()).await? {
            return Err(ActivateError::NoSuchKey(key_id.to_owned()));
        }
        self.audit(
            &self.db,
            &Actor::Admin(admin),
            Action::LicenseKeyActivated,
            key_id,
            "signs from now on",
        )
        .await?;
        Ok(())
    }

    /// Every published key, for `GET /api/license/v1/keys`.
    ///
    /// # Errors
    /// Storage errors, or no first key could be made.
    pub async fn published(&self) -> Result<KeyList, SigningError> {
        // A fresh installation publishes its first key before any check asks for it.
        self.active_signing_key().await?;
        let keys = db::license::signing_keys(&self.db).await?;
        Ok(KeyList {
            keys: keys
                .into_iter()
                .map(|k| PublicKey {
                    key_id: k.key_id,
                    public_key: k.public_key,
                })
                .collect(),
        })
    }
}
