//! Runtime settings: values admins edit in the admin area, stored in the database, overriding
//! the boot configuration key by key.
//!
//! Every node keeps the effective settings in memory ([`Store`]) and re-reads them at most
//! [`REFRESH_SECONDS`] after the last read, so a change made on one node applies on every node
//! within that bound, while a request costs no database read for them. The node that makes a
//! change reloads at once. The same validation serves the configuration file, the settings page
//! and `doctor --fix`, so a value is refused with the same words wherever it comes from.

use crate::app::AppState;
use crate::net::client_ip::ForwardHeader;
use crate::net::range::{ENTRY_HELP, Net, RangeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// A node re-reads settings at most this long after its last read.
pub const REFRESH_SECONDS: i64 = 5;

/// The keys admins may change at run time, in display order.
pub const KEYS: [&str; 11] = [
    "timezone",
    "proxy.header",
    "proxy.trusted",
    "bans.admin_failures",
    "bans.admin_window_minutes",
    "bans.admin_ban_minutes",
    "bans.client_failures",
    "bans.client_window_minutes",
    "bans.client_ban_minutes",
    "bans.whitelist",
    "forward_auth.rules",
];

/// A value that cannot be used for a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} = {value:?} is not allowed: {allowed}")]
pub struct SettingError {
    pub key: String,
    pub value: String,
    pub allowed: String,
}

/// When failed sign-ins ban an address, for one realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanRule {
    /// Failures that trigger a ban; 0 disables banning.
    pub failures: u32,
    pub window_seconds: i64,
    pub ban_seconds: i64,
}

/// The typed values of the runtime keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    /// The one zone for displayed times and daily schedules.
    pub timezone: crate::clock::Zone,
    pub proxy_header: ForwardHeader,
    pub proxy_trusted: Vec<String>,
    pub admin_bans: BanRule,
    pub client_bans: BanRule,
    pub whitelist: Vec<String>,
    /// Forward authentication's access rules, in order (`crate::forward_auth::rules`).
    pub forward_rules: crate::forward_auth::Rules,
}

fn list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Values {
    /// Sets `key` from its text form (as typed in a form or stored in the database).
    ///
    /// # Errors
    /// Names the key, the value and what is allowed.
    pub fn set(&mut self, key: &str, text: &str) -> Result<(), SettingError> {
        let err = |allowed: &str| SettingError {
            key: key.to_owned(),
            value: text.to_owned(),
            allowed: allowed.to_owned(),
        };
        let number = |max: u32, what: &str| {
            text.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| err(what))
        };
        match key {
            "timezone" => {
                self.timezone = crate::clock::Zone::parse(text).map_err(|help| err(&help))?;
            }
            "proxy.header" => {
                self.proxy_header = ForwardHeader::parse(text).ok_or_else(|| {
                    err("one of X-Forwarded-For, Forwarded, X-Real-IP, CF-Connecting-IP")
                })?;
            }
            "proxy.trusted" | "bans.whitelist" => {
                let entries = list(text);
                if entries.len() > 1000 {
                    return Err(err("at most 1000 entries"));
                }
                if let Err(bad) = RangeSet::from_entries(&entries, &[]) {
                    return Err(SettingError {
                        key: key.to_owned(),
                        value: bad,
                        allowed: ENTRY_HELP.to_owned(),
                    });
                }
                if key == "proxy.trusted" {
                    self.proxy_trusted = entries;
                } else {
                    self.whitelist = entries;
                }
            }
            "bans.admin_failures" => {
                self.admin_bans.failures = number(1000, "a number from 0 (never ban) to 1000")?;
            }
            "bans.client_failures" => {
                self.client_bans.failures = number(1000, "a number from 0 (never ban) to 1000")?;
            }
            "bans.admin_window_minutes"
            | "bans.client_window_minutes"
            | "bans.admin_ban_minutes"
            | "bans.client_ban_minutes" => {
                let minutes = i64::from(number(525_600, "a number of minutes from 1 to 525600")?);
                if minutes == 0 {
                    return Err(err("a number of minutes from 1 to 525600"));
                }
                let rule = if key.starts_with("bans.admin") {
                    &mut self.admin_bans
                } else {
                    &mut self.client_bans
                };
                if key.ends_with("window_minutes") {
                    rule.window_seconds = minutes * 60;
                } else {
                    rule.ban_seconds = minutes * 60;
                }
            }
            "forward_auth.rules" => {
                self.forward_rules = crate::forward_auth::Rules::parse(text)
                    .map_err(|(line, why)| err(&format!("line {line}: {why}")))?;
            }
            _ => return Err(err("a runtime setting (see the settings page)")),
        }
        Ok(())
    }

    /// The text form of `key`'s value.
    pub fn text(&self, key: &str) -> String {
        match key {
            "timezone" => self.timezone.name().to_owned(),
            "proxy.header" => self.proxy_header.name().to_owned(),
            "proxy.trusted" => self.proxy_trusted.join("\n"),
            "bans.whitelist" => self.whitelist.join("\n"),
            "forward_auth.rules" => self.forward_rules.text(),
            "bans.admin_failures" => self.admin_bans.failures.to_string(),
            "bans.client_failures" => self.client_bans.failures.to_string(),
            "bans.admin_window_minutes" => (self.admin_bans.window_seconds / 60).to_string(),
            "bans.client_window_minutes" => (self.client_bans.window_seconds / 60).to_string(),
            "bans.admin_ban_minutes" => (self.admin_bans.ban_seconds / 60).to_string(),
            "bans.client_ban_minutes" => (self.client_bans.ban_seconds / 60).to_string(),
            _ => String::new(),
        }
    }
}

/// The settings in force, with everything derived from them.
#[derive(Debug, Clone)]
pub struct Effective {
    pub values: Values,
    pub trusted: RangeSet,
    pub whitelist: RangeSet,
    /// Cloudflare's current edge ranges (stored list, or the built-in one).
    pub cloudflare: RangeSet,
    /// When the Cloudflare list was taken, and where from.
    pub cloudflare_taken: String,
    pub cloudflare_source: String,
    /// Whether every Cloudflare range is trusted.
    pub cloudflare_trusted: bool,
    /// For each runtime key, where its value came from.
    pub sources: Vec<(String, String)>,
}

impl Effective {
    fn derive(
        values: Values,
        cloudflare: Vec<Net>,
        cloudflare_taken: String,
        cloudflare_source: String,
        sources: Vec<(String, String)>,
    ) -> Self {
        let trusted =
            RangeSet::from_entries(&values.proxy_trusted, &cloudflare).unwrap_or_default();
        let whitelist = RangeSet::from_entries(&values.whitelist, &cloudflare).unwrap_or_default();
        let cloudflare_trusted = cloudflare.iter().all(|n| {
            trusted
                .0
                .iter()
                .any(|t| t.prefix <= n.prefix && t.contains(n.addr))
        });
        Self {
            values,
            trusted,
            whitelist,
            cloudflare: RangeSet(cloudflare),
            cloudflare_taken,
            cloudflare_source,
            cloudflare_trusted,
            sources,
        }
    }
}

/// The in-memory copy of the effective settings.
#[derive(Debug)]
pub struct Store {
    current: RwLock<Arc<Effective>>,
    loaded_at: AtomicI64,
    reloading: AtomicBool,
}

impl Store {
    /// A store holding `effective`, read at `now`.
    pub fn new(effective: Effective, now: i64) -> Self {
        Self {
            current: RwLock::new(Arc::new(effective)),
            loaded_at: AtomicI64::new(now),
            reloading: AtomicBool::new(false),
        }
    }

    /// The settings as last read, without touching the database.
    pub fn snapshot(&self) -> Arc<Effective> {
        self.current
            .read()
            .map_or_else(|p| p.into_inner().clone(), |g| g.clone())
    }

    fn replace(&self, effective: Effective, now: i64) {
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(effective),
            Err(p) => *p.into_inner() = Arc::new(effective),
        }
        self.loaded_at.store(now, Ordering::Release);
    }
}

/// Reads the effective settings from the database over the boot configuration. Invalid stored
/// values are ignored (and reported as such) rather than taking the node down.
///
/// # Errors
/// Storage errors.
pub async fn load(
    pool: &crate::db::Pool,
    config: &crate::config::Config,
) -> Result<Effective, sqlx::Error> {
    let mut values = config.runtime.clone();
    let mut sources: Vec<(String, String)> = KEYS
        .iter()
        .map(|k| {
            let boot = config
                .sources
                .iter()
                .find(|s| s.key == *k)
                .map_or("default", |s| s.source.as_str());
            ((*k).to_owned(), boot.to_owned())
        })
        .collect();
    // Who set each stored value and when; the times are written after every value is read, so
    // they are shown in the configured zone even when `timezone` itself is among them.
    let mut stored_by: Vec<(usize, String, i64)> = Vec::new();
    for (key, value, at, by) in crate::db::setting::all(pool).await? {
        let Some(index) = sources.iter().position(|(k, _)| *k == key) else {
            continue;
        };
        let slot = &mut sources[index];
        match values.set(&key, &value) {
            Ok(()) => stored_by.push((index, by, at)),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an invalid stored setting");
                slot.1 = format!(
                    "{} (the stored value {value:?} is invalid and ignored)",
                    slot.1
                );
            }
        }
    }
    for (index, by, at) in stored_by {
        sources[index].1 = format!(
            "database (set by {by} at {})",
            crate::clock::display(at, &values.timezone)
        );
    }
    let (cloudflare, taken, source) =
        match crate::db::setting::network_list(pool, "cloudflare").await? {
            Some((v4, v6, at, source)) => {
                let mut nets = crate::net::cloudflare::parse_list(&v4, false).unwrap_or_default();
                nets.extend(crate::net::cloudflare::parse_list(&v6, true).unwrap_or_default());
                (nets, crate::clock::display(at, &values.timezone), source)
            }
            None => (
                crate::net::cloudflare::built_in(),
                crate::net::cloudflare::BUILT_IN_DATE.to_owned(),
                "built in".to_owned(),
            ),
        };
    Ok(Effective::derive(
        values, cloudflare, taken, source, sources,
    ))
}

/// The boot configuration's values alone (used when the database cannot be read yet).
pub fn from_config(config: &crate::config::Config) -> Effective {
    Effective::derive(
        config.runtime.clone(),
        crate::net::cloudflare::built_in(),
        crate::net::cloudflare::BUILT_IN_DATE.to_owned(),
        "built in".to_owned(),
        Vec::new(),
    )
}

/// The runtime settings service: the settings in force on this node, re-read from the
/// database when the copy is [`REFRESH_SECONDS`] old, and the one way to change them.
#[derive(Clone)]
pub struct Settings {
    db: crate::db::Pool,
    config: Arc<crate::config::Config>,
    clock: Arc<dyn crate::clock::Clock>,
    store: Arc<Store>,
}

impl From<&AppState> for Settings {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            config: state.config.clone(),
            clock: state.clock.clone(),
            store: state.settings.clone(),
        }
    }
}

impl Settings {
    /// The settings in force, re-read first when this node's copy is [`REFRESH_SECONDS`] old.
    /// One caller does the read; the others keep using the copy meanwhile.
    pub async fn current(&self) -> Arc<Effective> {
        let held = &self.store;
        let now = self.clock.unix();
        let due = now - held.loaded_at.load(Ordering::Acquire) >= REFRESH_SECONDS;
        if due
            && held
                .reloading
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "could not re-read settings; keeping the previous ones");
                held.loaded_at.store(now, Ordering::Release);
            }
            held.reloading.store(false, Ordering::Release);
        }
        held.snapshot()
    }

    /// The settings as last read, without touching the database.
    pub fn snapshot(&self) -> Arc<Effective> {
        self.store.snapshot()
    }

    /// A stored instant as people read it, in the configured timezone.
    pub fn show_time(&self, unix: i64) -> String {
        crate::clock::display(unix, &self.snapshot().values.timezone)
    }

    /// Re-reads the settings now.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn reload(&self) -> Result<Arc<Effective>, sqlx::Error> {
        let effective = load(&self.db, &self.config).await?;
        self.store.replace(effective, self.clock.unix());
        Ok(self.store.snapshot())
    }

    /// Validates, stores and audits changes to several keys at once, then reloads this node.
    ///
    /// # Errors
    /// The first invalid value (nothing is stored then), or a storage error.
    pub async fn change(
        &self,
        changes: &[(&str, String)],
        actor: &crate::domain::Actor,
        ip: &str,
    ) -> Result<(), ChangeError> {
        let mut values = self.current().await.values.clone();
        for (key, text) in changes {
            values.set(key, text)?;
        }
        let now = self.clock.unix();
        let by = actor.to_string();
        let mut tx = self.db.begin().await?;
        for (key, _) in changes {
            let text = values.text(key);
            crate::db::setting::upsert(&mut *tx, key, &text, now, &by).await?;
            crate::audit::record_from(
                &mut *tx,
                now,
                actor,
                crate::domain::Action::SettingChanged,
                format!("setting:{key}"),
                &format!("{key} = {}", text.replace('\n', ", ")),
                crate::audit::Origin { ip, user_agent: "" },
            )
            .await?;
        }
        tx.commit().await?;
        self.reload().await?;
        Ok(())
    }
}

/// The settings in force ([`Settings::current`]), for the tests, which hold the state.
pub async fn current(state: &AppState) -> Arc<Effective> {
    Settings::from(state).current().await
}

/// Re-reads the settings now ([`Settings::reload`]), for the tests.
///
/// # Errors
/// Storage errors.
pub async fn reload(state: &AppState) -> Result<Arc<Effective>, sqlx::Error> {
    Settings::from(state).reload().await
}

/// Why a change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Invalid(#[from] SettingError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            timezone: crate::clock::Zone::utc(),
            proxy_header: ForwardHeader::XForwardedFor,
            proxy_trusted: vec!["loopback".into()],
            admin_bans: BanRule {
                failures: 3,
                window_seconds: 900,
                ban_seconds: 900,
            },
            client_bans: BanRule {
                failures: 10,
                window_seconds: 900,
                ban_seconds: 900,
            },
            whitelist: vec![],
            forward_rules: crate::forward_auth::Rules::default(),
        }
    }

    #[test]
    fn values_round_trip_through_their_text_form() {
        let mut v = values();
        v.set("proxy.trusted", "loopback, 10.0.0.0/8\n2001:db8::/32")
            .unwrap();
        v.set("proxy.header", "cf-connecting-ip").unwrap();
        v.set("bans.admin_window_minutes", "30").unwrap();
        let mut copy = values();
        for key in KEYS {
            copy.set(key, &v.text(key)).unwrap();
        }
        assert_eq!(copy, v);
        assert_eq!(v.admin_bans.window_seconds, 1800);
    }

    #[test]
    fn bad_values_name_the_key_the_value_and_what_is_allowed() {
        let mut v = values();
        let e = v.set("proxy.trusted", "loopback, 10.0.0.0/33").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.value.as_str()),
            ("proxy.trusted", "10.0.0.0/33")
        );
        assert!(e.allowed.contains("CIDR"));
        assert!(
            v.set("proxy.header", "X-Forwarded-Host")
                .unwrap_err()
                .allowed
                .contains("CF-Connecting-IP")
        );
        assert!(v.set("bans.client_ban_minutes", "0").is_err());
        assert!(v.set("bans.client_failures", "-1").is_err());
        assert_eq!(v, values(), "nothing changed");
    }

    #[test]
    fn cloudflare_counts_as_trusted_only_when_every_range_is_covered() {
        let cf = crate::net::cloudflare::built_in();
        let mut v = values();
        let e = Effective::derive(v.clone(), cf.clone(), String::new(), String::new(), vec![]);
        assert!(!e.cloudflare_trusted);
        v.set("proxy.trusted", "loopback cloudflare").unwrap();
        let e = Effective::derive(v, cf, String::new(), String::new(), vec![]);
        assert!(e.cloudflare_trusted);
    }
}
