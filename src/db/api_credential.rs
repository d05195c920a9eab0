//! The `api_credentials` table: API credentials of admins, their secrets only as hashes.

use super::Db;
use sqlx::{Executor, Row as _};

/// A credential as stored, with what a call needs of its admin.
#[derive(Debug, Clone)]
pub struct CredentialRow {
    pub id: i64,
    pub identifier: String,
    pub secret_hash: String,
    pub admin_id: i64,
    pub roles: String,
    pub allowed: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<i64>,
    /// The admin's state now: a disabled admin's credentials stop at once.
    pub admin_disabled: bool,
    pub admin_role_id: i64,
}

/// What is stored for a new credential.
pub struct NewCredential<'a> {
    pub identifier: &'a str,
    pub secret_hash: &'a str,
    pub admin_id: i64,
    pub label: &'a str,
    pub roles: &'a str,
    pub allowed: &'a str,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// `SELECT` of a credential with its admin, followed by a literal `WHERE` clause.
macro_rules! select_credential {
    ($where:literal) => {
        concat!(
            "SELECT c.id, c.identifier, c.secret_hash, c.admin_id, c.roles, c.allowed, \
             c.expires_at, c.last_used_at, c.last_used_ip, c.revoked_at, \
             a.disabled AS admin_disabled, a.role_id AS admin_role_id \
             FROM api_credentials c JOIN admins a ON a.id = c.admin_id ",
            $where
        )
    };
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<CredentialRow, sqlx::Error> {
    Ok(CredentialRow {
        id: r.try_get("id")?,
        identifier: r.try_get("identifier")?,
        secret_hash: r.try_get("secret_hash")?,
        admin_id: r.try_get("admin_id")?,
        roles: r.try_get("roles")?,
        allowed: r.try_get("allowed")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
        last_used_ip: r.try_get("last_used_ip")?,
        revoked_at: r.try_get("revoked_at")?,
        admin_disabled: r.try_get::<i64, _>("admin_disabled")? != 0,
        admin_role_id: r.try_get("admin_role_id")?,
    })
}

/// Stores a credential; its id.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    new: &NewCredential<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO api_credentials (identifier, secret_hash, admin_id, label, roles, allowed, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(new.identifier)
    .bind(new.secret_hash)
    .bind(new.admin_id)
    .bind(new.label)
    .bind(new.roles)
    .bind(new.allowed)
    .bind(new.expires_at)
    .bind(new.created_at)
    .fetch_one(ex)
    .await
}

/// The credential with this public identifier, with its admin.
pub async fn find_by_identifier<'e>(
    ex: impl Executor<'e, Database = Db>,
    identifier: &str,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query(select_credential!("WHERE c.identifier = $1"))
        .bind(identifier)
        .fetch_optional(ex)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Records a call's time and address.
pub async fn used<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    at: i64,
    ip: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_credentials SET last_used_at = $2, last_used_ip = $3 WHERE id = $1")
        .bind(id)
        .bind(at)
        .bind(ip)
        .execute(ex)
        .await
        .map(|_| ())
}

/// A credential as its list shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub identifier: String,
    pub admin_username: String,
    pub label: String,
    pub roles: String,
    pub allowed: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<i64>,
    pub admin_disabled: bool,
}

/// Every credential, or those of one admin, newest first.
pub async fn list<'e>(
    ex: impl Executor<'e, Database = Db>,
    admin_id: Option<i64>,
) -> Result<Vec<Listed>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.identifier, a.username, c.label, c.roles, c.allowed, c.expires_at, c.created_at, \
         c.last_used_at, c.last_used_ip, c.revoked_at, a.disabled AS admin_disabled \
         FROM api_credentials c JOIN admins a ON a.id = c.admin_id \
         WHERE $1 IS NULL OR c.admin_id = $1 ORDER BY c.id DESC",
    )
    .bind(admin_id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Listed {
                identifier: r.try_get("identifier")?,
                admin_username: r.try_get("username")?,
                label: r.try_get("label")?,
                roles: r.try_get("roles")?,
                allowed: r.try_get("allowed")?,
                expires_at: r.try_get("expires_at")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
                last_used_ip: r.try_get("last_used_ip")?,
                revoked_at: r.try_get("revoked_at")?,
                admin_disabled: r.try_get::<i64, _>("admin_disabled")? != 0,
            })
        })
        .collect()
}

/// Revokes a live credential; its id, or `None` when no live credential has the identifier.
pub async fn revoke<'e>(
    ex: impl Executor<'e, Database = Db>,
    identifier: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE api_credentials SET revoked_at = $2 WHERE identifier = $1 AND revoked_at IS NULL RETURNING id",
    )
    .bind(identifier)
    .bind(now)
    .fetch_optional(ex)
    .await
}
