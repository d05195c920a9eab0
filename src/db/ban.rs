//! Failed sign-ins and bans. A ban's `ip` is its key (an IPv4 address or an IPv6 /64, see
//! `crate::ban::key_of`) and `scope` the area it covers (`admin`, `client`, `both`); the pair
//! is the primary key.

use super::Db;
use sqlx::Executor;

/// An active or expired ban.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BanRow {
    /// The banned key: an IPv4 address or an IPv6 /64 (`2001:db8:1:2::/64`).
    pub ip: String,
    /// The area it covers: `admin`, `client` or `both`.
    pub scope: String,
    pub reason: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub created_by: String,
}

/// The bans on key `ip` in force at `now`, of every scope (at most three rows). One lookup on
/// the primary key's prefix.
pub async fn active<'e>(
    ex: impl Executor<'e, Database = Db>,
    ip: &str,
    now: i64,
) -> Result<Vec<BanRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ip, scope, reason, created_at, expires_at, created_by FROM bans WHERE ip = $1 AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(ip)
    .bind(now)
    .fetch_all(ex)
    .await
}

/// Every ban in force, newest first.
pub async fn list_active<'e>(
    ex: impl Executor<'e, Database = Db>,
    now: i64,
) -> Result<Vec<BanRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ip, scope, reason, created_at, expires_at, created_by FROM bans WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC, ip, scope LIMIT 1000",
    )
    .bind(now)
    .fetch_all(ex)
    .await
}

/// Bans `ip` in `ban.scope` (replacing any earlier ban on it in that scope).
pub async fn upsert<'e>(
    ex: impl Executor<'e, Database = Db>,
    ban: &BanRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bans (ip, scope, reason, created_at, expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (ip, scope) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at, \
         expires_at = excluded.expires_at, created_by = excluded.created_by",
    )
    .bind(&ban.ip)
    .bind(&ban.scope)
    .bind(&ban.reason)
    .bind(ban.created_at)
    .bind(ban.expires_at)
    .bind(&ban.created_by)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Lifts the bans on `ip`, in `scope` only or (`None`) in every scope; returns whether there
/// was one.
pub async fn delete<'e>(
    ex: impl Executor<'e, Database = Db>,
    ip: &str,
    scope: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = match scope {
        Some(scope) => {
            sqlx::query("DELETE FROM bans WHERE ip = $1 AND scope = $2")
                .bind(ip)
                .bind(scope)
                .execute(ex)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM bans WHERE ip = $1")
                .bind(ip)
                .execute(ex)
                .await?
        }
    };
    Ok(done.rows_affected() > 0)
}

/// Records a failed sign-in; `ip` is the counting key (`crate::ban::key_of`: an IPv6 /64
/// counts as one).
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
