//! Every key of the configuration file as plain serde values, with the defaults the first layer
//! of [`super::load()`] is made of.
//!
//! Nothing here is checked: each section's validator (`server.rs`, `mail.rs`, ...) turns its
//! `Raw*` section into typed values, and [`RawConfig::validate`] in `mod.rs` runs them in order.
//! Unknown keys are refused here (`deny_unknown_fields`), so a typo is an error rather than a
//! silently ignored setting. The `[two_factor]`, `[license]` and `[license_server]` sections
//! keep their raw types next to their validators in `two_factor.rs` and `license.rs`.
//! `config.example.toml` writes out every key with its default; a test below holds it to that.

use super::{RawLicense, RawLicenseServer, RawTwoFactor};
use serde::{Deserialize, Serialize};

/// Every key exactly as it appears in the TOML file, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub data_dir: String,
    /// The IANA zone for displayed times and daily tasks (a runtime setting; this is its boot
    /// value).
    pub timezone: String,
    pub server: RawServer,
    pub database: RawDatabase,
    pub proxy: RawProxy,
    pub session: RawSession,
    pub auth: RawAuth,
    pub client: RawClient,
    pub storage: RawStorage,
    pub bans: RawBans,
    pub mail: RawMail,
    pub two_factor: RawTwoFactor,
    pub audit: RawAudit,
    pub scheduler: RawScheduler,
    pub automation: RawAutomation,
    pub license: RawLicense,
    pub license_server: RawLicenseServer,
    pub log: RawLog,
    pub forward_auth: RawForwardAuth,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            data_dir: "./data".into(),
            timezone: "UTC".into(),
            server: RawServer::default(),
            database: RawDatabase::default(),
            proxy: RawProxy::default(),
            session: RawSession::default(),
            auth: RawAuth::default(),
            client: RawClient::default(),
            storage: RawStorage::default(),
            bans: RawBans::default(),
            mail: RawMail::default(),
            two_factor: RawTwoFactor::default(),
            audit: RawAudit::default(),
            scheduler: RawScheduler::default(),
            automation: RawAutomation::default(),
            license: RawLicense::default(),
            license_server: RawLicenseServer::default(),
            log: RawLog::default(),
            forward_auth: RawForwardAuth::default(),
        }
    }
}

/// The `[server]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub system_url: String,
    pub max_body_bytes: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            system_url: "http://127.0.0.1:8080/".into(),
            max_body_bytes: 64 * 1024,
        }
    }
}

/// The `[database]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDatabase {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

impl Default for RawDatabase {
    fn default() -> Self {
        Self {
            // Empty means "portcullis.db inside data_dir", resolved at validation.
            url: String::new(),
            max_connections: 8,
            migrate_on_start: true,
        }
    }
}

/// The `[proxy]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProxy {
    pub header: String,
    pub trusted: Vec<String>,
    pub cloudflare_url: String,
    pub cloudflare_refresh_hours: u32,
}

impl Default for RawProxy {
    fn default() -> Self {
        Self {
            header: "X-Forwarded-For".into(),
            trusted: vec!["loopback".into()],
            cloudflare_url: "https://www.cloudflare.com".into(),
            cloudflare_refresh_hours: 24,
        }
    }
}

/// The `[mail]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMail {
    pub enabled: bool,
    pub transport: String,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: String,
    pub smtp_username: String,
    pub smtp_password: String,
    pub smtp_timeout_seconds: u32,
    pub file_dir: String,
    pub max_attempts: u32,
    pub retry_base_seconds: u32,
    pub poll_seconds: u32,
}

impl Default for RawMail {
    fn default() -> Self {
        Self {
            enabled: true,
            // Development default: messages land as .eml files under data_dir/mail.
            transport: "file".into(),
            from: "Portcullis <portcullis@localhost>".into(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: "starttls".into(),
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_timeout_seconds: 30,
            file_dir: String::new(),
            max_attempts: 8,
            retry_base_seconds: 60,
            poll_seconds: 5,
        }
    }
}

/// The `[bans]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBans {
    pub admin_failures: u32,
    pub admin_window_minutes: u32,
    pub admin_ban_minutes: u32,
    pub client_failures: u32,
    pub client_window_minutes: u32,
    pub client_ban_minutes: u32,
    pub whitelist: Vec<String>,
}

impl Default for RawBans {
    fn default() -> Self {
        Self {
            admin_failures: 3,
            admin_window_minutes: 15,
            admin_ban_minutes: 15,
            client_failures: 10,
            client_window_minutes: 15,
            client_ban_minutes: 15,
            whitelist: Vec::new(),
        }
    }
}

/// The `[session]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSession {
    pub client_idle_minutes: i64,
    pub client_absolute_hours: i64,
    pub client_remember_days: i64,
    /// Whether the client sign-in offers "Keep me signed in" (false: ASVS L2's 12-hour bound).
    pub client_remember: bool,
    pub client_ip_binding: String,
    pub admin_idle_minutes: i64,
    pub admin_absolute_hours: i64,
    pub admin_ip_binding: String,
    pub activity_update_seconds: i64,
    /// Live sessions each node keeps in memory (0: every request reads the database).
    pub cache_entries: u64,
}

impl Default for RawSession {
    fn default() -> Self {
        Self {
            // ASVS 4.0.3 3.3.2 (L2): 30 minutes idle, 12 hours at most.
            client_idle_minutes: 30,
            client_absolute_hours: 12,
            client_remember_days: 30,
            client_remember: true,
            client_ip_binding: "off".into(),
            admin_idle_minutes: 30,
            admin_absolute_hours: 12,
            admin_ip_binding: "subnet".into(),
            activity_update_seconds: 60,
            // 100,000 measured 120 MiB resident in all, about 0.9 KiB each (docs/performance.md).
            cache_entries: 100_000,
        }
    }
}

/// The `[auth]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuth {
    pub hash_concurrency: u32,
    pub hash_queue: u32,
    pub client_min_password_length: u32,
    pub admin_min_password_length: u32,
    pub min_password_score: u8,
    pub admin_password_reset: bool,
}

impl Default for RawAuth {
    fn default() -> Self {
        Self {
            hash_concurrency: 0,
            hash_queue: 64,
            client_min_password_length: 12,
            admin_min_password_length: 12,
            min_password_score: 2,
            admin_password_reset: true,
        }
    }
}

/// The `[client]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawClient {
    pub registration: bool,
}

impl Default for RawClient {
    fn default() -> Self {
        Self { registration: true }
    }
}

/// The `[storage]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStorage {
    pub min_free_mb: u64,
}

impl Default for RawStorage {
    fn default() -> Self {
        Self { min_free_mb: 256 }
    }
}

/// The `[audit]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAudit {
    pub retention_days: u32,
}

impl Default for RawAudit {
    fn default() -> Self {
        // A year: long enough for the usual incident reviews and card-industry audits.
        Self {
            retention_days: 365,
        }
    }
}

/// The `[scheduler]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawScheduler {
    pub enabled: bool,
    pub cleanup_interval_minutes: u32,
}

impl Default for RawScheduler {
    fn default() -> Self {
        Self {
            enabled: true,
            cleanup_interval_minutes: 5,
        }
    }
}

/// The `[automation]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAutomation {
    pub daily_hour: u32,
}

impl Default for RawAutomation {
    fn default() -> Self {
        // 03:00: after midnight's traffic, before the working day, and outside the hour that
        // most daylight-saving changes skip or repeat (01:00-02:00 in Europe and America).
        Self { daily_hour: 3 }
    }
}

/// The `[log]` section as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: String,
    pub filter: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: "text".into(),
            filter: "info".into(),
        }
    }
}

/// The `[forward_auth]` section as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawForwardAuth {
    /// The boot value of the runtime setting `forward_auth.rules`, one rule per entry.
    pub rules: Vec<String>,
    /// The parent domain the session cookie is scoped to; empty keeps it host-only.
    pub cookie_domain: String,
    pub headers: RawForwardHeaders,
}

/// `[forward_auth.headers]`: the names of the identity headers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawForwardHeaders {
    pub user: String,
    pub email: String,
    pub name: String,
    pub groups: String,
    pub subject: String,
    pub account: String,
    pub account_name: String,
    pub permissions: String,
}

impl Default for RawForwardHeaders {
    fn default() -> Self {
        Self {
            user: "Remote-User".into(),
            email: "Remote-Email".into(),
            name: "Remote-Name".into(),
            groups: "Remote-Groups".into(),
            subject: "Remote-Subject".into(),
            account: "Remote-Account".into(),
            account_name: "Remote-Account-Name".into(),
            permissions: "Remote-Permissions".into(),
        }
    }
}

#[cfg(test)]
mod example_file {
    use super::*;
    use crate::config::load::flatten;
    use figment::Figment;
    use figment::providers::{Format, Toml};

    #[test]
    fn the_example_file_documents_every_key_with_its_default() {
        let text = include_str!("../../config.example.toml");
        let from_file: RawConfig = Figment::new()
            .merge(Toml::string(text))
            .extract()
            .expect("config.example.toml parses with no unknown keys");
        let mut documented = Vec::new();
        flatten(
            "",
            &serde_json::to_value(&from_file).unwrap(),
            &mut documented,
        );
        let mut defaults = Vec::new();
        flatten(
            "",
            &serde_json::to_value(RawConfig::default()).unwrap(),
            &mut defaults,
        );
        assert_eq!(
            documented, defaults,
            "the example shows every key with its default value"
        );
        let parsed: toml::Table = text.parse().unwrap();
        for (key, _) in &defaults {
            let mut node = &parsed;
            let parts: Vec<&str> = key.split('.').collect();
            for (i, part) in parts.iter().enumerate() {
                if i + 1 == parts.len() {
                    assert!(
                        node.contains_key(*part),
                        "{key} is written out in config.example.toml"
                    );
                } else {
                    node = node[*part].as_table().unwrap();
                }
            }
        }
    }
}
