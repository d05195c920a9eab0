//! Failed-login bans: counting failures, banning addresses, listing and lifting bans: the
//! [`Bans`] service, which the ban step of the pipeline, the sign-in pages, the second-factor
//! service, the admin's bans page and `portcullis ban` all call.
//!
//! Failures are counted per resolved client key (and per account from that key, which names
//! the targeted accounts in the ban's reason) in the database, so every node sees every
//! failure and enforces every ban (another node's within [`CACHE_FOR`]). Whitelisted addresses
//! are never banned. Every ban and lift is audited here, in the transaction that makes it; the
//! front ends only map [`BanError`] and [`LiftError`] to their messages.
//!
//! **The key** ([`key_of`]): an IPv4 address is its own key; an IPv6 address counts and is
//! banned as its /64. One subscriber, host or VM is handed a whole /64, and choosing a new
//! address inside it is free, so a per-address count would let one attacker rotate past every
//! threshold. IPv4 stays per address: there a /24 is usually many unrelated customers.
//!
//! **The scope** ([`Scope`]): a ban covers the admin area (`/admin...`), the client area
//! (everything else) or both. Automatic bans cover the area whose sign-ins failed: three wrong
//! admin passwords from an office NAT must not lock that office's customers out of their client
//! area, and a credential-stuffing run against the client sign-in has no business being
//! let into the admin sign-in either, which keeps its own stricter count. A ban made by hand
//! covers both areas unless the admin picks one: a person banning an address by hand usually
//! means "keep them out".

use crate::account::FieldError;
use crate::app::AppState;
use crate::audit::Origin;
use crate::clock::Clock;
use crate::domain::{Action, Actor, Realm};
use crate::settings::Settings;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A ban as stored: the address, why, since and until when, and who made it.
pub use crate::db::ban::BanRow;

/// How long a node reuses what the database said about an address. A ban recorded by this node
/// applies here at once; one recorded by another node, or lifted from the command line, applies
/// here within this bound. Checking every request against the database cost a round trip each,
/// a quarter of a session-checked page's queries on PostgreSQL (benches/engines.rs).
pub const CACHE_FOR: Duration = Duration::from_secs(1);
/// Addresses remembered at most; a full cache is emptied rather than scanned.
const CACHE_MAX: usize = 10_000;

/// What the cache knows about an address.
enum Cached {
    /// A recent answer: the bans on the key, of every scope (often none).
    Known(Vec<BanRow>),
    /// Nothing recent: ask the database.
    Ask,
}

/// Recent answers of the ban lookup, per key (this node only).
#[derive(Debug, Default)]
pub struct BanCache {
    // Monotonic ages only decide when to ask the database again; whether a ban is still in
    // force is always judged by the application clock.
    entries: Mutex<HashMap<String, (Instant, Vec<BanRow>)>>,
}

impl BanCache {
    fn get(&self, key: &str) -> Cached {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(key) {
            Some((at, bans)) if at.elapsed() < CACHE_FOR => Cached::Known(bans.clone()),
            _ => Cached::Ask,
        }
    }

    fn put(&self, key: &str, bans: Vec<BanRow>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CACHE_MAX && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_owned(), (Instant::now(), bans));
    }

    /// Forgets every lookup, so the next request for any address asks the database (what
    /// `benches/pipeline.rs` measures as a first request).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Drops what this node knows about `key`, so its next request asks the database: a ban
    /// made or lifted here applies here at once.
    fn forget(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

/// The key failures are counted under and bans are stored by: an IPv4 address itself; for
/// IPv6, the /64 it lies in, written as a range (`2001:db8:1:2::/64`).
pub fn key_of(ip: IpAddr) -> String {
    match crate::net::range::canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
    }
}

/// The key named by what a person typed: one address (an IPv6 one stands for its /64), or an
/// IPv6 /64 range as the lists show it.
pub fn key_from_text(text: &str) -> Option<String> {
    if let Some(ip) = crate::net::client_ip::parse_entry(text) {
        return Some(key_of(ip));
    }
    let net = crate::net::range::Net::parse(text).filter(|n| n.addr.is_ipv6() && n.prefix == 64)?;
    Some(key_of(net.addr))
}

/// The area a ban covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The admin area: every path under `/admin`.
    Admin,
    /// The client area: every other path.
    Client,
    /// Both areas (the default for a ban made by hand).
    #[default]
    Both,
}

impl Scope {
    /// Every scope, in the order the form offers them.
    pub const ALL: [Self; 3] = [Self::Both, Self::Admin, Self::Client];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Client => "client",
            Self::Both => "both",
        }
    }

    /// Parses the stored or typed form; empty means [`Scope::Both`].
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "both" => Some(Self::Both),
            "admin" => Some(Self::Admin),
            "client" => Some(Self::Client),
            _ => None,
        }
    }

    /// The automatic ban's scope for failed sign-ins of `realm`.
    pub fn of_realm(realm: Realm) -> Self {
        match realm {
            Realm::Admin => Self::Admin,
            Realm::Client => Self::Client,
        }
    }

    /// Whether a ban of this scope refuses requests to `area`.
    pub fn covers(self, area: Realm) -> bool {
        self == Self::Both || self == Self::of_realm(area)
    }

    /// As people read it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Admin => "admin area",
            Self::Client => "client area",
            Self::Both => "admin and client areas",
        }
    }
}

/// What a list of bans says when a ban has no end.
pub const UNTIL_LIFTED: &str = "until lifted";
/// The longest ban made by hand: ten years, in minutes.
pub const MAX_MINUTES: i64 = 5_256_000;
/// The longest reason kept.
pub const MAX_REASON: usize = 200;

/// The ban service: the node's cache of answers, the rules in force, and storage.
#[derive(Clone)]
pub struct Bans {
    db: crate::db::Pool,
    clock: Arc<dyn Clock>,
    cache: Arc<BanCache>,
    settings: Settings,
}

impl From<&AppState> for Bans {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            cache: state.bans.clone(),
            settings: Settings::from(state),
        }
    }
}

/// A ban in force, as people read it (the bans page and `portcullis ban list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The banned key: an IPv4 address or an IPv6 /64.
    pub ip: String,
    /// The area it covers.
    pub scope: Scope,
    pub reason: String,
    /// Who made it: `automatic`, `admin:ID`, …
    pub by: String,
    /// When it ends, in the configured timezone; `None` until lifted.
    pub ends: Option<String>,
    /// When it ends (unix seconds); `None` until lifted.
    pub expires_at: Option<i64>,
    /// When it was made (unix seconds).
    pub created_at: i64,
}

impl Listed {
    /// The end alone, for a column headed "Until": the time, or "until lifted".
    pub fn until(&self) -> String {
        self.ends.clone().unwrap_or_else(|| UNTIL_LIFTED.to_owned())
    }

    /// The end as a phrase: "until TIME" or "until lifted" (command line, audit entries).
    pub fn until_phrase(&self) -> String {
        until_phrase(self.ends.as_deref())
    }
}

fn until_phrase(ends: Option<&str>) -> String {
    ends.map_or_else(|| UNTIL_LIFTED.to_owned(), |t| format!("until {t}"))
}

/// A ban to make by hand, as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewBan<'a> {
    /// One IP address.
    pub ip: &'a str,
    /// Why, 1 to [`MAX_REASON`] characters.
    pub reason: &'a str,
    /// Whole minutes from 1 to [`MAX_MINUTES`]; empty for a ban until lifted.
    pub minutes: &'a str,
    /// `admin`, `client` or `both`; empty for both.
    pub scope: &'a str,
}

/// Why a ban was not made.
#[derive(Debug, thiserror::Error)]
pub enum BanError {
    /// Fields that cannot be used, each with the message shown next to it.
    #[error("{}", crate::account::FieldError::list(.0))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why a ban was not lifted.
#[derive(Debug, thiserror::Error)]
pub enum LiftError {
    /// The text given is not an IP address (or an IPv6 /64).
    #[error("{0:?} is not an IP address")]
    NotAnAddress(String),
    /// The address was not banned (the key: an IPv6 address is named by its /64).
    #[error("{0} was not banned")]
    NotBanned(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl NewBan<'_> {
    /// The key, the minutes and the scope, or every field's problem.
    fn validate(&self) -> Result<(String, Option<i64>, Scope), Vec<FieldError>> {
        let mut errors = Vec::new();
        let ip = key_from_text(self.ip);
        if ip.is_none() {
            errors.push(FieldError::new(
                "ip",
                "Enter one IP address, e.g. 203.0.113.7 or 2001:db8::1.",
            ));
        }
        if self.reason.trim().is_empty() || self.reason.chars().count() > MAX_REASON {
            errors.push(FieldError::new(
                "reason",
                "Say why, in 1 to 200 characters.",
            ));
        }
        let minutes = match self.minutes.trim() {
            "" => Ok(None),
            m => m
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_MINUTES).contains(n))
                .map(Some)
                .ok_or(()),
        };
        if minutes.is_err() {
            errors.push(FieldError::new(
                "minutes",
                "Enter whole minutes from 1 to 5256000, or leave it empty.",
            ));
        }
        let scope = Scope::parse(self.scope);
        if scope.is_none() {
            errors.push(FieldError::new(
                "scope",
                "Choose where the ban applies: both areas, the admin area or the client area.",
            ));
        }
        match (ip, minutes, scope) {
            (Some(ip), Ok(minutes), Some(scope)) if errors.is_empty() => Ok((ip, minutes, scope)),
            _ => Err(errors),
        }
    }
}

impl Bans {
    /// The ban in force on `ip` for requests to `area`, if any: one primary-key lookup of the
    /// address's key (its /64 for IPv6), or this node's answer of the last [`CACHE_FOR`].
    /// Whitelisted addresses are never refused, even inside a banned /64. Of several bans the
    /// one that ends last is returned.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn active(&self, ip: IpAddr, area: Realm) -> Result<Option<BanRow>, sqlx::Error> {
        let now = self.clock.unix();
        let key = key_of(ip);
        let bans = match self.cache.get(&key) {
            Cached::Known(bans) => bans,
            Cached::Ask => {
                let found = crate::db::ban::active(&self.db, &key, now).await?;
                self.cache.put(&key, found.clone());
                found
            }
        };
        let mut covering: Vec<BanRow> = bans
            .into_iter()
            .filter(|b| b.expires_at.is_none_or(|until| until > now))
            .filter(|b| Scope::parse(&b.scope).is_some_and(|s| s.covers(area)))
            .collect();
        if covering.is_empty() || self.settings.current().await.whitelist.contains(ip) {
            return Ok(None);
        }
        covering.sort_by_key(|b| b.expires_at.map_or(i64::MAX, |t| t));
        Ok(covering.pop())
    }

    /// A ban as people read it.
    pub fn listed(&self, ban: BanRow) -> Listed {
        Listed {
            ends: ban.expires_at.map(|at| self.settings.show_time(at)),
            expires_at: ban.expires_at,
            created_at: ban.created_at,
            scope: Scope::parse(&ban.scope).unwrap_or_default(),
            ip: ban.ip,
            reason: ban.reason,
            by: ban.created_by,
        }
    }

    /// Every ban in force, newest first, as people read them.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self) -> Result<Vec<Listed>, sqlx::Error> {
        let bans = crate::db::ban::list_active(&self.db, self.clock.unix()).await?;
        Ok(bans.into_iter().map(|b| self.listed(b)).collect())
    }

    /// Records a failed sign-in (or step-up) from `ip` and bans its key (the address, or its
    /// /64) in the realm's area when the realm's threshold is reached. Returns the new ban, if
    /// one was made.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn record_failure(
        &self,
        realm: Realm,
        ip: IpAddr,
        account: &str,
    ) -> Result<Option<BanRow>, sqlx::Error> {
        let settings = self.settings.current().await;
        let rule = match realm {
            Realm::Admin => settings.values.admin_bans,
            Realm::Client => settings.values.client_bans,
        };
        let now = self.clock.unix();
        let account: String = account.trim().to_lowercase().chars().take(254).collect();
        let address = key_of(ip);
        crate::db::ban::record_failure(&self.db, realm.as_str(), &address, &account, now).await?;
        if rule.failures == 0 || settings.whitelist.contains(ip) {
            return Ok(None);
        }
        let (by_ip, by_account) = crate::db::ban::failures_since(
            &self.db,
            realm.as_str(),
            &address,
            &account,
            now - rule.window_seconds,
        )
        .await?;
        if by_ip < i64::from(rule.failures) {
            return Ok(None);
        }
        let ban = BanRow {
            ip: address.clone(),
            scope: Scope::of_realm(realm).as_str().to_owned(),
            reason: format!(
                "{by_ip} failed {} sign-ins in {} minutes ({by_account} for the last account tried)",
                realm.as_str(),
                rule.window_seconds / 60
            ),
            created_at: now,
            expires_at: Some(now + rule.ban_seconds),
            created_by: "automatic".into(),
        };
        let mut tx = self.db.begin().await?;
        crate::db::ban::upsert(&mut *tx, &ban).await?;
        // The banned address is the entry's address too, even when a pending sign-in's failure
        // is recorded while serving another request.
        crate::audit::record_from(
            &mut *tx,
            now,
            &Actor::System,
            Action::BanAdded,
            &address,
            &format!("automatic: {}", ban.reason),
            Origin {
                ip: &address,
                user_agent: "",
            },
        )
        .await?;
        tx.commit().await?;
        self.cache.forget(&address);
        tracing::warn!(ip = %ip, realm = realm.as_str(), failures = by_ip, "address banned after failed sign-ins");
        Ok(Some(ban))
    }

    /// Bans an address by hand (an IPv6 address: its /64) in the chosen scope, after checking
    /// every field; returns the banned key.
    ///
    /// # Errors
    /// [`BanError::Invalid`] with each field's problem, or a storage error.
    pub async fn add(&self, new: &NewBan<'_>, actor: &Actor) -> Result<String, BanError> {
        let (ip, minutes, scope) = new.validate().map_err(BanError::Invalid)?;
        let now = self.clock.unix();
        let ban = BanRow {
            ip: ip.clone(),
            scope: scope.as_str().to_owned(),
            reason: new.reason.trim().chars().take(MAX_REASON).collect(),
            created_at: now,
            expires_at: minutes.map(|m| now + m * 60),
            created_by: actor.to_string(),
        };
        let until = until_phrase(
            ban.expires_at
                .map(|t| self.settings.show_time(t))
                .as_deref(),
        );
        let mut tx = self.db.begin().await?;
        crate::db::ban::upsert(&mut *tx, &ban).await?;
        crate::audit::record(
            &mut *tx,
            now,
            actor,
            Action::BanAdded,
            &ban.ip,
            &format!("{ip} ({}) {until}: {}", scope.describe(), ban.reason),
        )
        .await?;
        tx.commit().await?;
        self.cache.forget(&ip);
        Ok(ip)
    }

    /// Lifts every ban on `address` (an IPv6 address: on its /64), whatever its scope. `from`
    /// is the address the audit entry names; `None` takes the request's (a command line passes
    /// its own). Returns the key lifted.
    ///
    /// # Errors
    /// [`LiftError::NotAnAddress`], [`LiftError::NotBanned`], or a storage error.
    pub async fn lift(
        &self,
        address: &str,
        actor: &Actor,
        from: Option<&str>,
    ) -> Result<String, LiftError> {
        self.lift_in(address, None, actor, from).await
    }

    /// Lifts the ban on `address` in `scope` only (`None`: in every scope), as [`Bans::lift`].
    ///
    /// # Errors
    /// [`LiftError::NotAnAddress`], [`LiftError::NotBanned`], or a storage error.
    pub async fn lift_in(
        &self,
        address: &str,
        scope: Option<Scope>,
        actor: &Actor,
        from: Option<&str>,
    ) -> Result<String, LiftError> {
        let key =
            key_from_text(address).ok_or_else(|| LiftError::NotAnAddress(address.to_owned()))?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let existed = crate::db::ban::delete(&mut *tx, &key, scope.map(Scope::as_str)).await?;
        if existed {
            let detail = scope.map_or_else(|| key.clone(), |s| format!("{key} ({})", s.describe()));
            crate::audit::record_from(
                &mut *tx,
                now,
                actor,
                Action::BanLifted,
                &key,
                &detail,
                Origin {
                    ip: from.unwrap_or(""),
                    user_agent: "",
                },
            )
            .await?;
        }
        tx.commit().await?;
        self.cache.forget(&key);
        if existed {
            Ok(key)
        } else {
            Err(LiftError::NotBanned(key))
        }
    }
}
