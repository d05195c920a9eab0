//! Roles and their permissions.

use super::{Db, flag};
use crate::auth::permission::{FULL_ADMINISTRATOR, Permission, PermissionSet};
use sqlx::{Executor, Row as _};

/// The permissions of a role (every permission for Full Administrator). Unknown stored names,
/// e.g. from a newer version, are ignored.
pub async fn permissions<'e>(
    ex: impl Executor<'e, Database = Db>,
    role_id: i64,
) -> Result<PermissionSet, sqlx::Error> {
    if role_id == FULL_ADMINISTRATOR {
        return Ok(PermissionSet::all());
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT permission FROM role_permissions WHERE role_id = $1")
            .bind(role_id)
            .fetch_all(ex)
            .await?;
    Ok(names.iter().filter_map(|n| Permission::parse(n)).collect())
}

/// A role as listed.
#[derive(Debug, Clone)]
pub struct RoleRow {
    pub id: i64,
    pub name: String,
    pub built_in: bool,
    pub admins: i64,
}

/// Every role with how many admins hold it.
pub async fn list<'e>(ex: impl Executor<'e, Database = Db>) -> Result<Vec<RoleRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.id, r.name, r.built_in, (SELECT COUNT(*) FROM admins a WHERE a.role_id = r.id) AS admins \
         FROM roles r ORDER BY r.id",
    )
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RoleRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                built_in: flag(r.try_get("built_in")?),
                admins: r.try_get("admins")?,
            })
        })
        .collect()
}

/// One role.
pub async fn find<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<Option<RoleRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT r.id, r.name, r.built_in, (SELECT COUNT(*) FROM admins a WHERE a.role_id = r.id) AS admins \
         FROM roles r WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok(RoleRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            built_in: flag(r.try_get("built_in")?),
            admins: r.try_get("admins")?,
        })
    })
    .transpose()
}

/// Creates a role; returns its id.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    name: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO roles (name, built_in, created_at) VALUES ($1, 0, $2) RETURNING id",
    )
    .bind(name)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// Renames a role and replaces its permissions.
pub async fn update(
    tx: &mut sqlx::Transaction<'_, Db>,
    id: i64,
    name: &str,
    permissions: PermissionSet,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE roles SET name = $2 WHERE id = $1 AND built_in = 0")
        .bind(id)
        .bind(name)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for p in permissions.iter() {
        sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
            .bind(id)
            .bind(p.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Deletes a role nobody holds; false when it is built in or still held.
pub async fn delete<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM roles WHERE id = $1 AND built_in = 0 AND NOT EXISTS (SELECT 1 FROM admins WHERE role_id = $1)",
    )
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Usernames of enabled admins who can grant permissions (their role has `manage_roles`).
pub async fn granters<'e>(
    ex: impl Executor<'e, Database = Db>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT username FROM admins WHERE disabled = 0 AND (role_id = 1 OR role_id IN \
         (SELECT role_id FROM role_permissions WHERE permission = 'manage_roles')) ORDER BY username LIMIT 5",
    )
    .fetch_all(ex)
    .await
}

/// On PostgreSQL, locks the enabled Full Administrators' rows for the transaction, so two
/// admins demoted at once cannot both pass the "not the last one" check. (SQLite's single
/// writer already serialises the transactions that change them.)
pub async fn lock_full_administrators(
    tx: &mut sqlx::Transaction<'static, Db>,
    postgres: bool,
) -> Result<(), sqlx::Error> {
    if postgres {
        sqlx::query("SELECT id FROM admins WHERE role_id = 1 AND disabled = 0 FOR UPDATE")
            .fetch_all(&mut **tx)
            .await?;
    }
    Ok(())
}

/// How many enabled Full Administrators there are.
pub async fn enabled_full_administrators<'e>(
    ex: impl Executor<'e, Database = Db>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM admins WHERE role_id = 1 AND disabled = 0")
        .fetch_one(ex)
        .await
}

/// A role's id by name, case-insensitively.
pub async fn find_by_name<'e>(
    ex: impl Executor<'e, Database = Db>,
    name: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM roles WHERE lower(name) = lower($1)")
        .bind(name)
        .fetch_optional(ex)
        .await
}
