//! The audit log: one row per security event, searchable, exportable, and purged after the
//! retention period.

use super::Db;
use sqlx::{Executor, Row as _};

/// One event to record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Entry<'a> {
    /// Who did it: `admin:ID`, `client:ID`, `administrator NAME`, `command line …`, `system`.
    pub actor: &'a str,
    /// What happened, dotted: `signin.success`, `two_factor.reset`, `role.updated`, …
    pub action: &'a str,
    /// Whom or what it concerned (an account, a role, an address); empty when it is the actor.
    pub subject: &'a str,
    pub detail: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// Appends an event.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    now: i64,
    entry: &Entry<'_>,
) -> Result<(), sqlx::Error> {
    let origin = if entry.ip.is_empty() || entry.user_agent.is_empty() {
        crate::request_origin::current()
    } else {
        None
    };
    let (ip, user_agent) = match &origin {
        Some((ip, ua)) => (
            if entry.ip.is_empty() { ip } else { entry.ip },
            if entry.user_agent.is_empty() {
                ua
            } else {
                entry.user_agent
            },
        ),
        None => (entry.ip, entry.user_agent),
    };
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject, detail, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(now)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.subject)
    .bind(entry.detail)
    .bind(ip)
    .bind(user_agent.chars().take(300).collect::<String>())
    .execute(ex)
    .await
    .map(|_| ())
}

/// A stored event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub ip: String,
    pub user_agent: String,
}

/// What to search for; empty strings match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: String,
    /// A prefix: `signin` matches `signin.success` and `signin.failure`.
    pub action: String,
    pub subject: String,
    /// Unix seconds, inclusive.
    pub from: i64,
    /// Unix seconds, exclusive.
    pub to: i64,
    /// Only events with a smaller id (the next page).
    pub before_id: i64,
    pub limit: i64,
}

/// Events matching `filter`, newest first.
pub async fn search<'e>(
    ex: impl Executor<'e, Database = Db>,
    filter: &Filter,
) -> Result<Vec<Row>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, subject, detail, ip, user_agent FROM audit_log \
         WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2 OR action LIKE $2 || '.%') \
         AND ($3 = '' OR subject = $3) AND at >= $4 AND at < $5 AND id < $6 \
         ORDER BY id DESC LIMIT $7",
    )
    .bind(&filter.actor)
    .bind(&filter.action)
    .bind(&filter.subject)
    .bind(filter.from)
    .bind(if filter.to == 0 { i64::MAX } else { filter.to })
    .bind(if filter.before_id == 0 {
        i64::MAX
    } else {
        filter.before_id
    })
    .bind(filter.limit)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Row {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                detail: r.try_get("detail")?,
                ip: r.try_get("ip")?,
                user_agent: r.try_get("user_agent")?,
            })
        })
        .collect()
}

/// Removes up to `batch` events older than `before`; returns how many went. Bounded, so a
/// large backlog never holds a long write lock.
pub async fn purge_before<'e>(
    ex: impl Executor<'e, Database = Db>,
    before: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}
