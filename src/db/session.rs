//! The `sessions` table: one row per sign-in, kept with its end reason after it ends.

use super::{Db, flag};
use sqlx::{Executor, Row as _};

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id_hash: String,
    pub realm: String,
    pub subject_id: i64,
    pub client_id: Option<i64>,
    /// Set when an admin signed in as this client ("login as client").
    pub impersonator_admin_id: Option<i64>,
    pub ip: String,
    pub user_agent: String,
    pub remember: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    /// The second factor that completed the sign-in (`totp`, `backup_code`, `webauthn`,
    /// `duo`); `None` for a password alone.
    pub second_factor: Option<String>,
}

/// `SELECT` of every session column, followed by a literal clause.
macro_rules! select_session {
    ($rest:literal) => {
        concat!(
            "SELECT id_hash, realm, subject_id, client_id, impersonator_admin_id, ip, user_agent, remember, created_at, \
             last_seen_at, expires_at, ended_at, end_reason, second_factor FROM sessions ",
            $rest
        )
    };
}

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id_hash: row.try_get("id_hash")?,
        realm: row.try_get("realm")?,
        subject_id: row.try_get("subject_id")?,
        client_id: row.try_get("client_id")?,
        impersonator_admin_id: row.try_get("impersonator_admin_id")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        remember: flag(row.try_get("remember")?),
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        expires_at: row.try_get("expires_at")?,
        ended_at: row.try_get("ended_at")?,
        end_reason: row.try_get("end_reason")?,
        second_factor: row.try_get("second_factor")?,
    })
}

/// Stores a new session with its one-time sign-in marker.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    row: &SessionRow,
    marker_hash: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, realm, subject_id, client_id, ip, user_agent, remember, created_at, last_seen_at, expires_at, signin_marker_hash, impersonator_admin_id, second_factor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&row.id_hash)
    .bind(&row.realm)
    .bind(row.subject_id)
    .bind(row.client_id)
    .bind(&row.ip)
    .bind(&row.user_agent)
    .bind(i64::from(row.remember))
    .bind(row.created_at)
    .bind(row.last_seen_at)
    .bind(row.expires_at)
    .bind(marker_hash)
    .bind(row.impersonator_admin_id)
    .bind(&row.second_factor)
    .execute(ex)
    .await
    .map(|_| ())
}

/// The one indexed lookup a request costs: by the hash of the cookie value.
pub async fn find_by_hash<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query(select_session!("WHERE id_hash = $1"))
        .bind(id_hash)
        .fetch_optional(ex)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// The session a sign-in marker was issued for.
pub async fn find_by_marker<'e>(
    ex: impl Executor<'e, Database = Db>,
    marker_hash: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query(select_session!("WHERE signin_marker_hash = $1"))
        .bind(marker_hash)
        .fetch_optional(ex)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// Consumes the sign-in marker once the browser has proved it returns the cookie.
pub async fn clear_marker<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET signin_marker_hash = NULL WHERE id_hash = $1")
        .bind(id_hash)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Records activity (called at most once per throttle interval per session).
pub async fn touch<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(id_hash)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Ends one live session with a reason; returns whether it was live.
pub async fn end<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2, signin_marker_hash = NULL \
         WHERE id_hash = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id_hash)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends one live session of a given subject (so nobody can end someone else's by guessing).
pub async fn end_for_subject<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    id_hash: &str,
    reason: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2, signin_marker_hash = NULL \
         WHERE id_hash = $3 AND realm = $4 AND subject_id = $5 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(id_hash)
    .bind(realm)
    .bind(subject_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every live session of a subject except `keep` (password change, disable).
pub async fn end_all_for_subject<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2, signin_marker_hash = NULL \
         WHERE realm = $3 AND subject_id = $4 AND ended_at IS NULL AND id_hash <> $5",
    )
    .bind(now)
    .bind(reason)
    .bind(realm)
    .bind(subject_id)
    .bind(keep.unwrap_or(""))
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Ends every live client session an admin started with "login as client": disabling or
/// deleting the admin must not leave them inside a client's account.
pub async fn end_impersonations_by<'e>(
    ex: impl Executor<'e, Database = Db>,
    admin_id: i64,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = $2, signin_marker_hash = NULL \
         WHERE realm = 'client' AND impersonator_admin_id = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(admin_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Live sessions of a subject, newest first.
pub async fn list_live_for_subject<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    now: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query(select_session!(
        "WHERE realm = $1 AND subject_id = $2 AND ended_at IS NULL AND expires_at > $3 \
         ORDER BY last_seen_at DESC LIMIT 100"
    ))
    .bind(realm)
    .bind(subject_id)
    .bind(now)
    .fetch_all(ex)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// How many sessions ended since `since`, per end reason.
pub async fn end_reasons_since<'e>(
    ex: impl Executor<'e, Database = Db>,
    since: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT end_reason, COUNT(*) FROM sessions WHERE ended_at >= $1 AND end_reason IS NOT NULL \
         AND realm <> 'probe' GROUP BY end_reason ORDER BY COUNT(*) DESC",
    )
    .bind(since)
    .fetch_all(ex)
    .await
}

/// Deletes one row by hash (the storage probe cleans up after itself).
pub async fn delete<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Records that the session's owner proved themselves again (step-up).
pub async fn step_up<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET stepped_up_at = $1 WHERE id_hash = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(id_hash)
        .execute(ex)
        .await
        .map(|_| ())
}

/// When the session last stepped up, if ever.
pub async fn stepped_up_at<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT stepped_up_at FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .fetch_optional(ex)
        .await
        .map(Option::flatten)
}

/// Makes `client_id` the session's active client account (the account switcher).
pub async fn set_client<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    client_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET client_id = $2 WHERE id_hash = $1 AND ended_at IS NULL")
        .bind(id_hash)
        .bind(client_id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Records which admin session opened a "login as client" session, so it ends with it.
pub async fn set_impersonator_session<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    admin_session_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET impersonator_session_hash = $1 WHERE id_hash = $2")
        .bind(admin_session_hash)
        .bind(id_hash)
        .execute(ex)
        .await
        .map(|_| ())
}

/// The admin session behind a "login as client" session, as far as its liveness goes.
#[derive(Debug, Clone)]
pub struct ParentSession {
    pub id_hash: String,
    pub ended_at: Option<i64>,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// The admin session that opened the "login as client" session `id_hash`; `None` when it
/// names none (opened before sessions recorded it) or that session is gone.
pub async fn impersonator_session<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<Option<ParentSession>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT p.id_hash, p.ended_at, p.last_seen_at, p.expires_at FROM sessions c \
         JOIN sessions p ON p.id_hash = c.impersonator_session_hash AND p.realm = 'admin' \
         WHERE c.id_hash = $1",
    )
    .bind(id_hash)
    .fetch_optional(ex)
    .await?;
    row.map(|row| {
        Ok(ParentSession {
            id_hash: row.try_get("id_hash")?,
            ended_at: row.try_get("ended_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            expires_at: row.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// The live "login as client" sessions of admin `admin_id` whose admin session has ended
/// (or was never recorded): those an admin-side end must end too.
pub async fn orphaned_impersonations<'e>(
    ex: impl Executor<'e, Database = Db>,
    admin_id: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query(select_session!(
        "WHERE impersonator_admin_id = $1 AND ended_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM sessions p WHERE p.id_hash = sessions.impersonator_session_hash \
          AND p.ended_at IS NULL)"
    ))
    .bind(admin_id)
    .fetch_all(ex)
    .await?
    .iter()
    .map(from_row)
    .collect()
}
