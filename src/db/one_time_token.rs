//! Single-use links, stored as hashes with an expiry.

use super::Db;
use sqlx::Executor;

/// Why a presented token cannot be used; each case gets its own message (F10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Valid { subject_id: Option<i64> },
    Unknown,
    Expired { at: i64 },
    Used { at: i64 },
}

/// Stores a token hash for `purpose`.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
    purpose: &str,
    subject_id: Option<i64>,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, subject_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(purpose)
    .bind(subject_id)
    .bind(now)
    .bind(expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Looks a token up without consuming it.
pub async fn state<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
    purpose: &str,
    now: i64,
) -> Result<TokenState, sqlx::Error> {
    let row: Option<(Option<i64>, i64, Option<i64>)> = sqlx::query_as(
        "SELECT subject_id, expires_at, used_at FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2",
    )
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(ex)
    .await?;
    Ok(match row {
        None => TokenState::Unknown,
        Some((_, _, Some(at))) => TokenState::Used { at },
        Some((_, expires, None)) if expires <= now => TokenState::Expired { at: expires },
        Some((subject_id, _, None)) => TokenState::Valid { subject_id },
    })
}

/// Marks a token used; returns false when it was already used or expired (a race lost).
pub async fn consume<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
    purpose: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE one_time_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(token_hash)
    .bind(purpose)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Invalidates every unused token of a purpose by expiring it now (a new link replaces the
/// old one, which then reports "expired at", not "already used").
pub async fn revoke_purpose<'e>(
    ex: impl Executor<'e, Database = Db>,
    purpose: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE one_time_tokens SET expires_at = $1 WHERE purpose = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(purpose)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Expires every unused token of a purpose for one subject (a new link replaces older ones).
pub async fn revoke_subject<'e>(
    ex: impl Executor<'e, Database = Db>,
    purpose: &str,
    subject_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE one_time_tokens SET expires_at = $1 WHERE purpose = $2 AND subject_id = $3 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(purpose)
        .bind(subject_id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Stores a token that carries data (an invitation's email and role).
pub async fn insert_with_data<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
    purpose: &str,
    data: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO one_time_tokens (token_hash, purpose, subject_id, created_at, expires_at, data) VALUES ($1, $2, NULL, $3, $4, $5)")
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .bind(expires_at)
        .bind(data)
        .execute(ex)
        .await
        .map(|_| ())
}

/// The data a token carries.
pub async fn data<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
    purpose: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT data FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2")
        .bind(token_hash)
        .bind(purpose)
        .fetch_optional(ex)
        .await
}

/// Expires every unused token of a purpose carrying `data` (a resent invitation replaces the old).
pub async fn revoke_data<'e>(
    ex: impl Executor<'e, Database = Db>,
    purpose: &str,
    data: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE one_time_tokens SET expires_at = $1 WHERE purpose = $2 AND data = $3 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(purpose)
        .bind(data)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Revokes every unused link of `purpose` whose grant starts with `prefix` (for example every
/// invitation to one client account: `"ID:"`); returns how many.
pub async fn revoke_data_prefix<'e>(
    ex: impl Executor<'e, Database = Db>,
    purpose: &str,
    prefix: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    // A prefix made of digits and ':' only, so no LIKE wildcard can be in it.
    let pattern = format!("{prefix}%");
    let done = sqlx::query("UPDATE one_time_tokens SET expires_at = $1 WHERE purpose = $2 AND data LIKE $3 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(purpose)
        .bind(pattern)
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}

/// The newest unused, unexpired link of `purpose`: when it was made and when it expires.
pub async fn outstanding<'e>(
    ex: impl Executor<'e, Database = Db>,
    purpose: &str,
    now: i64,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let row = sqlx::query("SELECT created_at, expires_at FROM one_time_tokens WHERE purpose = $1 AND used_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 1")
        .bind(purpose)
        .bind(now)
        .fetch_optional(ex)
        .await?;
    row.map(|r| {
        Ok((
            sqlx::Row::try_get(&r, "created_at")?,
            sqlx::Row::try_get(&r, "expires_at")?,
        ))
    })
    .transpose()
}

/// Stores a token for one subject that also carries data (an email change: the user, and the
/// new address; its undo link: the user, and the old address).
pub async fn insert_for_subject_with_data<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
    purpose: &str,
    subject_id: i64,
    data: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO one_time_tokens (token_hash, purpose, subject_id, created_at, expires_at, data) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(token_hash)
        .bind(purpose)
        .bind(subject_id)
        .bind(now)
        .bind(expires_at)
        .bind(data)
        .execute(ex)
        .await
        .map(|_| ())
}
