//! The licensing server: products, licences, the verify decision and the signing keys.
//!
//! Keys use the format of the `license-verifier` crate (prefix, random part, check character),
//! and answers its signed wire format, so the server and the verifier cannot drift apart. A
//! licence key is a bearer secret: only its SHA-256 finds it, and the key itself is sealed with
//! the installation's sealing key so the owner can still read it in the client area.

pub mod client;
pub mod signing;
pub mod verify;

use crate::app::AppState;
use crate::db;
use license_verifier::key;

/// Sealing context of licence keys.
const KEY_CONTEXT: &str = "license-key";

/// The lookup hash of a canonical key.
pub fn key_hash(canonical: &str) -> String {
    crate::token::hash(canonical)
}

/// Why a licence could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("there is no product {0}")]
    NoProduct(i64),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error("{0}")]
    Other(#[from] anyhow::Error),
}

/// What an admin asks for.
#[derive(Debug, Clone, Default)]
pub struct IssueRequest {
    pub product_id: i64,
    pub client_id: i64,
    pub expires_at: Option<i64>,
    pub domains: Vec<String>,
    pub ips: Vec<String>,
    pub directories: Vec<String>,
}

/// Issues a licence; returns its id and the key (shown once to the admin, and to the owner).
///
/// # Errors
/// Unknown product, storage, randomness or sealing failures.
pub async fn issue(state: &AppState, req: &IssueRequest) -> Result<(i64, String), IssueError> {
    let product = db::license::find_product(&state.db, req.product_id)
        .await?
        .ok_or(IssueError::NoProduct(req.product_id))?;
    let random = crate::token::random_bytes::<{ key::RANDOM_CHARS }>()
        .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let canonical = key::compose(&product.key_prefix, &random)
        .map_err(|e| anyhow::anyhow!("product prefix {}: {e}", product.key_prefix))?;
    let sealed = state.sealing.seal(canonical.as_bytes(), KEY_CONTEXT)?;
    let hint = canonical.rsplit('-').nth(1).unwrap_or_default().to_owned();
    let id = db::license::insert(
        &state.db,
        &db::license::NewLicense {
            product_id: product.id,
            client_id: req.client_id,
            key_hash: &key_hash(&canonical),
            key_sealed: &sealed,
            key_hint: &hint,
            expires_at: req.expires_at,
            domains: &req.domains,
            ips: &req.ips,
            directories: &req.directories,
        },
        state.clock.unix(),
    )
    .await?;
    Ok((id, canonical))
}

/// The key of a stored licence, for its owner or an admin.
///
/// # Errors
/// The sealing key cannot open it (a different key file than the one that sealed it).
pub fn reveal(state: &AppState, license: &db::license::License) -> anyhow::Result<String> {
    let bytes = state
        .sealing
        .open(&license.key_sealed, KEY_CONTEXT)
        .map_err(|_| anyhow::anyhow!("the sealing key cannot open this licence key"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The status in force at `now`: an expiry date in the past makes an active licence expired.
pub fn effective_status(license: &db::license::License, now: i64) -> &str {
    match license.expires_at {
        Some(at) if at <= now && license.status == "active" => "expired",
        _ => license.status.as_str(),
    }
}

/// What a reissue came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reissue {
    Done,
    /// Already reissued this many times, the product's maximum.
    LimitReached(i64),
    NotFound,
}

/// Clears a licence's bindings so its next check binds it where it then runs; counted, and
/// refused past the product's maximum.
///
/// # Errors
/// Storage errors.
pub async fn reissue(state: &AppState, id: i64) -> Result<Reissue, sqlx::Error> {
    let Some(license) = db::license::find(&state.db, id).await? else {
        return Ok(Reissue::NotFound);
    };
    let max = db::license::find_product(&state.db, license.product_id)
        .await?
        .map_or(0, |p| p.max_reissues);
    if db::license::reissue(&state.db, id, max).await? {
        Ok(Reissue::Done)
    } else {
        Ok(Reissue::LimitReached(max))
    }
}
