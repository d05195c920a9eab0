//! Application state: everything a service, a request handler or a CLI command needs.
//!
//! [`AppState`] is one shared pointer to [`Shared`], so cloning it (every middleware layer and
//! extractor does, per request) is one reference count, not one per field: the profile of
//! `GET /healthz` had 10% of its samples in dropping the field-by-field clones
//! (docs/performance.md). [`AppState::open`] opens the database,
//! applies migrations when asked to, and loads the installation keys and runtime settings.
//! Services are built from it (`impl From<&AppState>` in each service's module). Starting a
//! server (binding, the router, the workers) is `bootstrap.rs`; [`Application`] is re-exported
//! here because tests and benchmarks know it as `app::Application`. This file knows no HTTP.

use crate::auth::hasher::Hasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::db;
use anyhow::Context as _;
use std::sync::Arc;

pub use crate::bootstrap::{Application, DATABASE_PATIENCE};

/// Shared state of a running Portcullis; its fields are [`Shared`]'s, reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points to.
#[derive(Clone)]
pub struct Shared {
    pub config: Arc<Config>,
    pub db: db::Pool,
    pub clock: Arc<dyn Clock>,
    pub hasher: Hasher,
    /// Signs CSRF tokens; shared by every node through the database.
    pub csrf_key: Arc<[u8]>,
    /// Runtime settings in force on this node.
    pub settings: Arc<crate::settings::Store>,
    /// Diagnostic events waiting to be written.
    pub events: Arc<crate::diagnostics::Events>,
    /// Recent ban lookups of this node (`ban::CACHE_FOR`).
    pub bans: Arc<crate::ban::BanCache>,
    /// The configured mail transport.
    pub mailer: Arc<dyn crate::mail::Mailer>,
    /// Seals two-factor secrets at rest.
    pub sealing: Arc<crate::sealing::SealingKey>,
    /// The OpenID signing keys this node has opened (`oidc::keys`).
    pub oidc_keys: crate::oidc::keys::KeyCache,
    /// The live sessions this node keeps in memory (`session::cache`).
    pub session_cache: Arc<crate::session::cache::SessionCache>,
}

impl AppState {
    /// A separate state sharing this one's parts except those `change` replaces: another node
    /// on the same database (with its own sealing key, say), as the tests build one.
    #[must_use]
    pub fn altered(&self, change: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Shared::clone(&self.0);
        change(&mut shared);
        Self(Arc::new(shared))
    }

    /// A stored instant as people read it, in the configured timezone.
    pub fn show_time(&self, unix: i64) -> String {
        crate::clock::display(unix, &self.settings.snapshot().values.timezone)
    }

    /// Opens storage and loads keys; migrates first when `migrate` is true.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated, or the keys cannot be read or stored.
    pub async fn open(
        config: Config,
        clock: Arc<dyn Clock>,
        migrate: bool,
    ) -> anyhow::Result<Self> {
        let pool = db::connect(&config.database_url, config.database_max_connections).await?;
        if migrate {
            db::migrate(&pool).await?;
        }
        let mut config = config;
        let admin_default = db::install::default_value(&pool, crate::config::ADMIN_POLICY_DEFAULT);
        // An unmigrated database has no record yet: the new installation's default stays.
        let admin_default = admin_default.await.ok().flatten();
        config
            .two_factor
            .apply_installation_default(admin_default.as_deref());
        let candidate = crate::token::hex(&crate::token::random_bytes::<32>()?);
        let csrf_key = db::key::get_or_create(&pool, "csrf", &candidate, clock.unix())
            .await
            .context("cannot read the installation keys; has `portcullis migrate` run?")?;
        let effective = match crate::settings::load(&pool, &config).await {
            Ok(e) => e,
            Err(e) => {
                // Unmigrated database (the doctor reports it); boot values keep the node usable.
                tracing::warn!(error = %e, "cannot read runtime settings; using the configuration file's values");
                crate::settings::from_config(&config)
            }
        };
        let settings = Arc::new(crate::settings::Store::new(effective, clock.unix()));
        let mailer = crate::mail::from_config(&config.mail)?;
        let sealing = Arc::new(crate::sealing::SealingKey::load(&config.two_factor.key)?);
        // Password hashes are keyed with a subkey of the sealing key (outside the database).
        let hasher = Hasher::new(
            config.hash_concurrency,
            config.hash_queue,
            crate::auth::password::Pepper::derive(&sealing),
        );
        match sealing_key_recorded(&pool, &sealing, clock.unix()).await {
            Ok(false) => tracing::error!(
                "this node's two-factor sealing key is not the one the database's secrets were sealed with; passwords and second factors will fail here (run `portcullis doctor`, check two_factor.key)"
            ),
            Ok(true) => {}
            Err(e) => tracing::warn!(error = %e, "cannot record the sealing key's check value"),
        }
        let session_cache = Arc::new(crate::session::cache::SessionCache::new(
            config.session_cache_entries,
        ));
        crate::session::cache::SessionCache::watch(&session_cache, pool.clone());
        Ok(Self(Arc::new(Shared {
            config: Arc::new(config),
            db: pool,
            clock,
            hasher,
            csrf_key: Arc::from(csrf_key.into_bytes().into_boxed_slice()),
            settings,
            events: Arc::new(crate::diagnostics::Events::default()),
            bans: Arc::new(crate::ban::BanCache::default()),
            mailer,
            sealing,
            oidc_keys: crate::oidc::keys::KeyCache::default(),
            session_cache,
        })))
    }
}

/// The installation key row holding the sealing key's check value.
const SEALING_CHECK: &str = "sealing_check";

/// Whether `sealing` is the key the database records (the first node records its own), so a
/// node that made its own key file is caught before its users' second factors fail.
///
/// # Errors
/// Storage errors.
pub async fn sealing_key_recorded(
    pool: &db::Pool,
    sealing: &crate::sealing::SealingKey,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let check = sealing.check_value();
    Ok(db::key::get_or_create(pool, SEALING_CHECK, &check, now).await? == check)
}
