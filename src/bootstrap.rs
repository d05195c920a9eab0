//! Start-up: configuration → application state → services → router and background workers.
//!
//! [`Application::build`] waits for the database, binds the listener and opens the state
//! ([`AppState::open`]: pool, migrations when configured, installation keys, runtime settings);
//! [`Application::run_until`] serves the router of `web/` on it. `portcullis serve` also calls
//! [`Application::start_workers`] for the mail sender and the scheduler; tests and benchmarks
//! build the same application without them and drive those by hand. [`migrate`] is
//! `portcullis migrate`. Services are built from the state where they are used
//! (`impl From<&AppState>`), so nothing here lists them.
//!
//! Only the wiring lives here: the state is `app.rs`, the route table and the HTTP server are
//! `web/`, which this file reaches through [`crate::web::serve`] without knowing HTTP.

use crate::app::AppState;
use crate::clock::Clock;
use crate::config::Config;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;

/// How long `serve` waits at start for a database that does not accept connections yet.
pub const DATABASE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// A bound, ready-to-run server.
pub struct Application {
    pub state: AppState,
    listener: tokio::net::TcpListener,
    pub address: SocketAddr,
}

impl Application {
    /// Builds the application and binds `config.listen` (port 0 picks a free port).
    ///
    /// # Errors
    /// Storage errors and a listen address that cannot be bound.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::db::wait_reachable(&config.database_url, DATABASE_PATIENCE).await?;
        let listen = config.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (server.listen)"))?;
        Self::with_listener(config, clock, listener).await
    }

    /// Builds the application on a listener that is already bound (tests bind first so the
    /// System URL can name the port).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn with_listener(
        config: Config,
        clock: Arc<dyn Clock>,
        listener: tokio::net::TcpListener,
    ) -> anyhow::Result<Self> {
        let migrate = config.migrate_on_start;
        let state = AppState::open(config, clock, migrate).await?;
        let address = listener.local_addr()?;
        Ok(Self {
            state,
            listener,
            address,
        })
    }

    /// Starts the background workers of a server: the mail sender, the back-channel logout
    /// sender and the scheduler (which also records this server's view of time). They run until the process ends.
    pub fn start_workers(&self) {
        tokio::spawn(crate::mail::sender::run_forever(self.state.clone()));
        tokio::spawn(crate::oidc::backchannel::run_forever(self.state.clone()));
        tokio::spawn(crate::scheduler::run_forever(self.state.clone()));
    }

    /// Serves until `shutdown` resolves.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        crate::web::serve(self.listener, self.state, shutdown).await
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM), for a graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

/// What `portcullis migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Migrations applied now.
    pub applied: usize,
    /// Applied migrations this binary does not know (a newer node migrated: rolling upgrade).
    pub newer: Vec<i64>,
}

/// Applies every pending migration to the configured database.
///
/// # Errors
/// When the database cannot be opened or a migration fails.
pub async fn migrate(config: &Config) -> anyhow::Result<Migrated> {
    let pool = crate::db::connect(&config.database_url, 1).await?;
    let before = crate::db::migration_state(&pool).await?;
    crate::db::migrate(&pool).await?;
    Ok(Migrated {
        applied: before.pending,
        newer: before.newer,
    })
}

/// A pool of database connections, as [`AppState::db`] holds it. Tools, tests and benchmarks
/// outside the crate read it with plain sqlx; every write of Portcullis goes through a service.
pub use crate::db::Pool;

/// Opens a pool of at most `max_connections` to the database at `url` the way the server does
/// (SQLite: the file and its folder created, WAL, foreign keys, a busy timeout; PostgreSQL:
/// TLS as the URL asks), without migrating it: for a second connection to a server's database
/// (a test reading what a process recorded, a throwaway database created on a PostgreSQL
/// server). [`AppState::open`] is how the application itself opens storage.
///
/// # Errors
/// When the SQLite folder cannot be created or the database cannot be opened; the doctor's
/// [`crate::doctor::cannot_open_database`] explains such an error.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Pool> {
    crate::db::connect(url, max_connections).await
}

/// Applies this binary's pending migrations to `pool` (what [`migrate`] does for the configured
/// database), for a pool opened with [`connect`].
///
/// # Errors
/// When a migration fails or the database holds migrations this binary does not know.
pub async fn migrate_pool(pool: &Pool) -> anyhow::Result<()> {
    crate::db::migrate(pool).await
}

/// Whether `pool` is connected to PostgreSQL (otherwise SQLite), for the few checks whose SQL
/// differs by engine.
pub fn is_postgres(pool: &Pool) -> bool {
    crate::db::is_postgres(pool)
}
