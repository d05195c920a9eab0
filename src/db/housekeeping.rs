//! Bounded deletes of rows that have served their purpose. Each call removes at most `batch`
//! rows through an index, so one statement holds the write lock briefly however large the
//! backlog; the caller loops.

use super::Db;
use sqlx::Executor;

async fn run<'e>(
    ex: impl Executor<'e, Database = Db>,
    sql: &'static str,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql)
        .bind(cutoff)
        .bind(batch)
        .execute(ex)
        .await?
        .rows_affected())
}

/// Sessions ended (sign-out, timeout noticed, ended elsewhere) before `cutoff`.
pub async fn ended_sessions<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM sessions WHERE id_hash IN \
         (SELECT id_hash FROM sessions WHERE ended_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Sessions never ended whose absolute lifetime ran out before `cutoff`.
pub async fn lapsed_sessions<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM sessions WHERE id_hash IN \
         (SELECT id_hash FROM sessions WHERE expires_at < $1 AND ended_at IS NULL LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Sessions never ended of one realm and kind (`remember` 0 or 1) last seen before `cutoff`.
pub async fn idle_sessions<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    remember: i64,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions \
         WHERE last_seen_at < $1 AND ended_at IS NULL AND realm = $3 AND remember = $4 LIMIT $2)",
    )
    .bind(cutoff)
    .bind(batch)
    .bind(realm)
    .bind(remember)
    .execute(ex)
    .await?
    .rows_affected())
}

/// How many sessions match the three conditions above with the given cutoffs, and the oldest
/// moment one of them ended. `idle` holds `(realm, remember, cutoff, idle seconds)` per kind of
/// session.
pub async fn stale_sessions(
    pool: &super::Pool,
    ended_cutoff: i64,
    idle: &[(&str, i64, i64, i64)],
) -> Result<(i64, Option<i64>), sqlx::Error> {
    let (mut count, mut oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(CASE WHEN ended_at IS NOT NULL THEN ended_at ELSE expires_at END) \
         FROM sessions WHERE ended_at < $1 OR (ended_at IS NULL AND expires_at < $1)",
    )
    .bind(ended_cutoff)
    .fetch_one(pool)
    .await?;
    for (realm, remember, cutoff, idle_seconds) in idle {
        // Sessions already counted above (lifetime over) are left out here.
        let (n, first): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(last_seen_at) FROM sessions WHERE last_seen_at < $1 \
             AND ended_at IS NULL AND realm = $2 AND remember = $3 AND expires_at >= $4",
        )
        .bind(cutoff)
        .bind(realm)
        .bind(remember)
        .bind(ended_cutoff)
        .fetch_one(pool)
        .await?;
        count += n;
        // An idle session ended when its idle time ran out after it was last seen.
        let first = first.map(|seen| seen + idle_seconds);
        oldest = match (oldest, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok((count, oldest))
}

/// One-time links (resets, verifications, invitations, setup) that expired before `cutoff`.
pub async fn expired_links<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM one_time_tokens WHERE token_hash IN \
         (SELECT token_hash FROM one_time_tokens WHERE expires_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Pending sign-ins (password given, second factor due) that expired before `cutoff`.
pub async fn expired_pending_signins<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM pending_signins WHERE id_hash IN \
         (SELECT id_hash FROM pending_signins WHERE expires_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// WebAuthn ceremonies abandoned before `cutoff`.
pub async fn expired_ceremonies<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM webauthn_ceremonies WHERE (owner_hash, kind) IN \
         (SELECT owner_hash, kind FROM webauthn_ceremonies WHERE expires_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Licence checks (the access log) older than `cutoff`.
pub async fn old_license_checks<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM license_checks WHERE id IN \
         (SELECT id FROM license_checks WHERE at < $1 ORDER BY at LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Rate-limit entries older than `cutoff`.
pub async fn old_request_log<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM request_log WHERE (kind, key, at) IN \
         (SELECT kind, key, at FROM request_log WHERE at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Session change log rows written before `cutoff` (every node reads them within a second).
pub async fn old_session_changes<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM session_changes WHERE seq IN \
         (SELECT seq FROM session_changes WHERE at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// OpenID Connect refusals recorded before `cutoff` (the applications' pages show recent ones;
/// the doctor reads the last day).
pub async fn old_oidc_refusals<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM oidc_refusals WHERE id IN \
         (SELECT id FROM oidc_refusals WHERE at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// OpenID authorization codes that expired before `cutoff` (used or not: a code that comes
/// back after that is simply unknown).
pub async fn expired_oidc_codes<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM oidc_codes WHERE code_hash IN \
         (SELECT code_hash FROM oidc_codes WHERE expires_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// OpenID authorization requests parked for a sign-in that never came, expired before `cutoff`.
pub async fn expired_oidc_parked<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM oidc_parked_requests WHERE id_hash IN \
         (SELECT id_hash FROM oidc_parked_requests WHERE expires_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// OpenID access and refresh tokens that expired before `cutoff`.
pub async fn expired_oidc_tokens<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM oidc_tokens WHERE token_hash IN \
         (SELECT token_hash FROM oidc_tokens WHERE expires_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Back-channel logout deliveries finished (sent or failed) before `cutoff`.
pub async fn finished_logout_deliveries<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM oidc_logout_deliveries WHERE id IN \
         (SELECT id FROM oidc_logout_deliveries WHERE state <> 'queued' AND finished_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Bans that ran out before `cutoff` (the audit log keeps their history).
pub async fn expired_bans<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM bans WHERE ip IN \
         (SELECT ip FROM bans WHERE expires_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Failed sign-ins older than `cutoff` (past every counting window).
pub async fn old_login_failures<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM login_failures WHERE id IN \
         (SELECT id FROM login_failures WHERE at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}

/// Authenticator seeds never confirmed, whose setup began before `cutoff` (they can no longer
/// be confirmed; a seed planted and left behind should not linger either).
pub async fn expired_totp_setups<'e>(
    ex: impl Executor<'e, Database = Db>,
    cutoff: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    run(
        ex,
        "DELETE FROM totp_secrets WHERE (realm, subject_id) IN \
         (SELECT realm, subject_id FROM totp_secrets \
          WHERE confirmed_at IS NULL AND created_at < $1 LIMIT $2)",
        cutoff,
        batch,
    )
    .await
}
