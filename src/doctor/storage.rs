//! `storage.disk`, `storage.session_write`, `database.migrations` (F02, F06): can sessions be
//! stored at all.

use super::{CheckResult, Severity};
use crate::app::AppState;
use std::path::Path;

/// Free bytes available to us on the filesystem holding `path` (or its nearest existing parent).
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let mut probe = path;
    while !probe.exists() {
        probe = probe.parent().unwrap_or(Path::new("."));
        if probe.as_os_str().is_empty() {
            probe = Path::new(".");
        }
    }
    let stat = rustix::fs::statvfs(probe).map_err(std::io::Error::from)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Fails when free space under the data directory is below `storage.min_free_mb`.
pub fn disk(state: &AppState) -> CheckResult {
    const ID: &str = super::id::STORAGE_DISK;
    let dir = &state.config.data_dir;
    let min = state.config.min_free_bytes;
    let mib = |b: u64| b / (1024 * 1024);
    match free_bytes(dir) {
        Err(e) => CheckResult::problem(
            ID,
            Severity::Error,
            format!("Cannot read the free space of {}.", dir.display()),
            format!("statvfs failed: {e}"),
            "Check that data_dir exists and is readable by the Portcullis user.",
        ),
        Ok(free) if free < min => CheckResult::problem(
            ID,
            Severity::Error,
            format!(
                "Only {} MiB free under {} (minimum {} MiB).",
                mib(free),
                dir.display(),
                mib(min)
            ),
            "When the disk fills up, sessions cannot be written and every user is signed out or cannot sign in.",
            "Free disk space (old logs, backups) or grow the volume; storage.min_free_mb sets the threshold.",
        ),
        Ok(free) if free < min.saturating_mul(2) => CheckResult::problem(
            ID,
            Severity::Warning,
            format!(
                "{} MiB free under {}, close to the minimum of {} MiB.",
                mib(free),
                dir.display(),
                mib(min)
            ),
            "The disk is filling up; below the minimum, sessions can no longer be saved.",
            "Free disk space or grow the volume before it runs out.",
        ),
        Ok(free) => CheckResult::ok(
            ID,
            format!("{} MiB free under {}.", mib(free), dir.display()),
        ),
    }
}

/// Writes a probe row into the session store, reads it back and deletes it.
pub async fn session_write(state: &AppState) -> CheckResult {
    const ID: &str = super::id::STORAGE_SESSION_WRITE;
    let now = state.clock.unix();
    let Ok(probe) = crate::token::generate() else {
        return CheckResult::problem(
            ID,
            Severity::Error,
            "No randomness available.",
            "The operating system's random source failed.",
            "Check the host.",
        );
    };
    let row = crate::db::session::SessionRow {
        id_hash: probe.hash.clone(),
        realm: "probe".into(),
        subject_id: 0,
        client_id: None,
        impersonator_admin_id: None,
        ip: "0.0.0.0".into(),
        user_agent: "portcullis doctor".into(),
        remember: false,
        created_at: now,
        last_seen_at: now,
        expires_at: now,
        ended_at: None,
        end_reason: None,
        second_factor: None,
    };
    let result = async {
        crate::db::session::insert(&state.db, &row, None).await?;
        let back = crate::db::session::find_by_hash(&state.db, &probe.hash).await?;
        crate::db::session::delete(&state.db, &probe.hash).await?;
        Ok::<_, sqlx::Error>(back.is_some())
    }
    .await;
    match result {
        Ok(true) => CheckResult::ok(ID, "A session was written, read back and removed."),
        Ok(false) => CheckResult::problem(
            ID,
            Severity::Error,
            "A session written to the database could not be read back.",
            "The database accepted a write it did not keep (replication or a misconfigured pool).",
            "Check database.url points at one primary database.",
        ),
        Err(e) => CheckResult::problem(
            ID,
            Severity::Error,
            "Sessions cannot be written to the database.",
            format!(
                "The database refused a write: {e}. Typical causes: the database file or its folder is read-only, the disk is full, or another process holds a lock."
            ),
            "Make the database (and its -wal/-shm files and folder) writable by the Portcullis user and free disk space; users cannot stay signed in until this passes.",
        ),
    }
}

/// Fails when migrations are pending (a server started with `database.migrate_on_start = false`);
/// warns when the database was migrated by a newer binary (a rolling upgrade half done).
pub async fn migrations(state: &AppState) -> CheckResult {
    const ID: &str = super::id::DATABASE_MIGRATIONS;
    match crate::db::migration_state(&state.db).await {
        Ok(m) if m.pending > 0 => CheckResult::problem(
            ID,
            Severity::Error,
            format!("{} database migration(s) have not been applied.", m.pending),
            "The binary is newer than the database schema.",
            "Run `portcullis migrate`.",
        ),
        Ok(m) if !m.newer.is_empty() => CheckResult::problem(
            ID,
            Severity::Warning,
            format!(
                "The database has {} migration(s) this binary does not know ({}).",
                m.newer.len(),
                m.newer
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "A newer Portcullis migrated the database: a rolling upgrade is under way or was left half done. Migrations only add, so this node keeps working meanwhile.",
            "Upgrade this node to the version the other nodes run (docs/deployment.md, \"Upgrading\").",
        ),
        Ok(_) => CheckResult::ok(ID, "The database schema is up to date."),
        Err(e) => CheckResult::problem(
            ID,
            Severity::Error,
            "The migration state cannot be read.",
            e.to_string(),
            "Check database.url and run `portcullis migrate`.",
        ),
    }
}

/// The database answers: its engine and version, how long a round trip takes, the pool's size.
pub async fn connection(state: &AppState) -> CheckResult {
    const ID: &str = super::id::DATABASE_CONNECTION;
    let started = std::time::Instant::now();
    match crate::db::server_version(&state.db).await {
        Ok(version) => CheckResult::ok(
            ID,
            format!(
                "{} answered in {} ms; pool of at most {} connection(s), {} open now.",
                version.split(" on ").next().unwrap_or(&version),
                started.elapsed().as_millis(),
                state.config.database_max_connections,
                state.db.size()
            ),
        ),
        Err(e) => {
            let (cause, next) = crate::db::outage::explain(&anyhow::Error::from(e));
            CheckResult::problem(
                ID,
                Severity::Error,
                "The database does not answer.",
                cause,
                next,
            )
        }
    }
}
