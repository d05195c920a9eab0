//! Storage: the connection pool, the embedded migrations, and one module per table group.
//!
//! This is the only place with SQL. Queries are written once for both engines (sqlx's `Any`
//! driver, `$1` placeholders, instants as unix seconds, flags as 0/1 integers), so adding the
//! PostgreSQL backend means adding its driver and migration twin, not rewriting queries.
//! Functions take an executor so callers can group writes in a transaction, and they return
//! database errors as errors: an outage must never look like "not found".

pub mod account;
pub mod api_credential;
pub mod audit;
pub mod ban;
pub mod client;
pub mod counter;
pub mod housekeeping;
pub mod install;
pub mod key;
pub mod license;
pub mod mail;
pub mod oidc_application;
pub mod oidc_grant;
pub mod oidc_key;
pub mod oidc_logout;
pub mod oidc_token;
pub mod one_time_token;
pub mod outage;
pub mod rate_limit;
pub mod role;
pub mod scheduler;
pub mod session;
pub mod session_change;
pub mod setting;
pub mod signin_place;
pub mod throttle;
pub mod two_factor;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _};
use std::str::FromStr as _;
use std::sync::LazyLock;
use std::time::Duration;

/// A pooled connection idle this long is checked before use.
const IDLE_PING: Duration = Duration::from_secs(1);

/// The database driver used everywhere.
pub type Db = sqlx::Any;
/// A pool of connections to the configured database.
pub type Pool = sqlx::AnyPool;
/// One connection taken from the [`Pool`] for several statements in a row. sqlx tests every
/// connection it takes back (a ping: one more round trip to SQLite's worker thread or to the
/// PostgreSQL server), so a hot path that runs its statements on one connection pays that once
/// instead of once per statement.
pub type Connection = sqlx::AnyConnection;
/// A [`Connection`] taken from the pool, returned to it when dropped.
pub type Pooled = sqlx::pool::PoolConnection<Db>;

// Both tolerate migrations newer than the binary (`ignore_missing`): during a rolling upgrade the
// first upgraded node migrates, and a node still on the previous version must be able to restart
// against that schema. Migrations are therefore additive (docs/deployment.md, "Upgrading"), and
// the doctor reports such a node (`database.migrations`).
static SQLITE_MIGRATIONS: LazyLock<Migrator> =
    LazyLock::new(|| tolerant(sqlx::migrate!("./migrations/sqlite")));
static POSTGRES_MIGRATIONS: LazyLock<Migrator> =
    LazyLock::new(|| tolerant(sqlx::migrate!("./migrations/postgres")));

fn tolerant(mut migrator: Migrator) -> Migrator {
    migrator.set_ignore_missing(true);
    migrator
}

/// The server's engine and version as it names them (`PostgreSQL 15.…`, `SQLite 3.…`).
///
/// # Errors
/// Storage errors.
pub async fn server_version(pool: &Pool) -> Result<String, sqlx::Error> {
    let query = if is_postgres(pool) {
        "SELECT version()"
    } else {
        "SELECT 'SQLite ' || sqlite_version()"
    };
    sqlx::query_scalar::<_, String>(query).fetch_one(pool).await
}

/// Whether `pool` is connected to PostgreSQL (otherwise SQLite).
pub fn is_postgres(pool: &Pool) -> bool {
    pool.connect_options()
        .database_url
        .scheme()
        .starts_with("postgres")
}

/// The migrations of the pool's engine: twin directories kept in lockstep (same versions, same
/// tables, columns and indexes; `tests/api/schema.rs` compares them on live databases).
fn migrator(pool: &Pool) -> &'static Migrator {
    if is_postgres(pool) {
        &POSTGRES_MIGRATIONS
    } else {
        &SQLITE_MIGRATIONS
    }
}

/// Opens the pool for `url`, creating the SQLite file (and its folder) on first use.
///
/// SQLite runs in WAL mode with foreign keys enforced and a busy timeout, so a second process
/// (the doctor, `cron`) can read while the server writes.
///
/// # Errors
/// When the folder cannot be created or the database cannot be opened.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Pool> {
    sqlx::any::install_default_drivers();
    // TLS to PostgreSQL (sslmode) uses rustls, which needs the process's crypto provider.
    crate::net::http::install_crypto_provider();
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = std::path::Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
    }
    let options = AnyConnectOptions::from_str(url)
        .context("database.url is not a valid database URL")?
        .disable_statement_logging();
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // A connection that died with the database server (a restart, a failover) must be
        // replaced, not handed to the next request. Pinging before every use would find it, but
        // costs a round trip per query, which on PostgreSQL halved the session-checked request
        // rate (benches/engines.rs). So: ping a connection that sat idle for a while (it may
        // have died unnoticed), and ping on release only while an outage is being seen (a
        // request just met a lost connection), so dead ones leave the pool within a request.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_PING || outage::is_down() {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_release(|conn, _meta| {
            Box::pin(async move { Ok(!outage::is_down() || conn.ping().await.is_ok()) })
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                outage::report_connected();
                if conn.backend_name() == "SQLite" {
                    conn.execute(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database at {}", crate::config::redact_url(url)))
}

/// Waits until the database at `url` accepts a connection, for at most `patience`.
///
/// `serve` calls this first, so nodes started together with their database server (a boot, a
/// failover) wait for it instead of exiting. Only a connection that could not be made is waited
/// for: a wrong password or a malformed URL fails at once.
///
/// # Errors
/// The last connection error, when the database refused for another reason or did not become
/// reachable in time.
pub async fn wait_reachable(url: &str, patience: Duration) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    loop {
        match connect(url, 1).await {
            Ok(pool) => {
                pool.close().await;
                return Ok(());
            }
            Err(e)
                if outage::find_connection_error(&e).is_some() && started.elapsed() < patience =>
            {
                tracing::warn!(
                    error = %format!("{e:#}"),
                    waited_seconds = started.elapsed().as_secs(),
                    limit_seconds = patience.as_secs(),
                    "database not reachable yet; retrying"
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Applies the embedded migrations that have not run yet.
///
/// # Errors
/// When a migration fails or the database holds migrations this binary does not know.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    migrator(pool)
        .run(pool)
        .await
        .context("database migration failed")
}

/// How the database's applied migrations compare with this binary's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Migrations of this binary not applied yet.
    pub pending: usize,
    /// Applied migrations this binary does not know (a newer node migrated: rolling upgrade).
    pub newer: Vec<i64>,
}

/// Compares the applied migrations with the embedded ones.
///
/// # Errors
/// When the migrations table cannot be read.
pub async fn migration_state(pool: &Pool) -> anyhow::Result<MigrationState> {
    let applied: Vec<(i64,)> =
        match sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(pool)
            .await
        {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(e))
                if e.message().contains("no such table")
                    || e.message().contains("does not exist") =>
            {
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
    let known = migrator(pool);
    Ok(MigrationState {
        pending: known
            .iter()
            .filter(|m| !applied.iter().any(|(v,)| *v == m.version))
            .count(),
        newer: applied
            .iter()
            .map(|(v,)| *v)
            .filter(|v| !known.iter().any(|m| m.version == *v))
            .collect(),
    })
}

/// The filesystem path of a SQLite URL, if it is one.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// Converts a stored 0/1 flag.
pub(crate) fn flag(value: i64) -> bool {
    value != 0
}
