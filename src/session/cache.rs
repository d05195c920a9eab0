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
//! - At most `session.cache_entries` sessions are kept (when full, those seldom used go first); 0 turns
//!   memory off.
//!
//! Activity is still written at most once per `session.activity_update_seconds` per session and
//! node; the written time is kept with the entry.

use crate::db::{self, session_change::Change};
use crate::session::{Realm, Session, SessionRow};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often each node reads the change log.
pub const POLL_EVERY: Duration = Duration::from_millis(200);
/// How long memory is trusted after the start of the last successful read of the log: the
/// longest another node's change can go unseen.
pub const TRUST_FOR: Duration = Duration::from_secs(1);

/// A live session as it was read, with the activity time this node last knew. Kept compact
/// (one allocation per text, none for the id, which is the key): 100,000 of them must fit in
/// the memory budget of docs/performance.md.
pub struct Cached {
    realm: Realm,
    remember: bool,
    subject_id: i64,
    client_id: Option<i64>,
    created_at: i64,
    expires_at: i64,
    ip: Box<str>,
    user_agent: Box<str>,
    second_factor: Option<Box<str>>,
    client_user: Option<Arc<db::client::ClientUser>>,
    last_seen_at: AtomicI64,
}

impl Cached {
    /// An entry for the live, non-impersonated session `row` of `realm`, read with
    /// `client_user`.
    pub fn new(
        row: SessionRow,
        realm: Realm,
        client_user: Option<Arc<db::client::ClientUser>>,
    ) -> Self {
        Self {
            realm,
            remember: row.remember,
            subject_id: row.subject_id,
            client_id: row.client_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            ip: row.ip.into_boxed_str(),
            user_agent: row.user_agent.into_boxed_str(),
            second_factor: row.second_factor.map(String::into_boxed_str),
            client_user,
            last_seen_at: AtomicI64::new(row.last_seen_at),
        }
    }

    pub fn realm(&self) -> Realm {
        self.realm
    }

    pub fn remember(&self) -> bool {
        self.remember
    }

    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The address the session was started from.
    pub fn ip(&self) -> &str {
        &self.ip
    }

    /// The session as handlers see it, for the id whose hash is `id_hash`.
    pub fn session(&self, id_hash: &str) -> Session {
        Session {
            id_hash: id_hash.to_owned(),
            realm: self.realm,
            subject_id: self.subject_id,
            client_id: self.client_id,
            impersonator_admin_id: None,
            created_at: self.created_at,
            last_seen_at: self.last_seen_at(),
            expires_at: self.expires_at,
            ip: self.ip.to_string(),
            user_agent: self.user_agent.to_string(),
            second_factor: self.second_factor.as_deref().map(str::to_owned),
            client_user: self.client_user.clone().map(super::ClientUser),
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

/// The key of a session: its id hash (64 hex digits) as the 32 bytes it spells, so the key
/// needs no allocation. `None` for anything else, which is then simply never kept.
fn key(id_hash: &str) -> Option<[u8; 32]> {
    let digits = id_hash.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(key)
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
    entries: quick_cache::sync::Cache<[u8; 32], Arc<Cached>>,
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
            // quick_cache needs room for one; a disabled cache never stores it.
            entries: quick_cache::sync::Cache::new(
                usize::try_from(capacity.max(1)).unwrap_or(usize::MAX),
            ),
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
        let found = key(id_hash).and_then(|k| self.entries.get(&k));
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
        let Some(k) = key(id_hash) else { return };
        self.entries.insert(k, Arc::new(entry));
        // A change forgotten between the check and the insert bumped the generation first.
        if self.generation() != generation {
            self.entries.remove(&k);
        }
    }

    /// Forgets one session.
    pub fn forget_session(&self, id_hash: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(k) = key(id_hash) {
            self.entries.remove(&k);
        }
    }

    /// Forgets every session of one person.
    pub fn forget_subject(&self, realm: Realm, subject_id: i64) {
        self.forget_where(|c| c.realm == realm && c.subject_id == subject_id);
    }

    /// Forgets everything.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }

    fn forget_where(&self, matches: impl Fn(&Cached) -> bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.retain(|_, c| !matches(c));
    }

    /// Forgets what `changes` name. The users and accounts are gathered first, so a batch of
    /// them costs one pass over memory, not one per change.
    fn apply(&self, changes: &[Change]) {
        let mut users = std::collections::HashSet::new();
        let mut clients = std::collections::HashSet::new();
        for change in changes {
            match change {
                Change::Session(hash) => self.forget_session(hash),
                Change::User(id) => {
                    users.insert(*id);
                }
                Change::Client(id) => {
                    clients.insert(*id);
                }
                Change::All => return self.forget_all(),
            }
        }
        if !users.is_empty() || !clients.is_empty() {
            self.forget_where(|c| {
                (c.realm == Realm::Client && users.contains(&c.subject_id))
                    || c.client_id.is_some_and(|id| clients.contains(&id))
            });
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
        let wanted = self.now_ms();
        let mut cursor = self.cursor.lock().await;
        // A read that began after this caller asked (in a later millisecond, so surely after
        // the caller's own write committed) and succeeded while it waited for the lock saw
        // everything this caller wants seen: concurrent writers share it.
        if self.verified_at.load(Ordering::Acquire) > wanted {
            return Ok(());
        }
        let began = self.now_ms();
        let result = match *cursor {
            // Nothing is kept before the first read succeeds (memory is not trusted until
            // then), so nothing older matters.
            None => db::session_change::start(pool).await,
            Some(at) => db::session_change::read(pool, at).await.map(|read| {
                if read.overflowed {
                    self.forget_all();
                }
                self.apply(&read.changes);
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
        Stats {
            entries: u64::try_from(self.entries.len()).unwrap_or(u64::MAX),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            trusted: self.trusted(),
            failing: self.failing.load(Ordering::Acquire),
        }
    }
}
