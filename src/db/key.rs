//! Installation-wide keys shared by every node (for example the CSRF signing key).

use super::Db;
use sqlx::Executor;

/// Returns the key called `name`, storing `candidate` first if none exists yet. Safe when several
/// processes start at once: the first insert wins and everyone reads the winner.
pub async fn get_or_create<'e, E>(
    ex: E,
    name: &str,
    candidate: &str,
    now: i64,
) -> Result<String, sqlx::Error>
where
    E: Executor<'e, Database = Db> + Copy,
{
    // Read first: a read-only database (F06) must still start and explain itself.
    let existing: Option<String> =
        sqlx::query_scalar("SELECT value FROM instance_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(ex)
            .await?;
    if let Some(value) = existing {
        return Ok(value);
    }
    sqlx::query("INSERT INTO instance_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(candidate)
        .bind(now)
        .execute(ex)
        .await?;
    sqlx::query_scalar("SELECT value FROM instance_keys WHERE name = $1")
        .bind(name)
        .fetch_one(ex)
        .await
}
