//! `session.changes`: whether the session change log can tell every node what changed. Nodes
//! hold live sessions in memory (`session::cache`) and forget them when the log says so; a log
//! that cannot be read makes every request read the database (slower, still correct), and a
//! log whose triggers are missing would leave a session ended on one node valid on another.

use super::{CheckResult, Severity};
use crate::app::AppState;
use crate::db::session_change;

pub async fn check(state: &AppState) -> CheckResult {
    const ID: &str = super::id::SESSION_CHANGES;
    let engine = if crate::db::is_postgres(&state.db) {
        "postgres"
    } else {
        "sqlite"
    };
    let (missing, expected) = match session_change::missing_triggers(&state.db).await {
        Ok(found) => found,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    if !missing.is_empty() {
        return CheckResult::problem(
            ID,
            Severity::Error,
            format!(
                "{} of the session change log's {expected} triggers are missing or disabled.",
                missing.len()
            ),
            "They tell every node when a session ends or a user changes. A node started without them never trusts the sessions it holds in memory, but one already running keeps serving a session another node ended.",
            format!(
                "Recreate them with the CREATE TRIGGER statements of migrations/{engine}/20261206010001_session_changes.sql from this version's source (or re-enable them), then restart every node. Until then set session.cache_entries = 0 on every node."
            ),
        )
        .with_details(missing.iter().map(|name| (*name).to_owned()).collect());
    }
    // Read it as a node would: from where a new node starts, then onwards.
    let read = match session_change::head(&state.db).await {
        Ok(cursor) => session_change::read(&state.db, cursor).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = read {
        return CheckResult::problem(
            ID,
            Severity::Warning,
            "The session change log cannot be read.",
            format!(
                "Every node reads each session from the database instead, which is slower but safe. Database error: {e}"
            ),
            "Check that the database user may read the session_changes table, and see database.connection.",
        );
    }
    let memory = match state.config.session_cache_entries {
        0 => "session.cache_entries = 0: sessions are read from the database on every request"
            .to_owned(),
        n => format!("each node holds up to {n} live sessions in memory"),
    };
    CheckResult::ok(
        ID,
        format!(
            "The session change log is readable and its {expected} triggers are in place; {memory}."
        ),
    )
}
