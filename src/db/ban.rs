//! Failed sign-ins and bans.

use super::Db;
use sqlx::Executor;

/// An active or expired ban.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BanRow {
    pub ip: String,
    pub reason: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub created_by: String,
}

/// The ban on `ip` that is in force at `now`, if any. One primary-key lookup.
pub async fn active<'e>(
    ex: impl Executor<'e, Database = Db>,
    ip: &str,
    now: i64,
) -> Result<Option<BanRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ip, reason, created_at, expires_at, created_by FROM bans WHERE ip = $1 AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(ip)
    .bind(now)
    .fetch_optional(ex)
    .await
}

/// Every ban in force, newest first.
pub async fn list_active<'e>(
    ex: impl Executor<'e, Database = Db>,
    now: i64,
) -> Result<Vec<BanRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ip, reason, created_at, expires_at, created_by FROM bans WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC LIMIT 1000",
    )
    .bind(now)
    .fetch_all(ex)
    .await
}

/// Bans `ip` (replacing any earlier ban on it).
pub async fn upsert<'e>(
    ex: impl Executor<'e, Database = Db>,
    ban: &BanRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bans (ip, reason, created_at, expires_at, created_by) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (ip) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at, \
         expires_at = excluded.expires_at, created_by = excluded.created_by",
    )
    .bind(&ban.ip)
    .bind(&ban.reason)
    .bind(ban.created_at)
    .bind(ban.expires_at)
    .bind(&ban.created_by)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Lifts the ban on `ip`; returns whether there was one.
pub async fn delete<'e>(
    ex: impl Executor<'e, Database = Db>,
    ip: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM bans WHERE ip = $1")
        .bind(ip)
        .execute(ex)
        .await?
        .rows_affected()
        > 0)
}

/// Records a failed sign-in.
pub async fn record_failure<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    ip: &str,
    account: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO login_failures (realm, ip, account, at) VALUES ($1, $2, $3, $4)")
        .bind(realm)
        .bind(ip)
        .bind(account)
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Failed sign-ins from `ip` in a realm since `since`: in total, and for `account` from it.
pub async fn failures_since<'e, E>(
    ex: E,
    realm: &str,
    ip: &str,
    account: &str,
    since: i64,
) -> Result<(i64, i64), sqlx::Error>
where
    E: Executor<'e, Database = Db> + Copy,
{
    let by_ip: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_failures WHERE realm = $1 AND ip = $2 AND at > $3",
    )
    .bind(realm)
    .bind(ip)
    .bind(since)
    .fetch_one(ex)
    .await?;
    let by_account: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE realm = $1 AND account = $2 AND ip = $3 AND at > $4")
            .bind(realm)
            .bind(account)
            .bind(ip)
            .bind(since)
            .fetch_one(ex)
            .await?;
    Ok((by_ip, by_account))
}

/// Sign-ins of the last `since` seconds by address: (ip, count), most first.
pub async fn sign_ins_by_ip_since<'e>(
    ex: impl Executor<'e, Database = Db>,
    since: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ip, COUNT(*) FROM sessions WHERE created_at >= $1 AND realm <> 'probe' GROUP BY ip ORDER BY COUNT(*) DESC LIMIT 5",
    )
    .bind(since)
    .fetch_all(ex)
    .await
}
