//! Admins and users (with their email verification flags). Client accounts are in
//! `super::client`, roles in `super::role`.

use super::{Db, flag};
use sqlx::{Executor, Row as _};

/// A stored admin.
#[derive(Debug, Clone)]
pub struct AdminRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role_id: i64,
    pub role_name: String,
    pub disabled: bool,
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: Option<String>,
    pub disabled: bool,
    /// When the email address was confirmed; `None` while unconfirmed.
    pub email_verified_at: Option<i64>,
}

/// `SELECT` of an admin with its role name, followed by a literal `WHERE` clause.
macro_rules! select_admin {
    ($where:literal) => {
        concat!(
            "SELECT a.id, a.username, a.email, a.password_hash, a.role_id, r.name AS role_name, a.disabled \
             FROM admins a JOIN roles r ON r.id = a.role_id ",
            $where
        )
    };
}

/// A column name with `prefix`, allocated only when there is one (the plain reads run on
/// every sign-in and session check).
fn prefixed(prefix: &str, name: &'static str) -> std::borrow::Cow<'static, str> {
    if prefix.is_empty() {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(format!("{prefix}{name}"))
    }
}

fn admin_from(row: &sqlx::any::AnyRow) -> Result<AdminRow, sqlx::Error> {
    admin_from_prefixed(row, "")
}

/// An admin from columns named with `prefix` (a query that also selects other tables'
/// columns names them `a_id`, `a_username`, ...).
pub(crate) fn admin_from_prefixed(
    row: &sqlx::any::AnyRow,
    prefix: &str,
) -> Result<AdminRow, sqlx::Error> {
    let col = |name: &'static str| prefixed(prefix, name);
    Ok(AdminRow {
        id: row.try_get(col("id").as_ref())?,
        username: row.try_get(col("username").as_ref())?,
        email: row.try_get(col("email").as_ref())?,
        password_hash: row.try_get(col("password_hash").as_ref())?,
        role_id: row.try_get(col("role_id").as_ref())?,
        role_name: row.try_get(col("role_name").as_ref())?,
        disabled: flag(row.try_get(col("disabled").as_ref())?),
    })
}

pub(crate) fn user_from(row: &sqlx::any::AnyRow) -> Result<UserRow, sqlx::Error> {
    user_from_prefixed(row, "")
}

/// A user from columns named with `prefix` (as [`admin_from_prefixed`]).
pub(crate) fn user_from_prefixed(
    row: &sqlx::any::AnyRow,
    prefix: &str,
) -> Result<UserRow, sqlx::Error> {
    let col = |name: &'static str| prefixed(prefix, name);
    Ok(UserRow {
        id: row.try_get(col("id").as_ref())?,
        email: row.try_get(col("email").as_ref())?,
        first_name: row.try_get(col("first_name").as_ref())?,
        last_name: row.try_get(col("last_name").as_ref())?,
        password_hash: row.try_get(col("password_hash").as_ref())?,
        disabled: flag(row.try_get(col("disabled").as_ref())?),
        email_verified_at: row.try_get(col("email_verified_at").as_ref())?,
    })
}

/// Inserts an admin and returns its id.
pub async fn insert_admin<'e>(
    ex: impl Executor<'e, Database = Db>,
    username: &str,
    email: &str,
    password_hash: &str,
    role_id: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO admins (username, email, password_hash, role_id, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING id",
    )
    .bind(username)
    .bind(email)
    .bind(password_hash)
    .bind(role_id)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// Finds an admin by username, case-insensitively.
pub async fn find_admin_by_username<'e>(
    ex: impl Executor<'e, Database = Db>,
    username: &str,
) -> Result<Option<AdminRow>, sqlx::Error> {
    sqlx::query(select_admin!("WHERE lower(a.username) = lower($1)"))
        .bind(username)
        .fetch_optional(ex)
        .await?
        .map(|r| admin_from(&r))
        .transpose()
}

/// Finds an admin by id.
pub async fn find_admin_by_id<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<Option<AdminRow>, sqlx::Error> {
    sqlx::query(select_admin!("WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await?
        .map(|r| admin_from(&r))
        .transpose()
}

/// Number of admins.
pub async fn count_admins<'e>(ex: impl Executor<'e, Database = Db>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM admins")
        .fetch_one(ex)
        .await
}

/// Whether a username or email is taken by an admin (case-insensitive).
pub async fn admin_exists<'e>(
    ex: impl Executor<'e, Database = Db>,
    username: &str,
    email: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM admins WHERE lower(username) = lower($1) OR lower(email) = lower($2)",
    )
    .bind(username)
    .bind(email)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

/// Replaces an admin's password hash (rehash on sign-in, password change).
pub async fn update_admin_password<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admins SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Inserts a user and returns its id.
pub async fn insert_user<'e>(
    ex: impl Executor<'e, Database = Db>,
    email: &str,
    first_name: &str,
    last_name: &str,
    password_hash: Option<&str>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (email, first_name, last_name, password_hash, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING id",
    )
    .bind(email)
    .bind(first_name)
    .bind(last_name)
    .bind(password_hash)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// Finds a user by email, case-insensitively.
pub async fn find_user_by_email<'e>(
    ex: impl Executor<'e, Database = Db>,
    email: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query("SELECT id, email, first_name, last_name, password_hash, disabled, email_verified_at FROM users WHERE lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(ex)
        .await?
        .map(|r| user_from(&r))
        .transpose()
}

/// Finds a user by id.
pub async fn find_user_by_id<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query(
        "SELECT id, email, first_name, last_name, password_hash, disabled, email_verified_at FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?
    .map(|r| user_from(&r))
    .transpose()
}

/// Replaces a user's password hash.
pub async fn update_user_password<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Whether a database error is a uniqueness violation (a race on "already taken").
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Finds an admin by email, case-insensitively.
pub async fn find_admin_by_email<'e>(
    ex: impl Executor<'e, Database = Db>,
    email: &str,
) -> Result<Option<AdminRow>, sqlx::Error> {
    sqlx::query(select_admin!("WHERE lower(a.email) = lower($1)"))
        .bind(email)
        .fetch_optional(ex)
        .await?
        .map(|r| admin_from(&r))
        .transpose()
}

/// Changes a user's email address; it is unverified until the new link is followed.
pub async fn update_user_email<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    email: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET email = $1, email_verified_at = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(email)
    .bind(now)
    .bind(id)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Every admin, by username.
pub async fn list_admins<'e>(
    ex: impl Executor<'e, Database = Db>,
) -> Result<Vec<AdminRow>, sqlx::Error> {
    sqlx::query(select_admin!("ORDER BY lower(a.username)"))
        .fetch_all(ex)
        .await?
        .iter()
        .map(admin_from)
        .collect()
}

/// Sets an admin's role and disabled flag.
pub async fn update_admin<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    role_id: i64,
    disabled: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admins SET role_id = $2, disabled = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(role_id)
        .bind(i64::from(disabled))
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Deletes an admin.
pub async fn delete_admin<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM admins WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a user's email address verified.
pub async fn mark_verified<'e>(
    ex: impl Executor<'e, Database = Db>,
    user_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(ex)
    .await
    .map(|_| ())
}

/// Where a notice to one person goes: their address and the name a mail greets them by (a
/// user's first name, an admin's username). `None` when the account is gone or has no address,
/// so a notice is skipped rather than sent nowhere.
pub async fn recipient(
    db: &super::Pool,
    realm: crate::domain::Realm,
    subject_id: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let found = match realm {
        crate::domain::Realm::Client => find_user_by_id(db, subject_id)
            .await?
            .map(|u| (u.email, u.first_name)),
        crate::domain::Realm::Admin => find_admin_by_id(db, subject_id)
            .await?
            .map(|a| (a.email, a.username)),
    };
    Ok(found.filter(|(email, _)| !email.is_empty()))
}

/// Sets a user's names and whether they are disabled; whether the user exists.
pub async fn update_user_profile<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    (first_name, last_name): (&str, &str),
    disabled: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE users SET first_name = $1, last_name = $2, disabled = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(first_name)
    .bind(last_name)
    .bind(i64::from(disabled))
    .bind(now)
    .bind(id)
    .execute(ex)
    .await
    .map(|r| r.rows_affected() == 1)
}
