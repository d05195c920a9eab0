//! Sessions held in memory on each node, with the database the source of truth.
//!
//! Loading a live session from memory spares every request its database round trip (on SQLite a
//! hand-off to the driver's worker thread and back; on PostgreSQL a network round trip). What is
//! kept is what `Sessions::load` read: the session row and, for the client area, the user and
//! their place in the active account. Whatever could change that is logged by triggers in the
//! database itself (`db::session_change`), in the same transaction as the change, so no page,
//! CLI command or operator's SQL can forget to tell the other nodes.
//!
//! The rules, each of which `tests/api/session_cache.rs` reproduces on running nodes:
//! - A node reads the log every [`POLL_EVERY`] and forgets what it names. A node that ends a
//!   session forgets it at once, and after every state-changing request it reads the log before
//!   answering, so its own changes take effect for the next request.
//! - Memory is trusted only while the last successful read of the log began less than
//!   [`TRUST_FOR`] ago. When the log cannot be read (the database is away, the table is gone),
//!   every request reads the database until a read succeeds again: a lost channel never leaves
//!   an ended session valid.
//! - A read from the database that raced a change is not stored ([`SessionCache::generation`]).
//! - Anything that would end a session (a timeout, a moved address) is decided again from the
//!   database, since another node may have recorded activity since: memory only ever says
//!   "live", never "ended".
//! - "Login as client" sessions are not kept: they depend on the admin session behind them.
//! - At most `session.cache_entries` sessions are kept (least recently used go first); 0 turns
//!   memory off.
//!
//! Activity is still written at most once per `session.activity_update_seconds` per session and
//! node; the written time is kept with the entry.

use crate::db::{self, session_change::Change};
use crate::session::Realm;
use crate::session::SessionRow;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often each node reads the change log.
pub const POLL_EVERY: Duration = Duration::from_millis(200);
/// How long memory is trusted after the start of the last successful read of the log: the
/// longest another node's change can go unseen.
pub const TRUST_FOR: Duration = Duration::from_secs(1);

/// A live session as it was read, with the activity time this node last knew.
pub struct Cached {
    pub row: SessionRow,
    pub client_user: Option<Arc<db::client::ClientUser>>,
    last_seen_at: AtomicI64,
}

impl Cached {
    /// An entry for `row`, read with `client_user`.
    pub fn new(row: SessionRow, client_user: Option<Arc<db::client::ClientUser>>) -> Self {
        let last_seen_at = AtomicI64::new(row.last_seen_at);
        Self {
            row,
            client_user,
            last_seen_at,
        }
    }

    /// The last activity this node knows of.
    pub fn last_seen_at(&self) -> i64 {
        self.last_seen_at.load(Ordering::Relaxed)
    }

    /// Records activity written to the database.
    pub fn seen(&self, at: i64) {
        self.last_seen_at.fetch_max(at, Ordering::Relaxed);
    }
}

/// What the cache has done, for the operator and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub entries: u64,
    pub hits: u64,
    pub misses: u64,
    /// Whether memory is trusted now (the log was read less than [`TRUST_FOR`] ago).
    pub trusted: bool,
    /// Whether the last read of the log failed.
    pub failing: bool,
}

/// One node's sessions in memory.
pub struct SessionCache {
    entries: moka::sync::Cache<Box<str>, Arc<Cached>>,
    enabled: bool,
    /// Bumped before anything is forgotten.
    generation: AtomicU64,
    /// Milliseconds after `base` at which the last successful read of the log began (0: none).
    verified_at: AtomicU64,
    base: Instant,
    /// Where the next read of the log starts; `None` until the first read.
    cursor: tokio::sync::Mutex<Option<i64>>,
    hits: AtomicU64,
    misses: AtomicU64,
    failing: AtomicBool,
}

impl SessionCache {
    /// A cache of at most `capacity` sessions (0: none are kept).
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::new(capacity),
            enabled: capacity > 0,
            generation: AtomicU64::new(0),
            verified_at: AtomicU64::new(0),
            base: Instant::now(),
            cursor: tokio::sync::Mutex::new(None),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        // Starts at 1 so that 0 can mean "never read".
        u64::try_from(self.base.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// Whether memory may be believed now.
    pub fn trusted(&self) -> bool {
        let at = self.verified_at.load(Ordering::Acquire);
        at != 0
            && self.now_ms().saturating_sub(at)
                < u64::try_from(TRUST_FOR.as_millis()).unwrap_or(u64::MAX)
    }

    /// The live session kept for `id_hash`, if memory is trusted and has it.
    pub fn get(&self, id_hash: &str) -> Option<Arc<Cached>> {
        if !self.enabled || !self.trusted() {
            return None;
        }
        let found = self.entries.get(id_hash);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Taken before reading a session from the database and handed to [`SessionCache::keep`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps what was read from the database for `id_hash`, unless something was forgotten since
    /// `generation` was taken (the read may predate that change).
    pub fn keep(&self, id_hash: &str, entry: Cached, generation: u64) {
        if !self.enabled || !self.trusted() || self.generation() != generation {
            return;
        }
        let key: Box<str> = id_hash.into();
        self.entries.insert(key, Arc::new(entry));
        // A change forgotten between the check and the insert bumped the generation first.
        if self.generation() != generation {
            self.entries.invalidate(id_hash);
        }
    }

    /// Forgets one session.
    pub fn forget_session(&self, id_hash: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(id_hash);
    }

    /// Forgets every session of one person.
    pub fn forget_subject(&self, realm: Realm, subject_id: i64) {
        self.forget_where(|c| c.row.realm == realm.as_str() && c.row.subject_id == subject_id);
    }

    /// Forgets everything.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    fn forget_where(&self, matches: impl Fn(&Cached) -> bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let gone: Vec<Arc<Box<str>>> = self
            .entries
            .iter()
            .filter(|(_, c)| matches(c))
            .map(|(k, _)| k)
            .collect();
        for key in gone {
            self.entries.invalidate(key.as_ref());
        }
    }

    fn apply(&self, change: &Change) {
        match change {
            Change::Session(hash) => self.forget_session(hash),
            Change::User(id) => self.forget_subject(Realm::Client, *id),
            Change::Client(id) => self.forget_where(|c| c.row.client_id == Some(*id)),
            Change::All => self.forget_all(),
        }
    }

    /// Reads the change log and forgets what it names; memory is trusted again from the moment
    /// this read began. A failure leaves memory untrusted once [`TRUST_FOR`] has passed.
    ///
    /// # Errors
    /// Storage errors (also logged, once per outage).
    pub async fn catch_up(&self, pool: &db::Pool) -> Result<(), sqlx::Error> {
        if !self.enabled {
            return Ok(());
        }
        let mut cursor = self.cursor.lock().await;
        let began = self.now_ms();
        let result = match *cursor {
            None => db::session_change::start(pool).await.inspect(|_| {
                // Nothing was kept before the first read, so nothing older matters.
                self.forget_all();
            }),
            Some(at) => db::session_change::read(pool, at).await.map(|read| {
                if read.overflowed {
                    self.forget_all();
                }
                for change in &read.changes {
                    self.apply(change);
                }
                read.cursor
            }),
        };
        match result {
            Ok(next) => {
                *cursor = Some(next);
                self.verified_at.store(began, Ordering::Release);
                if self.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!(
                        "the session change log is readable again; sessions are served from memory"
                    );
                }
                Ok(())
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "cannot read the session change log; every request reads its session from the database until it can");
                }
                Err(e)
            }
        }
    }

    /// Reads the change log every [`POLL_EVERY`] for as long as the cache is alive.
    pub fn watch(cache: &Arc<Self>, pool: db::Pool) {
        if !cache.enabled {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(cache);
        tokio::spawn(async move {
            loop {
                let Some(cache) = weak.upgrade() else { return };
                // Failures are logged by catch_up and leave memory untrusted.
                let _ = cache.catch_up(&pool).await;
                drop(cache);
                tokio::time::sleep(POLL_EVERY).await;
            }
        });
    }

    /// What the cache has done so far.
    pub fn stats(&self) -> Stats {
        self.entries.run_pending_tasks();
        Stats {
            entries: self.entries.entry_count(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            trusted: self.trusted(),
            failing: self.failing.load(Ordering::Acquire),
        }
    }
}
