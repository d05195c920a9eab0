//! Where a person signed in before: the addresses of their earlier `signin.success` audit
//! entries, for the "sign-in from a new place" notice (`crate::signin::new_place`).

use sqlx::Row;

/// The addresses of `actor`'s `signin.success` entries since `since` (newest first, at most
/// `limit`), and whether they have any such entry at all (of any age).
///
/// # Errors
/// Storage errors.
pub(crate) async fn earlier(
    pool: &super::Pool,
    actor: &str,
    since: i64,
    limit: i64,
) -> Result<(Vec<String>, bool), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT ip FROM audit_log WHERE actor = $1 AND action = 'signin.success' AND at >= $2 \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(actor)
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let ips: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>("ip"))
        .collect::<Result<_, _>>()?;
    if !ips.is_empty() {
        return Ok((ips, true));
    }
    let any = sqlx::query(
        "SELECT id FROM audit_log WHERE actor = $1 AND action = 'signin.success' LIMIT 1",
    )
    .bind(actor)
    .fetch_optional(pool)
    .await?;
    Ok((ips, any.is_some()))
}
