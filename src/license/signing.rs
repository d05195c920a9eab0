//! The Ed25519 keys that sign verify answers: created on first use, sealed at rest, rotated in
//! two steps. A new key is first only published (`GET /api/license/v1/keys`), so vendors can
//! ship it in their software; once activated it signs, and the key before it is retired but
//! stays published, so answers it signed still verify in the field.

use crate::app::AppState;
use crate::db;
use license_verifier::protocol::{KeyList, PublicKey, public_key_of};

const CONTEXT: &str = "license-signing-key";

/// The key that signs now, creating (and activating) the first one on first use.
///
/// # Errors
/// Storage, randomness or sealing failures.
pub async fn active(state: &AppState) -> anyhow::Result<(String, [u8; 32])> {
    let signing = |keys: Vec<db::license::SigningKey>| {
        keys.into_iter()
            .filter(|k| k.retired_at.is_none() && k.activated_at.is_some())
            .max_by_key(|k| k.activated_at)
    };
    let key = if let Some(k) = signing(db::license::signing_keys(&state.db).await?) {
        k
    } else {
        create(state, true).await?;
        signing(db::license::signing_keys(&state.db).await?)
            .ok_or_else(|| anyhow::anyhow!("no signing key after creating one"))?
    };
    let secret: [u8; 32] = state
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

async fn create(state: &AppState, activate: bool) -> anyhow::Result<String> {
    let secret = crate::token::random_bytes::<32>()?;
    let id_bytes = crate::token::random_bytes::<6>()?;
    let key_id = format!("k{}", crate::token::hex(&id_bytes));
    let now = state.clock.unix();
    db::license::insert_signing_key(
        &state.db,
        &db::license::SigningKey {
            key_id: key_id.clone(),
            secret_sealed: state.sealing.seal(&secret, CONTEXT)?,
            public_key: public_key_of(&secret),
            created_at: now,
            activated_at: activate.then_some(now),
            retired_at: None,
        },
    )
    .await?;
    Ok(key_id)
}

/// Adds a key that is published but does not sign yet; returns its id.
///
/// # Errors
/// Storage, randomness or sealing failures.
pub async fn add(state: &AppState) -> anyhow::Result<String> {
    active(state).await?;
    create(state, false).await
}

/// Makes a published key the signing key; the previous one is retired (still published).
///
/// # Errors
/// Storage errors; `Ok(false)` when there is no such unretired key.
pub async fn activate(state: &AppState, key_id: &str) -> Result<bool, sqlx::Error> {
    db::license::activate(&state.db, key_id, state.clock.unix()).await
}

/// Every published key, for `GET /api/license/v1/keys`.
///
/// # Errors
/// Storage errors.
pub async fn published(state: &AppState) -> anyhow::Result<KeyList> {
    // A fresh installation publishes its first key before any check asks for it.
    active(state).await?;
    let keys = db::license::signing_keys(&state.db).await?;
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
