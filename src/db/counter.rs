//! Diagnostic event counters in hourly buckets, shared by every process that opens the database.

use super::Db;
use sqlx::Executor;

/// Seconds per bucket.
const BUCKET: i64 = 3600;

/// A counter summed over a window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CounterSum {
    pub label: String,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub sample: String,
}

/// Adds one event of `name` / `label`, remembering a sample (never a secret).
pub async fn record<'e>(
    ex: impl Executor<'e, Database = Db>,
    name: &str,
    label: &str,
    sample: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    record_many(ex, name, label, sample, 1, now).await
}

/// Adds `count` events of `name` / `label` at once.
pub async fn record_many<'e>(
    ex: impl Executor<'e, Database = Db>,
    name: &str,
    label: &str,
    sample: &str,
    count: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO event_counters (name, label, bucket, count, first_seen, last_seen, sample) \
         VALUES ($1, $2, $3, $6, $4, $4, $5) \
         ON CONFLICT (name, label, bucket) DO UPDATE SET count = event_counters.count + excluded.count, \
         last_seen = excluded.last_seen, sample = excluded.sample",
    )
    .bind(name)
    .bind(label)
    .bind(now - now.rem_euclid(BUCKET))
    .bind(now)
    .bind(sample)
    .bind(count)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Per-label totals of `name` since `since`, largest first.
pub async fn sum_since<'e>(
    ex: impl Executor<'e, Database = Db>,
    name: &str,
    since: i64,
) -> Result<Vec<CounterSum>, sqlx::Error> {
    sqlx::query_as(
        "SELECT label, CAST(SUM(count) AS BIGINT) AS count, MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen, \
         MAX(sample) AS sample FROM event_counters WHERE name = $1 AND last_seen >= $2 \
         GROUP BY label ORDER BY 2 DESC",
    )
    .bind(name)
    .bind(since - since.rem_euclid(BUCKET))
    .fetch_all(ex)
    .await
}
