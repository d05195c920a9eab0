//! The Ed25519 keys that sign verify answers: created on first use, sealed at rest, rotatable.
//! Retired keys stay published, so answers signed before a rotation still verify in the field
//! until vendors ship the new key; only the newest key signs.

use crate::app::AppState;
use crate::db;
use license_verifier::protocol::{KeyList, PublicKey, public_key_of};

const CONTEXT: &str = "license-signing-key";

/// The key that signs now: its id and secret.
///
/// # Errors
/// Storage, randomness or sealing failures.
pub async fn active(state: &AppState) -> anyhow::Result<(String, [u8; 32])> {
    let keys = db::license::signing_keys(&state.db).await?;
    let key = if let Some(k) = keys.into_iter().find(|k| k.retired_at.is_none()) {
        k
    } else {
        create(state).await?;
        db::license::signing_keys(&state.db)
            .await?
            .into_iter()
            .find(|k| k.retired_at.is_none())
            .ok_or_else(|| anyhow::anyhow!("no active signing key after creating one"))?
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

async fn create(state: &AppState) -> anyhow::Result<String> {
    let secret = crate::token::random_bytes::<32>()?;
    let id_bytes = crate::token::random_bytes::<6>()?;
    let key_id = format!("k{}", crate::token::hex(&id_bytes));
    db::license::insert_signing_key(
        &state.db,
        &db::license::SigningKey {
            key_id: key_id.clone(),
            secret_sealed: state.sealing.seal(&secret, CONTEXT)?,
            public_key: public_key_of(&secret),
            created_at: state.clock.unix(),
            retired_at: None,
        },
    )
    .await?;
    Ok(key_id)
}

/// Creates a new signing key and retires the others; returns the new key's id.
///
/// # Errors
/// Storage, randomness or sealing failures.
pub async fn rotate(state: &AppState) -> anyhow::Result<String> {
    let key_id = create(state).await?;
    db::license::retire_others(&state.db, &key_id, state.clock.unix()).await?;
    Ok(key_id)
}

/// Every public key, active first, for `GET /api/license/v1/keys`.
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
