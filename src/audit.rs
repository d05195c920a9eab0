//! Audit retention: removes events older than `audit.retention_days`.

use crate::app::AppState;

/// Rows removed per statement: small enough that one batch holds SQLite's write lock for
/// milliseconds, so sign-ins keep flowing while a large backlog is cleared.
const BATCH: i64 = 5_000;

/// Removes every event past the retention period, in batches; returns how many went.
///
/// # Errors
/// A database error; the batches already removed stay removed.
pub async fn purge_expired(state: &AppState) -> Result<u64, sqlx::Error> {
    let Some(days) = state.config.audit_retention_days else {
        return Ok(0);
    };
    let before = state.clock.unix() - i64::from(days) * 86_400;
    let mut total = 0;
    loop {
        let removed = crate::db::audit::purge_before(&state.db, before, BATCH).await?;
        total += removed;
        if removed < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            break;
        }
        // Let waiting requests take the write lock between batches.
        tokio::task::yield_now().await;
    }
    if total > 0 {
        tracing::info!(removed = total, days, "audit events past retention removed");
    }
    Ok(total)
}
