//! The OpenID provider's access and refresh tokens in storage (`oidc_tokens`): only their
//! hashes. A family is every token descended from one authorization code.

use super::Db;
use sqlx::{Executor, Row as _};

/// A token as stored.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// `access` or `refresh`.
    pub kind: String,
    pub family_id: String,
    pub application_id: i64,
    pub session_id_hash: String,
    pub realm: String,
    pub subject_id: i64,
    pub scopes: String,
    pub auth_time: i64,
    pub second_factor: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// When a refresh token was exchanged for its successor.
    pub replaced_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// The issuer (System URL) its ID token named.
    pub issuer: String,
}

/// Stores the access and refresh token of one grant, each under its hash, in one statement
/// (one round trip, and one short hold of SQLite's write lock).
pub async fn insert_pair<'e>(
    ex: impl Executor<'e, Database = Db>,
    (access_hash, access): (&str, &TokenRow),
    (refresh_hash, refresh): (&str, &TokenRow),
) -> Result<(), sqlx::Error> {
    let mut query = sqlx::query(
        "INSERT INTO oidc_tokens (token_hash, kind, family_id, application_id, session_id_hash, realm, subject_id, scopes, \
         auth_time, second_factor, created_at, expires_at, issuer) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13), \
         ($14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)",
    );
    for (hash, t) in [(access_hash, access), (refresh_hash, refresh)] {
        query = query
            .bind(hash)
            .bind(&t.kind)
            .bind(&t.family_id)
            .bind(t.application_id)
            .bind(&t.session_id_hash)
            .bind(&t.realm)
            .bind(t.subject_id)
            .bind(&t.scopes)
            .bind(t.auth_time)
            .bind(&t.second_factor)
            .bind(t.created_at)
            .bind(t.expires_at)
            .bind(&t.issuer);
    }
    query.execute(ex).await.map(|_| ())
}

/// A token by its hash.
pub async fn find<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT kind, family_id, application_id, session_id_hash, realm, subject_id, scopes, auth_time, second_factor, \
         created_at, expires_at, replaced_at, revoked_at, revoked_reason, issuer FROM oidc_tokens WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(TokenRow {
            kind: r.try_get("kind")?,
            family_id: r.try_get("family_id")?,
            application_id: r.try_get("application_id")?,
            session_id_hash: r.try_get("session_id_hash")?,
            realm: r.try_get("realm")?,
            subject_id: r.try_get("subject_id")?,
            scopes: r.try_get("scopes")?,
            auth_time: r.try_get("auth_time")?,
            second_factor: r.try_get("second_factor")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            replaced_at: r.try_get("replaced_at")?,
            revoked_at: r.try_get("revoked_at")?,
            revoked_reason: r.try_get("revoked_reason")?,
            issuer: r.try_get("issuer")?,
        })
    })
    .transpose()
}

/// Marks a live refresh token replaced; false if it was already replaced or revoked (another
/// refresh, on any node, got there first).
pub async fn replace<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_tokens SET replaced_at = $2 WHERE token_hash = $1 AND replaced_at IS NULL AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .bind(now)
    .execute(ex)
    .await
    .map(|r| r.rows_affected() == 1)
}

/// Spends a replaced token's one use in its grace period; false if it was spent already.
pub async fn use_grace<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_tokens SET grace_used = 1 WHERE token_hash = $1 AND grace_used = 0 AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .execute(ex)
    .await
    .map(|r| r.rows_affected() == 1)
}

/// Revokes every live token of a family; how many.
pub async fn revoke_family<'e>(
    ex: impl Executor<'e, Database = Db>,
    family_id: &str,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_tokens SET revoked_at = $2, revoked_reason = $3 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(now)
    .bind(reason)
    .execute(ex)
    .await
    .map(|r| r.rows_affected())
}

/// Revokes the tokens of the sessions that ended at `now` (in the caller's transaction, right
/// after ending them), except those granted `offline_access`; how many.
pub async fn revoke_for_sessions_ended_at<'e>(
    ex: impl Executor<'e, Database = Db>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_tokens SET revoked_at = $1, revoked_reason = 'session_ended' \
         WHERE revoked_at IS NULL AND ' ' || scopes || ' ' NOT LIKE '% offline_access %' \
         AND session_id_hash IN (SELECT id_hash FROM sessions WHERE ended_at = $1)",
    )
    .bind(now)
    .execute(ex)
    .await
    .map(|r| r.rows_affected())
}

/// Revokes one token.
pub async fn revoke_one<'e>(
    ex: impl Executor<'e, Database = Db>,
    token_hash: &str,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_tokens SET revoked_at = $2, revoked_reason = $3 WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .bind(now)
    .bind(reason)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Revokes every live token a person holds for one application (consent withdrawn); how many.
pub async fn revoke_for_application<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    application_id: i64,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_tokens SET revoked_at = $4, revoked_reason = $5 \
         WHERE realm = $1 AND subject_id = $2 AND application_id = $3 AND revoked_at IS NULL",
    )
    .bind(realm)
    .bind(subject_id)
    .bind(application_id)
    .bind(now)
    .bind(reason)
    .execute(ex)
    .await
    .map(|r| r.rows_affected())
}

/// Live tokens issued under another issuer than `issuer`: each old issuer with how many live
/// tokens and how many applications hold them.
pub async fn live_under_other_issuers<'e>(
    ex: impl Executor<'e, Database = Db>,
    issuer: &str,
    now: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT issuer, COUNT(*) AS tokens, COUNT(DISTINCT application_id) AS applications FROM oidc_tokens \
         WHERE issuer <> $1 AND revoked_at IS NULL AND expires_at > $2 GROUP BY issuer ORDER BY issuer",
    )
    .bind(issuer)
    .bind(now)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("issuer")?,
                r.try_get("tokens")?,
                r.try_get("applications")?,
            ))
        })
        .collect()
}
