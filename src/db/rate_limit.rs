//! Request rate limits: one row per admitted request of a kind (password resets, verification
//! emails, licence checks) and key (an address, an account), counted over a sliding window.
//! Old rows are purged by housekeeping (`super::housekeeping`).

use super::Db;
use sqlx::Executor;

/// Admits a rate-limited request if fewer than `limit` of its kind and key were admitted since
/// `since`, and records it; a refused request is not recorded.
pub async fn admit<'e, E>(
    ex: E,
    kind: &str,
    key: &str,
    now: i64,
    since: i64,
    limit: i64,
) -> Result<bool, sqlx::Error>
where
    E: Executor<'e, Database = Db>,
{
    // One statement (one round trip): the row goes in only while fewer than `limit` were counted. Counting stops
    // at the limit and a refused request is not recorded, so one key never holds more than
    // `limit` rows a window: a flood costs each request a bounded index range, not a count of
    // everything the flood sent before it.
    let done = sqlx::query(
        "INSERT INTO request_log (kind, key, at) SELECT $1, $2, $3 \
         WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM request_log WHERE kind = $1 AND key = $2 AND at > $4 LIMIT $5) AS recent) < $5",
    )
    .bind(kind)
    .bind(key)
    .bind(now)
    .bind(since)
    .bind(limit.max(0))
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
