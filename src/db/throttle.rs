//! Failed authentication steps per account (`account_throttle`), for `crate::throttle`.
//!
//! Every write is conditional on what was read (`failures` and `blocked_until` unchanged), so of
//! two requests admitted at once one wins and the other reads again: concurrent guesses cannot
//! all slip through on one stale read.

use super::Db;
use sqlx::{Executor, Row as _};

/// One subject's counter as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRow {
    pub failures: i64,
    pub blocked_until: i64,
    pub updated_at: i64,
}

/// The counter of `subject` in `realm`, if it has one.
pub async fn get<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject: &str,
) -> Result<Option<ThrottleRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT failures, blocked_until, updated_at FROM account_throttle WHERE realm = $1 AND subject = $2",
    )
    .bind(realm)
    .bind(subject)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(ThrottleRow {
            failures: r.try_get("failures")?,
            blocked_until: r.try_get("blocked_until")?,
            updated_at: r.try_get("updated_at")?,
        })
    })
    .transpose()
}

/// Stores `next` as the counter of `subject` if it still is `seen` (`None`: no row yet). False
/// when another request changed it first.
pub async fn swap<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject: &str,
    seen: Option<ThrottleRow>,
    next: ThrottleRow,
) -> Result<bool, sqlx::Error> {
    let done = match seen {
        None => {
            sqlx::query(
                "INSERT INTO account_throttle (realm, subject, failures, blocked_until, updated_at, noticed_at) \
                 VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (realm, subject) DO NOTHING",
            )
            .bind(realm)
            .bind(subject)
            .bind(next.failures)
            .bind(next.blocked_until)
            .bind(next.updated_at)
            .execute(ex)
            .await?
        }
        Some(old) => {
            sqlx::query(
                "UPDATE account_throttle SET failures = $3, blocked_until = $4, updated_at = $5 \
                 WHERE realm = $1 AND subject = $2 AND failures = $6 AND blocked_until = $7",
            )
            .bind(realm)
            .bind(subject)
            .bind(next.failures)
            .bind(next.blocked_until)
            .bind(next.updated_at)
            .bind(old.failures)
            .bind(old.blocked_until)
            .execute(ex)
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// Forgets `subject`'s counter (the owner signed in).
pub async fn clear<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM account_throttle WHERE realm = $1 AND subject = $2")
        .bind(realm)
        .bind(subject)
        .execute(ex)
        .await?;
    Ok(())
}

/// Marks that the owner of `subject` is being told now, if they were not told since `since`
/// (one statement, so one of two concurrent failures sends the notice). Creates the row if
/// there is none. True when the caller should send it.
pub async fn take_notice<'e, E>(
    ex: E,
    realm: &str,
    subject: &str,
    now: i64,
    since: i64,
) -> Result<bool, sqlx::Error>
where
    E: Executor<'e, Database = Db>,
{
    let done = sqlx::query(
        "INSERT INTO account_throttle (realm, subject, failures, blocked_until, updated_at, noticed_at) \
         VALUES ($1, $2, 0, 0, $3, $3) \
         ON CONFLICT (realm, subject) DO UPDATE SET noticed_at = excluded.noticed_at \
         WHERE account_throttle.noticed_at <= $4",
    )
    .bind(realm)
    .bind(subject)
    .bind(now)
    .bind(since)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes counters untouched since `before` (at most `limit` rows), for housekeeping.
pub async fn purge<'e>(
    ex: impl Executor<'e, Database = Db>,
    before: i64,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM account_throttle WHERE (realm, subject) IN \
         (SELECT realm, subject FROM account_throttle WHERE updated_at < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}
