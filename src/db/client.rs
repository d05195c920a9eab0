//! Client accounts, their users and what each user may do in each account.

use super::Db;
use sqlx::{Executor, Row as _};

/// A user's place in a client account.
#[derive(Debug, Clone)]
pub struct Membership {
    pub client_id: i64,
    /// The company name, or the owner's name for a personal account.
    pub label: String,
    pub is_owner: bool,
    /// Stored permission list (empty for the owner, who has all).
    pub permissions: String,
}

fn membership_from(r: &sqlx::any::AnyRow) -> Result<Membership, sqlx::Error> {
    let owner: i64 = r.try_get("is_owner")?;
    Ok(Membership {
        client_id: r.try_get("client_id")?,
        label: r.try_get("label")?,
        is_owner: owner != 0,
        permissions: r.try_get("permissions")?,
    })
}

/// Every account the user can use: owned ones first.
pub async fn memberships<'e>(
    ex: impl Executor<'e, Database = Db>,
    user_id: i64,
) -> Result<Vec<Membership>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id AS client_id, COALESCE(NULLIF(c.company_name, ''), o.first_name || ' ' || o.last_name) AS label, \
         1 AS is_owner, '' AS permissions FROM clients c JOIN users o ON o.id = c.owner_user_id WHERE c.owner_user_id = $1 \
         UNION ALL \
         SELECT c.id AS client_id, COALESCE(NULLIF(c.company_name, ''), o.first_name || ' ' || o.last_name) AS label, \
         0 AS is_owner, m.permissions AS permissions FROM client_users m JOIN clients c ON c.id = m.client_id \
         JOIN users o ON o.id = c.owner_user_id WHERE m.user_id = $1 \
         ORDER BY is_owner DESC, client_id",
    )
    .bind(user_id)
    .fetch_all(ex)
    .await?;
    rows.iter().map(membership_from).collect()
}

/// The user's place in one account, if any.
pub async fn membership<'e>(
    ex: impl Executor<'e, Database = Db>,
    user_id: i64,
    client_id: i64,
) -> Result<Option<Membership>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id AS client_id, COALESCE(NULLIF(c.company_name, ''), o.first_name || ' ' || o.last_name) AS label, \
         CASE WHEN c.owner_user_id = $1 THEN 1 ELSE 0 END AS is_owner, COALESCE(m.permissions, '') AS permissions \
         FROM clients c JOIN users o ON o.id = c.owner_user_id \
         LEFT JOIN client_users m ON m.client_id = c.id AND m.user_id = $1 \
         WHERE c.id = $2 AND (c.owner_user_id = $1 OR m.user_id IS NOT NULL)",
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(membership_from).transpose()
}

/// A client-area user and their place in the active account, read with their session.
pub type ClientUser = (super::account::UserRow, Option<Membership>);

/// A session row by its id hash and, for a client-area session, its user and the user's place
/// in the session's active account, in one query. Every client-area request needs all three,
/// and on PostgreSQL each query is a network round trip (benches/engines.rs). The user comes
/// without their password hash (`password_hash` is `None`): what is read here is held in
/// memory for as long as the session is used, and only a step-up needs the hash, which
/// `TwoFactor::step_up` reads itself.
pub async fn session_with_user<'e>(
    ex: impl Executor<'e, Database = Db>,
    id_hash: &str,
) -> Result<Option<(super::session::SessionRow, Option<ClientUser>)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.id_hash, s.realm, s.subject_id, s.client_id, s.impersonator_admin_id, s.ip, s.user_agent, \
         s.remember, s.created_at, s.last_seen_at, s.expires_at, s.ended_at, s.end_reason, s.second_factor, \
         u.id, u.email, u.first_name, u.last_name, NULL AS password_hash, u.disabled, u.email_verified_at, \
         COALESCE(NULLIF(c.company_name, ''), o.first_name || ' ' || o.last_name) AS label, \
         CASE WHEN c.owner_user_id = s.subject_id THEN 1 ELSE 0 END AS is_owner, \
         COALESCE(m.permissions, '') AS permissions, \
         CASE WHEN c.id IS NOT NULL AND (c.owner_user_id = s.subject_id OR m.user_id IS NOT NULL) THEN 1 ELSE 0 END AS member \
         FROM sessions s \
         LEFT JOIN users u ON s.realm = 'client' AND u.id = s.subject_id \
         LEFT JOIN clients c ON s.realm = 'client' AND c.id = s.client_id \
         LEFT JOIN users o ON o.id = c.owner_user_id \
         LEFT JOIN client_users m ON m.client_id = c.id AND m.user_id = s.subject_id \
         WHERE s.id_hash = $1",
    )
    .bind(id_hash)
    .fetch_optional(ex)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let session = super::session::from_row(&row)?;
    let user_id: Option<i64> = row.try_get("id")?;
    let user = match user_id {
        Some(_) => {
            let member: i64 = row.try_get("member")?;
            let membership = if member == 1 {
                Some(membership_from(&row)?)
            } else {
                None
            };
            Some((super::account::user_from(&row)?, membership))
        }
        None => None,
    };
    Ok(Some((session, user)))
}

/// A user of an account besides its owner.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub permissions: String,
}

/// The account's users besides its owner.
pub async fn members<'e>(
    ex: impl Executor<'e, Database = Db>,
    client_id: i64,
) -> Result<Vec<Member>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.id, u.email, u.first_name || ' ' || u.last_name AS name, m.permissions FROM client_users m \
         JOIN users u ON u.id = m.user_id WHERE m.client_id = $1 ORDER BY lower(u.email)",
    )
    .bind(client_id)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Member {
                user_id: r.try_get("id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                permissions: r.try_get("permissions")?,
            })
        })
        .collect()
}

/// Replaces a member's permissions; false when they are not a member of the account.
pub async fn set_permissions<'e>(
    ex: impl Executor<'e, Database = Db>,
    client_id: i64,
    user_id: i64,
    permissions: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE client_users SET permissions = $3 WHERE client_id = $1 AND user_id = $2",
    )
    .bind(client_id)
    .bind(user_id)
    .bind(permissions)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a member; false when they were not one.
pub async fn remove_member<'e>(
    ex: impl Executor<'e, Database = Db>,
    client_id: i64,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM client_users WHERE client_id = $1 AND user_id = $2")
        .bind(client_id)
        .bind(user_id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A client account as admins list it.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: i64,
    pub company_name: String,
    pub owner_id: i64,
    pub owner_email: String,
    pub owner_name: String,
    pub members: i64,
    pub created_at: i64,
}

fn client_from(r: &sqlx::any::AnyRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        id: r.try_get("id")?,
        company_name: r.try_get("company_name")?,
        owner_id: r.try_get("owner_id")?,
        owner_email: r.try_get("owner_email")?,
        owner_name: r.try_get("owner_name")?,
        members: r.try_get("members")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Accounts whose owner's email, name or company contains `search` (all when empty), newest
/// first, at most `limit`.
pub async fn list<'e>(
    ex: impl Executor<'e, Database = Db>,
    search: &str,
    limit: i64,
) -> Result<Vec<ClientRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, COALESCE(c.company_name, '') AS company_name, o.id AS owner_id, o.email AS owner_email, \
         o.first_name || ' ' || o.last_name AS owner_name, \
         (SELECT COUNT(*) FROM client_users m WHERE m.client_id = c.id) AS members, c.created_at \
         FROM clients c JOIN users o ON o.id = c.owner_user_id \
         WHERE $1 = '' OR lower(o.email) LIKE '%' || lower($1) || '%' OR lower(o.first_name || ' ' || o.last_name) LIKE '%' || lower($1) || '%' \
         OR lower(COALESCE(c.company_name, '')) LIKE '%' || lower($1) || '%' \
         ORDER BY c.id DESC LIMIT $2",
    )
    .bind(search)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.iter().map(client_from).collect()
}

/// One account.
pub async fn find<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
) -> Result<Option<ClientRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id, COALESCE(c.company_name, '') AS company_name, o.id AS owner_id, o.email AS owner_email, \
         o.first_name || ' ' || o.last_name AS owner_name, \
         (SELECT COUNT(*) FROM client_users m WHERE m.client_id = c.id) AS members, c.created_at \
         FROM clients c JOIN users o ON o.id = c.owner_user_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?;
    row.as_ref().map(client_from).transpose()
}

/// Sets the company name.
pub async fn set_company_name<'e>(
    ex: impl Executor<'e, Database = Db>,
    id: i64,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE clients SET company_name = $2 WHERE id = $1")
        .bind(id)
        .bind(name)
        .execute(ex)
        .await
        .map(|_| ())
}

/// Makes member `new_owner` the owner; the previous owner stays as a member with every
/// permission. False when `new_owner` is not a member.
pub async fn transfer(
    tx: &mut sqlx::Transaction<'_, Db>,
    client_id: i64,
    new_owner: i64,
    all_permissions: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let Some(old_owner) = owner(&mut **tx, client_id).await? else {
        return Ok(false);
    };
    if !remove_member(&mut **tx, client_id, new_owner).await? {
        return Ok(false);
    }
    sqlx::query("UPDATE clients SET owner_user_id = $2 WHERE id = $1")
        .bind(client_id)
        .bind(new_owner)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO client_users (client_id, user_id, permissions, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(client_id)
    .bind(old_owner)
    .bind(all_permissions)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Inserts a client account owned by `owner_user_id` and returns its id.
pub async fn insert<'e>(
    ex: impl Executor<'e, Database = Db>,
    owner_user_id: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO clients (owner_user_id, created_at) VALUES ($1, $2) RETURNING id",
    )
    .bind(owner_user_id)
    .bind(now)
    .fetch_one(ex)
    .await
}

/// The first client account a user owns, if any.
pub async fn find_owned<'e>(
    ex: impl Executor<'e, Database = Db>,
    user_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM clients WHERE owner_user_id = $1 ORDER BY id LIMIT 1")
        .bind(user_id)
        .fetch_optional(ex)
        .await
}

/// Adds a user to a client account (idempotent).
pub async fn add_user<'e>(
    ex: impl Executor<'e, Database = Db>,
    client_id: i64,
    user_id: i64,
    permissions: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO client_users (client_id, user_id, permissions, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, user_id) DO NOTHING")
        .bind(client_id)
        .bind(user_id)
        .bind(permissions)
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

/// The owner of a client account.
pub async fn owner<'e>(
    ex: impl Executor<'e, Database = Db>,
    client_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT owner_user_id FROM clients WHERE id = $1")
        .bind(client_id)
        .fetch_optional(ex)
        .await
}

/// The first client account a user can use: owned first, then shared with them.
pub async fn find_usable<'e, E>(ex: E, user_id: i64) -> Result<Option<i64>, sqlx::Error>
where
    E: Executor<'e, Database = Db> + Copy,
{
    if let Some(id) = find_owned(ex, user_id).await? {
        return Ok(Some(id));
    }
    sqlx::query_scalar(
        "SELECT client_id FROM client_users WHERE user_id = $1 ORDER BY client_id LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(ex)
    .await
}

/// Which owners count as stuck: no password (or disabled) and no client reset link pending.
macro_rules! stuck_owner {
    () => {
        "WHERE (u.password_hash IS NULL OR u.disabled = 1) AND NOT EXISTS (SELECT 1 FROM one_time_tokens t \
         WHERE t.purpose = 'password_reset:client' AND t.subject_id = u.id AND t.used_at IS NULL AND t.expires_at > $1)"
    };
}

/// Client accounts whose owner cannot sign in and has no pending reset link at `now`: how many
/// in all, and the first `limit` of them (id, owner's email). The count is taken apart from the
/// listed examples, which stop at `limit`.
///
/// # Errors
/// Storage errors.
pub async fn stuck_owners(
    pool: &super::Pool,
    now: i64,
    limit: i64,
) -> Result<(i64, Vec<(i64, String)>), sqlx::Error> {
    let total: i64 = sqlx::query_scalar(concat!(
        "SELECT COUNT(*) FROM clients c JOIN users u ON u.id = c.owner_user_id ",
        stuck_owner!()
    ))
    .bind(now)
    .fetch_one(pool)
    .await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(concat!(
        "SELECT c.id, u.email FROM clients c JOIN users u ON u.id = c.owner_user_id ",
        stuck_owner!(),
        " ORDER BY c.id LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok((total, rows))
}
