//! The OpenID provider's authorization flow in storage: parked requests (waiting for a sign-in
//! or consent), consents, and authorization codes. Only hashes of the ids and codes are kept.

use super::Db;
use sqlx::{Executor, Row as _};

/// A parked authorization request.
#[derive(Debug, Clone)]
pub struct ParkedRow {
    pub realm: String,
    /// The request's parameters, form-urlencoded as received.
    pub query: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Stores a parked request under the hash of its id.
pub async fn park<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    row: &ParkedRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_parked_requests (id_hash, realm, query, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id_hash)
    .bind(&row.realm)
    .bind(&row.query)
    .bind(row.created_at)
    .bind(row.expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A parked request that has not expired at `now`.
pub async fn parked<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
    now: i64,
) -> Result<Option<ParkedRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT realm, query, created_at, expires_at FROM oidc_parked_requests WHERE id_hash = $1 AND expires_at > $2",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(ParkedRow {
            realm: r.try_get("realm")?,
            query: r.try_get("query")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Forgets a parked request (answered).
pub async fn unpark<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM oidc_parked_requests WHERE id_hash = $1")
        .bind(id_hash)
        .execute(ex)
        .await
        .map(|_| ())
}

/// A stored consent.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub application_id: i64,
    pub application_name: String,
    /// Space separated.
    pub scopes: String,
    pub granted_at: i64,
    pub last_used_at: i64,
}

/// The scopes a person consented to for one application, if they did.
pub async fn consented_scopes<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    application_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT scopes FROM oidc_consents WHERE realm = $1 AND subject_id = $2 AND application_id = $3",
    )
    .bind(realm)
    .bind(subject_id)
    .bind(application_id)
    .fetch_optional(ex)
    .await
}

/// Records (or widens) a consent.
pub async fn grant_consent<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    application_id: i64,
    scopes: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_consents (realm, subject_id, application_id, scopes, granted_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (realm, subject_id, application_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at, last_used_at = excluded.last_used_at",
    )
    .bind(realm)
    .bind(subject_id)
    .bind(application_id)
    .bind(scopes)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Notes that a consent was relied on at `now`.
pub async fn touch_consent<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    application_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_consents SET last_used_at = $4 WHERE realm = $1 AND subject_id = $2 AND application_id = $3",
    )
    .bind(realm)
    .bind(subject_id)
    .bind(application_id)
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

/// A person's consents, with the application names, most recently used first.
pub async fn consents<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
) -> Result<Vec<ConsentRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.application_id, a.name, c.scopes, c.granted_at, c.last_used_at FROM oidc_consents c \
         JOIN oidc_applications a ON a.id = c.application_id \
         WHERE c.realm = $1 AND c.subject_id = $2 ORDER BY c.last_used_at DESC, a.name",
    )
    .bind(realm)
    .bind(subject_id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ConsentRow {
                application_id: r.try_get("application_id")?,
                application_name: r.try_get("name")?,
                scopes: r.try_get("scopes")?,
                granted_at: r.try_get("granted_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// Withdraws a consent; whether there was one.
pub async fn withdraw_consent<'e>(
    ex: impl Executor<'e, Database = Db>,
    realm: &str,
    subject_id: i64,
    application_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "DELETE FROM oidc_consents WHERE realm = $1 AND subject_id = $2 AND application_id = $3",
    )
    .bind(realm)
    .bind(subject_id)
    .bind(application_id)
    .execute(ex)
    .await
    .map(|r| r.rows_affected() > 0)
}

/// An authorization code as stored.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub application_id: i64,
    pub session_id_hash: String,
    pub realm: String,
    pub subject_id: i64,
    pub redirect_uri: String,
    pub scopes: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub second_factor: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The token family the exchange made (to revoke it if the code comes back).
    pub family_id: Option<String>,
}

/// Stores a new code under its hash.
pub async fn insert_code<'e>(
    ex: impl Executor<'e, Database = Db>,
    code_hash: &str,
    c: &CodeRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_codes (code_hash, application_id, session_id_hash, realm, subject_id, redirect_uri, scopes, nonce, \
         code_challenge, auth_time, second_factor, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(code_hash)
    .bind(c.application_id)
    .bind(&c.session_id_hash)
    .bind(&c.realm)
    .bind(c.subject_id)
    .bind(&c.redirect_uri)
    .bind(&c.scopes)
    .bind(&c.nonce)
    .bind(&c.code_challenge)
    .bind(c.auth_time)
    .bind(&c.second_factor)
    .bind(c.created_at)
    .bind(c.expires_at)
    .execute(ex)
    .await
    .map(|_| ())
}

/// The code columns every read selects, from `oidc_codes` as `c`.
macro_rules! code_columns {
    () => {
        "c.application_id, c.session_id_hash, c.realm, c.subject_id, c.redirect_uri, c.scopes, c.nonce, \
         c.code_challenge, c.auth_time, c.second_factor, c.created_at, c.expires_at, c.used_at, c.family_id"
    };
}

fn code_row(r: &sqlx::any::AnyRow) -> Result<CodeRow, sqlx::Error> {
    Ok(CodeRow {
        application_id: r.try_get("application_id")?,
        session_id_hash: r.try_get("session_id_hash")?,
        realm: r.try_get("realm")?,
        subject_id: r.try_get("subject_id")?,
        redirect_uri: r.try_get("redirect_uri")?,
        scopes: r.try_get("scopes")?,
        nonce: r.try_get("nonce")?,
        code_challenge: r.try_get("code_challenge")?,
        auth_time: r.try_get("auth_time")?,
        second_factor: r.try_get("second_factor")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        family_id: r.try_get("family_id")?,
    })
}

/// Whether the session a code came from was still live, as the exchange reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLife {
    pub ended_at: Option<i64>,
    pub expires_at: i64,
}

impl SessionLife {
    /// Neither ended nor past its expiry at `now`.
    pub fn live_at(self, now: i64) -> bool {
        self.ended_at.is_none() && self.expires_at > now
    }
}

/// What an exchange reads about a code, in one statement: the code, its session's end and
/// expiry (`None` once the session row is gone), and the person it names (`None` once gone).
#[derive(Debug, Clone)]
pub struct CodeLookup {
    pub code: CodeRow,
    pub session: Option<SessionLife>,
    pub user: Option<super::account::UserRow>,
    pub admin: Option<super::account::AdminRow>,
}

/// A code by its hash with its session and its person ([`CodeLookup`]).
pub async fn code_with_session<'e>(
    ex: impl Executor<'e, Database = Db>,
    code_hash: &str,
) -> Result<Option<CodeLookup>, sqlx::Error> {
    let row = sqlx::query(concat!(
        "SELECT ",
        code_columns!(),
        ", s.ended_at AS session_ended_at, s.expires_at AS session_expires_at, \
         u.id AS u_id, u.email AS u_email, u.first_name AS u_first_name, u.last_name AS u_last_name, \
         u.password_hash AS u_password_hash, u.disabled AS u_disabled, u.email_verified_at AS u_email_verified_at, \
         a.id AS a_id, a.username AS a_username, a.email AS a_email, a.password_hash AS a_password_hash, \
         a.role_id AS a_role_id, r.name AS a_role_name, a.disabled AS a_disabled \
         FROM oidc_codes c \
         LEFT JOIN sessions s ON s.id_hash = c.session_id_hash \
         LEFT JOIN users u ON c.realm = 'client' AND u.id = c.subject_id \
         LEFT JOIN admins a ON c.realm = 'admin' AND a.id = c.subject_id \
         LEFT JOIN roles r ON r.id = a.role_id \
         WHERE c.code_hash = $1"
    ))
    .bind(code_hash)
    .fetch_optional(ex)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let expires_at: Option<i64> = r.try_get("session_expires_at")?;
    let session = match expires_at {
        Some(expires_at) => Some(SessionLife {
            ended_at: r.try_get("session_ended_at")?,
            expires_at,
        }),
        None => None,
    };
    let user_id: Option<i64> = r.try_get("u_id")?;
    let admin_role: Option<String> = r.try_get("a_role_name")?;
    Ok(Some(CodeLookup {
        code: code_row(&r)?,
        session,
        user: user_id
            .map(|_| super::account::user_from_prefixed(&r, "u_"))
            .transpose()?,
        admin: admin_role
            .map(|_| super::account::admin_from_prefixed(&r, "a_"))
            .transpose()?,
    }))
}

/// Marks a code used by the exchange making `family_id`; false if another exchange (on any
/// node) used it first.
pub async fn use_code<'e>(
    ex: impl Executor<'e, Database = Db>,
    code_hash: &str,
    family_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE oidc_codes SET used_at = $2, family_id = $3 WHERE code_hash = $1 AND used_at IS NULL",
    )
    .bind(code_hash)
    .bind(now)
    .bind(family_id)
    .execute(ex)
    .await
    .map(|r| r.rows_affected() == 1)
}
