//! Back-channel logout deliveries (`oidc_logout_deliveries`): queued when a session ends,
//! leased by one sender at a time, finished as sent or failed with the last answer.

use super::Db;
use sqlx::{Executor, Row as _};

/// The `INSERT ... SELECT` that queues one delivery per application with a back-channel logout
/// URI that got a token from a session matched by `$where` (which binds `$1`, the time).
macro_rules! queue_for {
    ($where:literal) => {
        concat!(
            "INSERT INTO oidc_logout_deliveries (application_id, session_id_hash, realm, subject_id, uri, state, attempts, next_attempt_at, created_at) \
             SELECT DISTINCT t.application_id, t.session_id_hash, t.realm, t.subject_id, a.backchannel_logout_uri, 'queued', 0, $1, $1 \
             FROM oidc_tokens t JOIN oidc_applications a ON a.id = t.application_id \
             WHERE a.backchannel_logout_uri IS NOT NULL AND a.backchannel_logout_uri <> '' AND ",
            $where,
            " ON CONFLICT (application_id, session_id_hash) DO NOTHING"
        )
    };
}

/// Queues the deliveries for the sessions that ended at `now` (in the transaction that ended
/// them); how many.
pub async fn queue_for_sessions_ended_at<'e>(
    ex: impl Executor<'e, Database = Db>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(queue_for!(
        "t.session_id_hash IN (SELECT id_hash FROM sessions WHERE ended_at = $1)"
    ))
    .bind(now)
    .execute(ex)
    .await
    .map(|r| r.rows_affected())
}

/// Ends, at `now`, the sessions that gave live tokens to applications and ran out their
/// lifetime while nobody used them (a timeout is otherwise noticed only when the browser comes
/// back); how many.
pub async fn end_lapsed_with_tokens<'e>(
    ex: impl Executor<'e, Database = Db>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = 'absolute_timeout', signin_marker_hash = NULL \
         WHERE ended_at IS NULL AND expires_at <= $1 \
         AND id_hash IN (SELECT session_id_hash FROM oidc_tokens WHERE revoked_at IS NULL)",
    )
    .bind(now)
    .execute(ex)
    .await
    .map(|r| r.rows_affected())
}

/// Ends, at `now`, the sessions of one realm and kind (`remember` 0 or 1) that gave live tokens
/// to applications and were last seen before `idle_cutoff`; how many.
pub async fn end_idle_with_tokens<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    remember: i64,
    idle_cutoff: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET ended_at = $1, end_reason = 'idle_timeout', signin_marker_hash = NULL \
         WHERE ended_at IS NULL AND realm = $2 AND remember = $3 AND last_seen_at < $4 \
         AND id_hash IN (SELECT session_id_hash FROM oidc_tokens WHERE revoked_at IS NULL)",
    )
    .bind(now)
    .bind(realm)
    .bind(remember)
    .bind(idle_cutoff)
    .execute(ex)
    .await
    .map(|r| r.rows_affected())
}

/// A delivery leased for sending.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub application_id: i64,
    pub session_id_hash: String,
    pub realm: String,
    pub subject_id: i64,
    pub uri: String,
    pub attempts: i64,
}

/// Leases up to `limit` due deliveries to `owner` until `lease_until` (no other node sends
/// them meanwhile).
pub async fn claim_due<'e>(
    ex: impl Executor<'e, Database = Db>,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let rows = sqlx::query(
        "UPDATE oidc_logout_deliveries SET lease_until = $1, lease_owner = $2 \
         WHERE id IN (SELECT id FROM oidc_logout_deliveries WHERE state = 'queued' AND next_attempt_at <= $3 \
                      AND (lease_until IS NULL OR lease_until < $3) ORDER BY id LIMIT $4) \
         AND state = 'queued' AND (lease_until IS NULL OR lease_until < $3) \
         RETURNING id, application_id, session_id_hash, realm, subject_id, uri, attempts",
    )
    .bind(lease_until)
    .bind(owner)
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                application_id: r.try_get("application_id")?,
                session_id_hash: r.try_get("session_id_hash")?,
                realm: r.try_get("realm")?,
                subject_id: r.try_get("subject_id")?,
                uri: r.try_get("uri")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// Records an attempt: `state` is `sent`, `failed`, or `queued` again for `next_attempt_at`.
#[allow(clippy::too_many_arguments)]
pub async fn finish_attempt<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    state: &str,
    attempts: i64,
    next_attempt_at: i64,
    status: Option<i64>,
    reply: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_logout_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, last_status = $4, \
         last_reply = $5, lease_until = NULL, lease_owner = NULL, \
         finished_at = CASE WHEN $1 = 'queued' THEN NULL ELSE $6 END WHERE id = $7",
    )
    .bind(state)
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(status)
    .bind(reply)
    .bind(now)
    .bind(id)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A delivery as the pages and the doctor show it.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub application_id: i64,
    pub application_name: String,
    pub session_id_hash: String,
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_reply: Option<String>,
}

fn delivery_from(r: &sqlx::any::AnyRow) -> Result<DeliveryRow, sqlx::Error> {
    Ok(DeliveryRow {
        application_id: r.try_get("application_id")?,
        application_name: r.try_get("name")?,
        session_id_hash: r.try_get("session_id_hash")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
        last_status: r.try_get("last_status")?,
        last_reply: r.try_get("last_reply")?,
    })
}

/// Deliveries that are failing (failed for good, or queued after a failed attempt) or have
/// waited since before `stale`, newest first: the doctor's `oidc.logout` evidence.
pub async fn troubled<'e>(
    ex: impl Executor<'e, Database = Db>,
    stale: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT d.application_id, a.name, d.session_id_hash, d.state, d.attempts, d.created_at, d.finished_at, \
         d.last_status, d.last_reply FROM oidc_logout_deliveries d JOIN oidc_applications a ON a.id = d.application_id \
         WHERE d.state = 'failed' OR (d.state = 'queued' AND (d.attempts > 0 OR d.created_at < $1)) \
         ORDER BY d.id DESC LIMIT $2",
    )
    .bind(stale)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(delivery_from).collect()
}

/// The newest deliveries of one application (its admin page).
pub async fn of_application<'e>(
    ex: impl Executor<'e, Database = Db>,
    application_id: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT d.application_id, a.name, d.session_id_hash, d.state, d.attempts, d.created_at, d.finished_at, \
         d.last_status, d.last_reply FROM oidc_logout_deliveries d JOIN oidc_applications a ON a.id = d.application_id \
         WHERE d.application_id = $1 ORDER BY d.id DESC LIMIT $2",
    )
    .bind(application_id)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(delivery_from).collect()
}

/// The names of the applications each of `session_id_hashes` gave tokens to (the sessions
/// page): pairs of session hash and application name.
pub async fn applications_of_sessions<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT t.session_id_hash, a.name FROM oidc_tokens t JOIN oidc_applications a ON a.id = t.application_id \
         WHERE t.realm = $1 AND t.subject_id = $2 ORDER BY a.name",
    )
    .bind(realm)
    .bind(subject_id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("session_id_hash")?, r.try_get("name")?)))
        .collect()
}
