//! Failed-login bans: counting failures, banning addresses, listing and lifting bans: the
//! [`Bans`] service, which the ban step of the pipeline, the sign-in pages, the second-factor
//! service, the admin's bans page and `portcullis ban` all call.
//!
//! Failures are counted per resolved client address (and per account from that address, which
//! names the targeted accounts in the ban's reason) in the database, so every node sees every
//! failure and enforces every ban (another node's within [`CACHE_FOR`]). Whitelisted addresses
//! are never banned. Every ban and lift is audited here, in the transaction that makes it; the
//! front ends only map [`BanError`] and [`LiftError`] to their messages.

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
    /// A recent answer: the ban, or none.
    Known(Option<BanRow>),
    /// Nothing recent: ask the database.
    Ask,
}

/// Recent answers of the ban lookup, per address (this node only).
#[derive(Debug, Default)]
pub struct BanCache {
    // Monotonic ages only decide when to ask the database again; whether a ban is still in
    // force is always judged by the application clock.
    entries: Mutex<HashMap<IpAddr, (Instant, Option<BanRow>)>>,
}

impl BanCache {
    fn get(&self, ip: IpAddr) -> Cached {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(&ip) {
            Some((at, ban)) if at.elapsed() < CACHE_FOR => Cached::Known(ban.clone()),
            _ => Cached::Ask,
        }
    }

    fn put(&self, ip: IpAddr, ban: Option<BanRow>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CACHE_MAX && !entries.contains_key(&ip) {
            entries.clear();
        }
        entries.insert(ip, (Instant::now(), ban));
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
    pub ip: String,
    pub reason: String,
    /// Who made it: `automatic`, `admin:ID`, …
    pub by: String,
    /// When it ends, in the configured timezone; `None` until lifted.
    pub ends: Option<String>,
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
    /// The text given is not an IP address.
    #[error("{0:?} is not an IP address")]
    NotAnAddress(String),
    /// The address was not banned.
    #[error("{0} was not banned")]
    NotBanned(IpAddr),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl NewBan<'_> {
    /// The address and the minutes, or every field's problem.
    fn validate(&self) -> Result<(IpAddr, Option<i64>), Vec<FieldError>> {
        let mut errors = Vec::new();
        let ip = crate::net::client_ip::parse_entry(self.ip);
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
        match (ip, minutes) {
            (Some(ip), Ok(minutes)) if errors.is_empty() => Ok((ip, minutes)),
            _ => Err(errors),
        }
    }
}

impl Bans {
    /// The ban in force on `ip`, if any: one primary-key lookup, or this node's answer of the
    /// last [`CACHE_FOR`].
    ///
    /// # Errors
    /// Storage errors.
    pub async fn active(&self, ip: IpAddr) -> Result<Option<BanRow>, sqlx::Error> {
        let now = self.clock.unix();
        let ban = match self.cache.get(ip) {
            Cached::Known(ban) => ban,
            Cached::Ask => {
                let found = crate::db::ban::active(&self.db, &ip.to_string(), now).await?;
                self.cache.put(ip, found.clone());
                found
            }
        };
        Ok(ban.filter(|b| b.expires_at.is_none_or(|until| until > now)))
    }

    /// A ban as people read it.
    pub fn listed(&self, ban: BanRow) -> Listed {
        Listed {
            ends: ban.expires_at.map(|at| self.settings.show_time(at)),
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

    /// Records a failed sign-in (or step-up) from `ip` and bans the address when the realm's
    /// threshold is reached. Returns the new ban, if one was made.
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
        let address = ip.to_string();
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
        self.cache.put(ip, Some(ban.clone()));
        tracing::warn!(ip = %ip, realm = realm.as_str(), failures = by_ip, "address banned after failed sign-ins");
        Ok(Some(ban))
    }

    /// Bans an address by hand, after checking every field; returns the banned address.
    ///
    /// # Errors
    /// [`BanError::Invalid`] with each field's problem, or a storage error.
    pub async fn add(&self, new: &NewBan<'_>, actor: &Actor) -> Result<IpAddr, BanError> {
        let (ip, minutes) = new.validate().map_err(BanError::Invalid)?;
        let now = self.clock.unix();
        let ban = BanRow {
            ip: ip.to_string(),
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
            &format!("{ip} {until}: {}", ban.reason),
        )
        .await?;
        tx.commit().await?;
        self.cache.put(ip, Some(ban));
        Ok(ip)
    }

    /// Lifts the ban on `address`. `from` is the address the audit entry names; `None` takes
    /// the request's (a command line passes its own).
    ///
    /// # Errors
    /// [`LiftError::NotAnAddress`], [`LiftError::NotBanned`], or a storage error.
    pub async fn lift(
        &self,
        address: &str,
        actor: &Actor,
        from: Option<&str>,
    ) -> Result<IpAddr, LiftError> {
        let ip = crate::net::client_ip::parse_entry(address)
            .ok_or_else(|| LiftError::NotAnAddress(address.to_owned()))?;
        let now = self.clock.unix();
        let text = ip.to_string();
        let mut tx = self.db.begin().await?;
        let existed = crate::db::ban::delete(&mut *tx, &text).await?;
        if existed {
            crate::audit::record_from(
                &mut *tx,
                now,
                actor,
                Action::BanLifted,
                &text,
                &text,
                Origin {
                    ip: from.unwrap_or(""),
                    user_agent: "",
                },
            )
            .await?;
        }
        tx.commit().await?;
        self.cache.put(ip, None);
        if existed {
            Ok(ip)
        } else {
            Err(LiftError::NotBanned(ip))
        }
    }
}
