//! The `install_defaults` table: defaults an installation took when its database was created
//! (a migration decides them from what the database held), so an upgrade never changes an
//! existing installation's behaviour behind the operator's back.

use super::Db;
use sqlx::Executor;

/// The stored default called `name`, if the table and the row exist.
pub async fn default_value<'e>(
    ex: impl Executor<'e, Database = Db>,
    name: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM install_defaults WHERE name = $1")
        .bind(name)
        .fetch_optional(ex)
        .await
}
