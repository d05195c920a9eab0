//! The provider's signing keys: made on first use, sealed at rest, published before they sign,
//! kept published after they retire, the same on every node.
//!
//! State is derived from the rows and the time, never written back: per algorithm, the key
//! that signs is the newest whose `signs_from` has come; a newer one waiting is *published*;
//! older ones are *retired* from the moment the next one took over and stay in the JWKS for
//! [`KEEP_PUBLISHED`], so tokens they signed still verify (F16). Since nothing is updated in
//! place, two nodes can never disagree about which key signs.
//!
//! The first key of an algorithm signs at once (no relying party can have cached anything); a
//! rotation publishes the next one [`PUBLISH_LEAD`] before it signs, unless the operator asks
//! for now (a leaked key), which the doctor then reports.

use crate::app::AppState;
use crate::clock::Clock;
use crate::db::{self, oidc_key::StoredKey};
use crate::domain::{Action, Actor};
use crate::jose::{KeyPair, SigningAlg};
use crate::sealing::SealingKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a rotated-in key is published before it signs: relying parties refresh a cached
/// JWKS at least daily (mod_auth_openidc's default is an hour), so none meets an unknown kid.
pub const PUBLISH_LEAD: i64 = 24 * 3600;

/// How long a retired key stays published: longer than any token it signed lives (ID tokens at
/// most 10 minutes, logout tokens 2 minutes), with room for a relying party's clock and cache.
pub const KEEP_PUBLISHED: i64 = 7 * 24 * 3600;

const SEALING_CONTEXT: &str = "oidc-signing-key";

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// In the JWKS, signing from the given time.
    Published { signs_from: i64 },
    /// Signs now.
    Signing,
    /// Replaced at the given time; published until [`KEEP_PUBLISHED`] after it.
    Retired { at: i64 },
}

/// A key as the admin page, the CLI and the doctor list it.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: SigningAlg,
    pub created_at: i64,
    pub signs_from: i64,
    pub state: KeyState,
    /// Whether the JWKS lists it.
    pub published: bool,
}

/// Why a key could not be read, made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error(
        "the sealing key cannot open OpenID signing key {kid}; restore the key file the other nodes use (two_factor.key)"
    )]
    Unsealable { kid: String },
    #[error("OpenID signing key {kid} is damaged: {why}")]
    Damaged { kid: String, why: String },
    #[error("no OpenID signing key could be made: {0}")]
    Unusable(#[from] anyhow::Error),
}

/// How long this node signs from the key rows it read last before it reads them again. Every
/// token signed costs one read fewer (the rows carry each sealed key); the price is that a key
/// rotated by another node or by the CLI starts signing here up to this long after it was
/// stored. This node's own rotations take effect at once, and the JWKS is always read afresh,
/// so a key is published on every node before any node signs with it.
pub const ROWS_FRESH: Duration = Duration::from_secs(1);

/// What this node keeps of the keys: each one opened (by kid: a kid's key never changes, so it
/// never goes stale), and the rows last read for signing, for [`ROWS_FRESH`].
#[derive(Default)]
pub struct NodeKeys {
    opened: Mutex<HashMap<String, Arc<KeyPair>>>,
    rows: Mutex<Option<(Instant, Arc<Vec<StoredKey>>)>>,
}

/// The node's key memory, shared by every service on it.
pub type KeyCache = Arc<NodeKeys>;

impl NodeKeys {
    /// The rows read less than [`ROWS_FRESH`] ago, if they hold a key of `alg`.
    fn recent(&self, alg: SigningAlg) -> Option<Arc<Vec<StoredKey>>> {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        rows.as_ref()
            .filter(|(read, rows)| {
                read.elapsed() < ROWS_FRESH && rows.iter().any(|r| r.alg == alg.as_str())
            })
            .map(|(_, rows)| rows.clone())
    }

    fn remember(&self, rows: Arc<Vec<StoredKey>>) {
        *self.rows.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), rows));
    }

    /// After this node changed the rows: the next signature reads them.
    fn forget_rows(&self) {
        *self.rows.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// The provider's keys.
#[derive(Clone)]
pub struct Keys {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    sealing: Arc<SealingKey>,
    cache: KeyCache,
}

impl From<&AppState> for Keys {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            sealing: state.sealing.clone(),
            cache: state.oidc_keys.clone(),
        }
    }
}

/// The state of each stored key at `now`, from the rows alone.
fn states(rows: &[StoredKey], now: i64) -> Vec<(usize, KeyState)> {
    let mut out = Vec::with_capacity(rows.len());
    let mut by_alg: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        by_alg.entry(row.alg.as_str()).or_default().push(i);
    }
    for indexes in by_alg.values() {
        // Rows come ordered by signs_from then kid; the last one whose time has come signs.
        let signing = indexes.iter().rposition(|&i| rows[i].signs_from <= now);
        for (pos, &i) in indexes.iter().enumerate() {
            let state = match signing {
                Some(s) if pos == s => KeyState::Signing,
                Some(s) if pos < s => KeyState::Retired {
                    at: rows[indexes[pos + 1]].signs_from,
                },
                _ => KeyState::Published {
                    signs_from: rows[i].signs_from,
                },
            };
            out.push((i, state));
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

fn published(state: KeyState, now: i64) -> bool {
    match state {
        KeyState::Retired { at } => now < at + KEEP_PUBLISHED,
        _ => true,
    }
}

impl Keys {
    /// Every stored key with its state, by algorithm and age.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let rows = db::oidc_key::all(&self.db).await?;
        let now = self.clock.unix();
        Ok(states(&rows, now)
            .into_iter()
            .filter_map(|(i, state)| {
                let row = &rows[i];
                Some(KeyInfo {
                    kid: row.kid.clone(),
                    alg: SigningAlg::parse(&row.alg)?,
                    created_at: row.created_at,
                    signs_from: row.signs_from,
                    state,
                    published: published(state, now),
                })
            })
            .collect())
    }

    /// The JWKS document: every key not retired for longer than [`KEEP_PUBLISHED`]. Makes the
    /// first RS256 key when there is none (Core: RS256 must be offered).
    ///
    /// # Errors
    /// Storage failures, or no key could be made.
    pub async fn jwks(&self) -> Result<serde_json::Value, KeyError> {
        let mut conn = self.db.acquire().await?;
        let rows = self.ensure(&mut conn, SigningAlg::Rs256).await?;
        let now = self.clock.unix();
        let keys: Vec<serde_json::Value> = states(&rows, now)
            .into_iter()
            .filter(|(_, state)| published(*state, now))
            .filter_map(|(i, _)| serde_json::from_str(&rows[i].public_jwk).ok())
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// The key that signs for `alg` now, making the first one if there is none.
    ///
    /// # Errors
    /// Storage failures, a key this node cannot open, or no key could be made.
    pub async fn signing(&self, alg: SigningAlg) -> Result<Arc<KeyPair>, KeyError> {
        if let Some(rows) = self.cache.recent(alg) {
            return self.signer(&rows, alg);
        }
        let mut conn = self.db.acquire().await?;
        self.signing_on(&mut conn, alg).await
    }

    /// [`Self::signing`], reading the rows (when this node's are older than [`ROWS_FRESH`]) on
    /// the caller's connection: a request that holds one must not wait for a second.
    ///
    /// # Errors
    /// As [`Self::signing`].
    pub async fn signing_on(
        &self,
        conn: &mut db::Connection,
        alg: SigningAlg,
    ) -> Result<Arc<KeyPair>, KeyError> {
        let rows = if let Some(rows) = self.cache.recent(alg) {
            rows
        } else {
            let rows = Arc::new(self.ensure(conn, alg).await?);
            self.cache.remember(rows.clone());
            rows
        };
        self.signer(&rows, alg)
    }

    /// The key of `alg` that signs now among `rows`.
    fn signer(&self, rows: &[StoredKey], alg: SigningAlg) -> Result<Arc<KeyPair>, KeyError> {
        let now = self.clock.unix();
        let row = states(rows, now)
            .into_iter()
            .find(|(i, state)| *state == KeyState::Signing && rows[*i].alg == alg.as_str())
            .map(|(i, _)| &rows[i])
            .ok_or_else(|| anyhow::anyhow!("no {alg} key signs after making the first one"))?;
        self.open(row, alg)
    }

    /// Publishes a new key for `alg` that signs after [`PUBLISH_LEAD`], or at once when `now`
    /// is set (a leaked key: relying parties that cached the JWKS refuse tokens until they
    /// fetch it again). Audited.
    ///
    /// # Errors
    /// Storage failures, or no key could be made.
    pub async fn rotate(
        &self,
        actor: &Actor,
        alg: SigningAlg,
        at_once: bool,
    ) -> Result<KeyInfo, KeyError> {
        let now = self.clock.unix();
        let rows = db::oidc_key::all(&self.db).await?;
        let latest = rows
            .iter()
            .filter(|r| r.alg == alg.as_str())
            .map(|r| r.signs_from)
            .max();
        // The first key of an algorithm replaces nothing and nobody has cached it: it signs at
        // once, or an application set to that algorithm could not sign anyone in for a day.
        let at_once = at_once || latest.is_none();
        let signs_from = if at_once { now } else { now + PUBLISH_LEAD };
        // A key rotated "now" must win over one made in the same second: its signs_from is not
        // before any other key's, and kids break ties, so bump past a same-second sibling.
        let signs_from = latest.map_or(signs_from, |l| signs_from.max(l + 1));
        let row = self.make(alg, now, signs_from)?;
        let mut tx = self.db.begin().await?;
        db::oidc_key::insert(&mut *tx, &row).await?;
        let detail = if latest.is_none() {
            format!(
                "{alg}: {} is the first key of its algorithm and signs at once",
                row.kid
            )
        } else if at_once {
            format!("{alg}: {} signs at once", row.kid)
        } else {
            format!("{alg}: {} published, signs in a day", row.kid)
        };
        crate::audit::record(
            &mut *tx,
            now,
            actor,
            Action::OidcKeyRotated,
            &row.kid,
            &detail,
        )
        .await?;
        tx.commit().await?;
        self.cache.forget_rows();
        let info = self.list().await?.into_iter().find(|k| k.kid == row.kid);
        info.ok_or_else(|| KeyError::Unusable(anyhow::anyhow!("the new key was not stored")))
    }

    /// Removes keys retired for longer than [`KEEP_PUBLISHED`] (housekeeping): they are no
    /// longer published, and nothing they signed is still valid.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn remove_expired(&self) -> Result<u64, KeyError> {
        let rows = db::oidc_key::all(&self.db).await?;
        let now = self.clock.unix();
        let gone: Vec<String> = states(&rows, now)
            .into_iter()
            .filter(|(_, state)| !published(*state, now))
            .map(|(i, _)| rows[i].kid.clone())
            .collect();
        let deleted = db::oidc_key::delete(&self.db, &gone).await?;
        self.cache.forget_rows();
        Ok(deleted)
    }

    /// Every stored key, after making the first key of `alg` if there was none: one read on
    /// the signing path, a second only the once a key is made.
    async fn ensure(
        &self,
        conn: &mut db::Connection,
        alg: SigningAlg,
    ) -> Result<Vec<StoredKey>, KeyError> {
        let rows = db::oidc_key::all(&mut *conn).await?;
        if rows.iter().any(|r| r.alg == alg.as_str()) {
            return Ok(rows);
        }
        let now = self.clock.unix();
        // RSA key generation takes a moment: off the async threads.
        let this = self.clone();
        let row = tokio::task::spawn_blocking(move || this.make(alg, now, now))
            .await
            .map_err(|e| anyhow::anyhow!("key generation stopped: {e}"))??;
        // Two nodes may race here; the first insert wins and the other key is dropped unused.
        db::oidc_key::insert_first(&mut *conn, &row).await?;
        Ok(db::oidc_key::all(&mut *conn).await?)
    }

    fn make(&self, alg: SigningAlg, now: i64, signs_from: i64) -> Result<StoredKey, KeyError> {
        let pair = KeyPair::generate(alg).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(StoredKey {
            kid: pair.kid().to_owned(),
            alg: alg.as_str().to_owned(),
            key_sealed: self.sealing.seal(pair.der(), SEALING_CONTEXT)?,
            public_jwk: pair.public_jwk().to_string(),
            created_at: now,
            signs_from,
        })
    }

    /// Checks a token this provider signed (an ID token sent back as `id_token_hint`): its
    /// key must be one of ours still published, and its signature right. Expiry is not checked
    /// (a hint may be old); the caller checks the issuer.
    ///
    /// # Errors
    /// `None` for a token that is not ours or does not verify; storage errors.
    pub async fn verify_own(
        &self,
        token: &str,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, KeyError> {
        let Ok(header) = crate::jose::header_of(token) else {
            return Ok(None);
        };
        let Some(kid) = header.kid else {
            return Ok(None);
        };
        let rows = db::oidc_key::all(&self.db).await?;
        let now = self.clock.unix();
        let Some((i, _)) = states(&rows, now)
            .into_iter()
            .find(|(i, state)| rows[*i].kid == kid && published(*state, now))
        else {
            return Ok(None);
        };
        let Some(alg) = SigningAlg::parse(&rows[i].alg) else {
            return Ok(None);
        };
        let pair = self.open(&rows[i], alg)?;
        let key = pair.decoding_key().map_err(|e| KeyError::Damaged {
            kid: kid.clone(),
            why: e.to_string(),
        })?;
        Ok(crate::jose::verify(crate::jose::Use::Provider, token, &key).ok())
    }

    fn open(&self, row: &StoredKey, alg: SigningAlg) -> Result<Arc<KeyPair>, KeyError> {
        let mut cache = self
            .cache
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(pair) = cache.get(&row.kid) {
            return Ok(pair.clone());
        }
        let der = self
            .sealing
            .open(&row.key_sealed, SEALING_CONTEXT)
            .map_err(|_| KeyError::Unsealable {
                kid: row.kid.clone(),
            })?;
        let pair = KeyPair::from_der(&row.kid, alg, der).map_err(|e| KeyError::Damaged {
            kid: row.kid.clone(),
            why: e.to_string(),
        })?;
        let pair = Arc::new(pair);
        cache.insert(row.kid.clone(), pair.clone());
        Ok(pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kid: &str, alg: &str, signs_from: i64) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            alg: alg.into(),
            key_sealed: String::new(),
            public_jwk: String::new(),
            created_at: 0,
            signs_from,
        }
    }

    #[test]
    fn the_newest_key_whose_time_has_come_signs_and_the_one_before_is_retired_then() {
        let rows = [
            row("a", "RS256", 0),
            row("b", "RS256", 100),
            row("c", "RS256", 200),
            row("e", "ES256", 50),
        ];
        let at = |now| {
            states(&rows, now)
                .into_iter()
                .map(|(_, s)| s)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            at(150),
            [
                KeyState::Retired { at: 100 },
                KeyState::Signing,
                KeyState::Published { signs_from: 200 },
                KeyState::Signing,
            ]
        );
        assert_eq!(
            at(200)[..3],
            [
                KeyState::Retired { at: 100 },
                KeyState::Retired { at: 200 },
                KeyState::Signing
            ]
        );
    }

    #[test]
    fn a_retired_key_stays_published_for_a_week() {
        let retired = KeyState::Retired { at: 1000 };
        assert!(published(retired, 1000 + KEEP_PUBLISHED - 1));
        assert!(!published(retired, 1000 + KEEP_PUBLISHED));
        assert!(published(KeyState::Published { signs_from: 5 }, 0));
    }
}
