//! The OpenID provider's signing keys (`oidc_signing_keys`): rows are inserted, read and, long
//! after retirement, deleted; never updated, so every node derives the same state from them.

use super::Db;
use sqlx::{Executor, Row as _};

/// A signing key as stored.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub key_sealed: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub signs_from: i64,
}

/// Every signing key, by algorithm and then oldest first.
pub async fn all<'e>(ex: impl Executor<'e, Database = Db>) -> Result<Vec<StoredKey>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kid, alg, key_sealed, public_jwk, created_at, signs_from FROM oidc_signing_keys ORDER BY alg, signs_from, kid",
    )
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredKey {
                kid: r.try_get("kid")?,
                alg: r.try_get("alg")?,
                key_sealed: r.try_get("key_sealed")?,
                public_jwk: r.try_get("public_jwk")?,
                created_at: r.try_get("created_at")?,
                signs_from: r.try_get("signs_from")?,
            })
        })
        .collect()
}

type Query<'q> = sqlx::query::Query<'q, Db, sqlx::any::AnyArguments>;

/// The key's six columns bound as `$1`..`$6`, in the order both inserts name them.
fn bound<'q>(sql: &'static str, k: &'q StoredKey) -> Query<'q> {
    sqlx::query(sql)
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.key_sealed)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.signs_from)
}

/// Stores a key.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    k: &StoredKey,
) -> Result<(), sqlx::Error> {
    bound(
        "INSERT INTO oidc_signing_keys (kid, alg, key_sealed, public_jwk, created_at, signs_from) VALUES ($1, $2, $3, $4, $5, $6)",
        k,
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Stores the first key of an algorithm, unless one exists (two nodes starting at once).
/// Returns whether this one was stored.
pub async fn insert_first<'e>(
    ex: impl Executor<'e, Database = Db>,
    k: &StoredKey,
) -> Result<bool, sqlx::Error> {
    let done = bound(
        "INSERT INTO oidc_signing_keys (kid, alg, key_sealed, public_jwk, created_at, signs_from) SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM oidc_signing_keys WHERE alg = $2)",
        k,
    )
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the keys whose kid is listed (retired past their publication).
pub async fn delete<'e>(
    ex: impl Executor<'e, Database = Db> + Copy,
    kids: &[String],
) -> Result<u64, sqlx::Error> {
    let mut gone = 0;
    for kid in kids {
        gone += sqlx::query("DELETE FROM oidc_signing_keys WHERE kid = $1")
            .bind(kid)
            .execute(ex)
            .await?
            .rows_affected();
    }
    Ok(gone)
}
