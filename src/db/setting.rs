//! Runtime settings and stored Cloudflare lists.

use super::Db;
use sqlx::Executor;

/// Every stored setting: key, value text, when and by whom.
pub async fn all<'e>(
    ex: impl Executor<'e, Database = Db>,
) -> Result<Vec<(String, String, i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT key, value, updated_at, updated_by FROM settings ORDER BY key")
        .fetch_all(ex)
        .await
}

/// Stores one setting.
pub async fn upsert<'e>(
    ex: impl Executor<'e, Database = Db>,
    key: &str,
    value: &str,
    now: i64,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .bind(actor)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A stored address list: IPv4 text, IPv6 text, when it was taken, where from.
pub async fn network_list<'e>(
    ex: impl Executor<'e, Database = Db>,
    name: &str,
) -> Result<Option<(String, String, i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT v4, v6, taken_at, source FROM network_lists WHERE name = $1")
        .bind(name)
        .fetch_optional(ex)
        .await
}

/// Replaces a stored address list.
pub async fn store_network_list<'e>(
    ex: impl Executor<'e, Database = Db>,
    name: &str,
    v4: &str,
    v6: &str,
    now: i64,
    source: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO network_lists (name, v4, v6, taken_at, source) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO UPDATE SET v4 = excluded.v4, v6 = excluded.v6, taken_at = excluded.taken_at, source = excluded.source",
    )
    .bind(name)
    .bind(v4)
    .bind(v6)
    .bind(now)
    .bind(source)
    .execute(ex)
    .await
    .map(|_| ())
}
