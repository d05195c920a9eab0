//! The `session_changes` table: the log the database's triggers write whenever something a node
//! keeps of a live session in memory changes (`crate::session::cache`).
//!
//! Readers keep a cursor. On SQLite it is the last `seq` read: writers commit one at a time, so
//! rows appear in `seq` order. On PostgreSQL sequence values are handed out before commit, in no
//! particular commit order, so the cursor is instead a transaction horizon: every row whose
//! writing transaction is older than the oldest transaction still running has been read. No
//! older row can appear after that, whatever order transactions commit in. Committed rows of
//! newer transactions are read as they appear, and read again until the horizon passes them
//! (forgetting twice is harmless), so a long-running transaction delays nothing.

use super::{Pool, is_postgres};
use sqlx::Row as _;

/// One logged change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The session with this id hash changed or ended.
    Session(String),
    /// A client-area user changed (disabled, deleted, new password or email) or their place in
    /// an account did: their sessions.
    User(i64),
    /// A client account changed or was deleted: the sessions working in it.
    Client(i64),
    /// Anything else (a name, which labels other people's accounts too): every session.
    All,
}

/// At most this many changes are read at once; more means "forget everything" (see [`read`]).
pub const BATCH: usize = 5000;

/// What one read of the log found.
#[derive(Debug)]
pub struct Read {
    pub changes: Vec<Change>,
    /// More than [`BATCH`] changes were waiting: the reader must forget everything.
    pub overflowed: bool,
    /// Where the next read starts.
    pub cursor: i64,
}

/// The triggers that write the log, by engine (migration 20261206010001). A database restored
/// without them, or with one disabled, would let a node keep serving a session another node
/// ended; [`start`] refuses to begin then, and the doctor's `session.changes` names them.
const SQLITE_TRIGGERS: [&str; 10] = [
    "session_changes_session",
    "session_changes_session_gone",
    "session_changes_user",
    "session_changes_user_name",
    "session_changes_user_gone",
    "session_changes_client",
    "session_changes_client_gone",
    "session_changes_member_added",
    "session_changes_member_changed",
    "session_changes_member_gone",
];
const POSTGRES_TRIGGERS: [&str; 6] = [
    "session_changes_session",
    "session_changes_session_gone",
    "session_changes_user",
    "session_changes_user_gone",
    "session_changes_client",
    "session_changes_member",
];

/// The log's triggers that are missing or disabled, and how many there should be.
///
/// # Errors
/// Storage errors.
pub async fn missing_triggers(pool: &Pool) -> Result<(Vec<&'static str>, usize), sqlx::Error> {
    let (expected, query): (&[&'static str], &str) = if is_postgres(pool) {
        (
            &POSTGRES_TRIGGERS,
            "SELECT CAST(tgname AS TEXT) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'",
        )
    } else {
        (
            &SQLITE_TRIGGERS,
            "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        )
    };
    let present: Vec<String> = sqlx::query_scalar(query).fetch_all(pool).await?;
    let missing = expected
        .iter()
        .copied()
        .filter(|name| !present.iter().any(|p| p == name))
        .collect();
    Ok((missing, expected.len()))
}

/// Where a reader that remembers nothing yet starts: after every change made so far.
///
/// # Errors
/// Storage errors (an unmigrated database has no log), or a configuration error naming the
/// log's triggers that are missing: without them memory could never be told of a change.
pub async fn start(pool: &Pool) -> Result<i64, sqlx::Error> {
    let (missing, _) = missing_triggers(pool).await?;
    if !missing.is_empty() {
        return Err(sqlx::Error::Configuration(
            format!(
                "the session change log's triggers are missing or disabled: {}",
                missing.join(", ")
            )
            .into(),
        ));
    }
    head(pool).await
}

/// After every change made so far, without looking at the triggers (the doctor has).
///
/// # Errors
/// Storage errors.
pub async fn head(pool: &Pool) -> Result<i64, sqlx::Error> {
    let query = if is_postgres(pool) {
        "SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT)"
    } else {
        "SELECT COALESCE(MAX(seq), 0) FROM session_changes"
    };
    sqlx::query_scalar::<_, i64>(query).fetch_one(pool).await
}

/// The changes after `cursor`, oldest first.
///
/// # Errors
/// Storage errors.
pub async fn read(pool: &Pool, cursor: i64) -> Result<Read, sqlx::Error> {
    let postgres = is_postgres(pool);
    let query = if postgres {
        // One row even when nothing changed, to carry the new horizon. Rows of transactions
        // newer than the horizon that have committed are read too, and again next time: a
        // long-running transaction elsewhere holds the horizon back, and must not hold back
        // what others have already committed.
        "SELECT c.kind, c.session_hash, c.ref_id, h.horizon FROM \
         (SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT) AS horizon) h \
         LEFT JOIN session_changes c ON c.tx >= $1 \
         ORDER BY c.seq LIMIT $2"
    } else {
        "SELECT kind, session_hash, ref_id, seq AS horizon FROM session_changes \
         WHERE seq > $1 ORDER BY seq LIMIT $2"
    };
    let rows = sqlx::query(query)
        .bind(cursor)
        .bind(i64::try_from(BATCH).unwrap_or(i64::MAX) + 1)
        .fetch_all(pool)
        .await?;
    let mut changes = Vec::with_capacity(rows.len());
    let mut next = cursor;
    for row in &rows {
        next = next.max(row.try_get::<i64, _>("horizon")?);
        let kind: Option<String> = row.try_get("kind")?;
        let change = match kind.as_deref() {
            None => continue,
            Some("session") => row
                .try_get::<Option<String>, _>("session_hash")?
                .map_or(Change::All, Change::Session),
            Some("user") => row
                .try_get::<Option<i64>, _>("ref_id")?
                .map_or(Change::All, Change::User),
            Some("client") => row
                .try_get::<Option<i64>, _>("ref_id")?
                .map_or(Change::All, Change::Client),
            // 'all', or a kind a newer node wrote: forgetting everything is always safe.
            Some(_) => Change::All,
        };
        changes.push(change);
    }
    let overflowed = changes.len() > BATCH;
    if overflowed {
        changes.clear();
        next = head(pool).await?;
    }
    Ok(Read {
        changes,
        overflowed,
        cursor: next,
    })
}

#[cfg(test)]
mod tests {
    use super::{POSTGRES_TRIGGERS, SQLITE_TRIGGERS};

    fn created(migration: &str) -> Vec<&str> {
        migration
            .split("CREATE TRIGGER ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next())
            .collect()
    }

    #[test]
    fn the_expected_triggers_are_those_the_migrations_create() {
        let sqlite = include_str!("../../migrations/sqlite/20261206010001_session_changes.sql");
        let postgres = include_str!("../../migrations/postgres/20261206010001_session_changes.sql");
        assert_eq!(created(sqlite), SQLITE_TRIGGERS);
        assert_eq!(created(postgres), POSTGRES_TRIGGERS);
    }
}
