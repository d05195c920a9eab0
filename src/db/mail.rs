//! The mail queue: messages and their delivery attempts.

use super::Db;
use sqlx::Executor;

/// A message claimed for delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub to_addr: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i64,
}

/// A row of the mail log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogRow {
    pub id: i64,
    pub to_addr: String,
    pub template: String,
    pub subject: String,
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub last_reply: String,
}

/// Queues a message; returns its id. Call inside the transaction of the event that causes it.
pub async fn enqueue<'e>(
    ex: impl Executor<'e, Database = Db>,
    to: &str,
    template: &str,
    subject: &str,
    text: &str,
    html: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO mail_messages (to_addr, template, subject, text_body, html_body, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6) RETURNING id",
    )
    .bind(to)
    .bind(template)
    .bind(subject)
    .bind(text)
    .bind(html)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// Leases up to `limit` due messages to `owner` until `lease_until`. A message leased by a node
/// is invisible to every other node until its lease expires, so no two nodes send it.
pub async fn claim_due<'e>(
    ex: impl Executor<'e, Database = Db>,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE mail_messages SET lease_until = $1, lease_owner = $2 \
         WHERE id IN (SELECT id FROM mail_messages WHERE state = 'queued' AND next_attempt_at <= $3 \
                      AND (lease_until IS NULL OR lease_until < $3) ORDER BY id LIMIT $4) \
         AND state = 'queued' AND (lease_until IS NULL OR lease_until < $3) \
         RETURNING id, to_addr, subject, text_body, html_body, attempts",
    )
    .bind(lease_until)
    .bind(owner)
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Records one attempt's outcome.
pub async fn record_attempt<'e>(
    ex: impl Executor<'e, Database = Db>,
    message_id: i64,
    now: i64,
    ok: bool,
    code: Option<i64>,
    reply: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_attempts (message_id, at, ok, code, reply) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(message_id)
    .bind(now)
    .bind(i64::from(ok))
    .bind(code)
    .bind(reply)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Marks a message sent or failed for good (and forgets its bodies), or schedules a retry.
pub async fn finish_attempt<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    state: &str,
    attempts: i64,
    next_attempt_at: i64,
    reply: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mail_messages SET state = $1, attempts = $2, next_attempt_at = $3, last_reply = $4, \
         lease_until = NULL, lease_owner = NULL, \
         finished_at = CASE WHEN $1 = 'queued' THEN NULL ELSE $5 END, \
         text_body = CASE WHEN $1 = 'queued' THEN text_body ELSE '' END, \
         html_body = CASE WHEN $1 = 'queued' THEN html_body ELSE '' END \
         WHERE id = $6",
    )
    .bind(state)
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(reply)
    .bind(now)
    .bind(id)
    .execute(ex)
    .await
    .map(|_| ())
}

/// The newest messages, optionally filtered by state and by a recipient substring.
pub async fn log<'e>(
    ex: impl Executor<'e, Database = Db>,
    state: &str,
    to_like: &str,
    limit: i64,
) -> Result<Vec<LogRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, to_addr, template, subject, state, attempts, created_at, next_attempt_at, last_reply FROM mail_messages \
         WHERE ($1 = '' OR state = $1) AND ($2 = '' OR lower(to_addr) LIKE '%' || lower($2) || '%') ORDER BY id DESC LIMIT $3",
    )
    .bind(state)
    .bind(to_like)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Queue health: oldest queued message's creation time, and failures since `since`.
pub async fn health<'e, E>(ex: E, since: i64) -> Result<(Option<i64>, i64, i64), sqlx::Error>
where
    E: Executor<'e, Database = Db> + Copy,
{
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(created_at) FROM mail_messages WHERE state = 'queued'")
            .fetch_one(ex)
            .await?;
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages WHERE state = 'queued'")
            .fetch_one(ex)
            .await?;
    let failed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_messages WHERE state = 'failed' AND finished_at >= $1",
    )
    .bind(since)
    .fetch_one(ex)
    .await?;
    Ok((oldest, queued, failed))
}
