//! Boot configuration: defaults, then a TOML file, then `PORTCULLIS__SECTION__KEY` variables.
//!
//! [`load()`] merges the three layers with figment into a [`RawConfig`] of plain values (unknown
//! keys are refused, so a typo is an error rather than a silently ignored setting), then
//! [`RawConfig::validate`] turns every value into a typed one. A bad value becomes a
//! [`ConfigError`] that names the key, the value and what is allowed; `main` prints it and exits
//! with code 2. The loaded [`Config`] remembers where each key came from, which the doctor's
//! `config` check reports. Runtime settings that admins edit live in the database, not here.
//!
//! Files: `raw.rs` (the `Raw*` types and their defaults), `load.rs` (the layers, figment's errors,
//! key sources and redaction), and one validator per section, each turning its `Raw*` section into
//! its validated part: `server`, `database`, `proxy`, `runtime` (the boot values of the runtime
//! settings: `timezone`, `proxy.header`, `proxy.trusted`, `[bans]`), `mail`, `two_factor`,
//! `session`, `auth`, `log`, `license` (`[license]`, `[license_server]`), `audit`, `scheduler`
//! (`[scheduler]`, `[automation]`), `forward_auth` (cookie domain, header names). This file keeps [`Config`], [`ConfigError`], the order in
//! which the sections are checked, and the public paths (everything is re-exported here).

mod audit;
mod auth;
mod database;
mod forward_auth;
mod license;
mod load;
mod log;
mod mail;
mod proxy;
mod raw;
mod runtime;
mod scheduler;
mod server;
mod session;
mod two_factor;

pub use database::redact_url;
pub use forward_auth::{ForwardAuthConfig, HeaderNames};
pub use license::{LicenseConfig, RawLicense, RawLicenseServer};
pub use load::{ENV_PREFIX, KeySource, figment, load};
pub use log::LogFormat;
pub use mail::{MailConfig, MailTransport, SmtpTls};
pub use raw::{
    RawAudit, RawAuth, RawAutomation, RawBans, RawClient, RawConfig, RawDatabase, RawForwardAuth,
    RawForwardHeaders, RawLog, RawMail, RawProxy, RawScheduler, RawServer, RawSession, RawStorage,
};
pub use server::SystemUrl;
pub use session::{IpBinding, RealmSessionPolicy};
pub use two_factor::{
    ADMIN_POLICY_DEFAULT, DuoAdminUsername, DuoOutage, KeySource as SealingKeySource, Policy,
    RawTwoFactor, TwoFactorConfig,
};

use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A configuration value that cannot be used, with what would be accepted instead.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key} = {value:?} is not allowed: {allowed}")]
pub struct ConfigError {
    /// Dotted key, e.g. `server.listen`.
    pub key: String,
    /// The offending value as given.
    pub value: String,
    /// What the key accepts.
    pub allowed: String,
}

impl ConfigError {
    fn new(key: &str, value: &impl ToString, allowed: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

/// The validated configuration.
// Independent switches, each a key of its own in the file; an enum would not read better.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub system_url: SystemUrl,
    pub max_body_bytes: usize,
    pub database_url: String,
    pub database_max_connections: u32,
    pub migrate_on_start: bool,
    /// Boot values of the settings admins can change at run time (see `settings`).
    pub runtime: crate::settings::Values,
    /// Where `portcullis proxy refresh-cloudflare` downloads `/ips-v4` and `/ips-v6`.
    pub cloudflare_url: String,
    /// How often `serve` refreshes Cloudflare's ranges; `None` disables it.
    pub cloudflare_refresh_hours: Option<u32>,
    pub client_session: RealmSessionPolicy,
    pub admin_session: RealmSessionPolicy,
    pub activity_update_seconds: i64,
    /// Live sessions this node keeps in memory (`session::cache`; 0: none).
    pub session_cache_entries: u64,
    pub hash_concurrency: usize,
    pub hash_queue: usize,
    pub client_min_password_length: usize,
    pub admin_min_password_length: usize,
    pub min_password_score: u8,
    pub registration: bool,
    pub admin_password_reset: bool,
    pub mail: MailConfig,
    pub two_factor: TwoFactorConfig,
    /// Audit events older than this many days are removed; `None` keeps them forever.
    pub audit_retention_days: Option<u32>,
    /// A licence this installation holds, checked by `license.connection`.
    pub license: Option<LicenseConfig>,
    /// Verify requests allowed per key and per address, per minute.
    pub license_limits: (i64, i64),
    /// Whether `serve` runs the scheduler in-process.
    pub scheduler_enabled: bool,
    /// The period of the cleanup tasks, in seconds.
    pub cleanup_interval_seconds: i64,
    /// The local hour (in the configured zone) at which daily tasks become due.
    pub daily_hour: i8,
    pub min_free_bytes: u64,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// Forward authentication's cookie domain and header names (its rules are a runtime setting).
    pub forward_auth: ForwardAuthConfig,
    /// Where each key's effective value came from, for the doctor.
    pub sources: Vec<KeySource>,
    /// Secrets from configuration are added here in later issues; kept so the type exists.
    pub secrets: Vec<(String, SecretString)>,
}

impl RawConfig {
    /// Turns raw values into typed ones.
    ///
    /// The sections are checked in a fixed order and the first invalid key is reported, so a file
    /// with several mistakes always names the same one first.
    ///
    /// # Errors
    /// The first invalid key, with its value and what is allowed.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        if self.data_dir.trim().is_empty() {
            return Err(ConfigError::new(
                "data_dir",
                &self.data_dir,
                "a directory path",
            ));
        }
        let data_dir = PathBuf::from(&self.data_dir);
        let server = self.server.validate()?;
        let database = self.database.validate(&data_dir)?;
        let runtime = self.runtime_values()?;
        let mail = self.mail.validate(&data_dir)?;
        let two_factor = self.two_factor.validate(&data_dir)?;
        let cloudflare_url = self.proxy.cloudflare_url()?;
        let sessions = self.session.validate()?;
        let auth = self.auth.validate()?;
        let log = self.log.validate()?;
        let license = self.license.validate(server.system_url.host())?;
        let forward_auth = self.forward_auth.validate(server.system_url.host())?;
        Ok(Config {
            data_dir,
            listen: server.listen,
            system_url: server.system_url,
            max_body_bytes: server.max_body_bytes,
            database_url: database.url,
            database_max_connections: database.max_connections,
            migrate_on_start: database.migrate_on_start,
            runtime,
            cloudflare_url,
            cloudflare_refresh_hours: self.proxy.cloudflare_refresh_hours()?,
            client_session: sessions.client,
            admin_session: sessions.admin,
            activity_update_seconds: sessions.activity_update_seconds,
            session_cache_entries: sessions.cache_entries,
            hash_concurrency: auth.hash_concurrency,
            hash_queue: auth.hash_queue,
            client_min_password_length: auth.client_min_password_length,
            admin_min_password_length: auth.admin_min_password_length,
            min_password_score: auth.min_password_score,
            registration: self.client.registration,
            admin_password_reset: auth.admin_password_reset,
            mail,
            two_factor,
            audit_retention_days: self.audit.validate()?,
            license,
            license_limits: self.license_server.validate()?,
            scheduler_enabled: self.scheduler.enabled,
            cleanup_interval_seconds: self.scheduler.cleanup_interval_seconds()?,
            daily_hour: self.automation.validate()?,
            min_free_bytes: self.storage.min_free_mb.saturating_mul(1024 * 1024),
            log_format: log.format,
            log_filter: log.filter,
            forward_auth,
            // `load` replaces these with the real origin of each key; a configuration built in
            // code (tests, embedding) reports its values as such.
            sources: load::set_in_code(self),
            secrets: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::load::load_with;

    #[test]
    fn bad_values_name_key_value_and_what_is_allowed() {
        let e = load_with(Some("[server]\nlisten = \"localhost\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "server.listen");
        assert_eq!(e.value, "localhost");
        assert!(e.allowed.contains("127.0.0.1:8080"));

        let e = load_with(None, &[("PORTCULLIS__SERVER__SYSTEM_URL", "ftp://x/")]).unwrap_err();
        assert_eq!(e.key, "server.system_url");

        let e = load_with(Some("[session]\nclient_ip_binding = \"sometimes\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("off, subnet, exact"), "{e}");

        let e = load_with(Some("[proxy]\ntrusted = [\"10.0.0.0/99\"]\n"), &[]).unwrap_err();
        assert_eq!(e.key, "proxy.trusted");
        assert_eq!(e.value, "10.0.0.0/99");
    }
}

#[cfg(test)]
mod parser_properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn trusted_entries_and_system_urls_never_panic(s in ".{0,80}") {
            let _ = SystemUrl::parse(&s);
            let _ = crate::db::sqlite_path(&s);
            let _ = redact_url(&s);
        }
    }
}
