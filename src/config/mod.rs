//! Boot configuration: defaults, then a TOML file, then `PORTCULLIS__SECTION__KEY` variables.
//!
//! [`load`] merges the three layers with figment into a [`RawConfig`] of plain values (unknown
//! keys are refused, so a typo is an error rather than a silently ignored setting), then
//! [`RawConfig::validate`] turns every value into a typed one. A bad value becomes a
//! [`ConfigError`] that names the key, the value and what is allowed; `main` prints it and exits
//! with code 2. The loaded [`Config`] remembers where each key came from, which the doctor's
//! `config` check reports. Runtime settings that admins edit live in the database, not here.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

mod license;
pub use license::{LicenseConfig, RawLicense, RawLicenseServer};
mod two_factor;
pub use two_factor::{
    DuoAdminUsername, DuoOutage, KeySource as SealingKeySource, Policy, RawTwoFactor,
    TwoFactorConfig,
};

/// The environment variable prefix; sections and keys are separated by a double underscore.
pub const ENV_PREFIX: &str = "PORTCULLIS__";

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub system_url: String,
    pub max_body_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDatabase {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProxy {
    pub header: String,
    pub trusted: Vec<String>,
    pub cloudflare_url: String,
    pub cloudflare_refresh_hours: u32,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSession {
    pub client_idle_minutes: i64,
    pub client_absolute_hours: i64,
    pub client_remember_days: i64,
    pub client_ip_binding: String,
    pub admin_idle_minutes: i64,
    pub admin_absolute_hours: i64,
    pub admin_ip_binding: String,
    pub activity_update_seconds: i64,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawClient {
    pub registration: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStorage {
    pub min_free_mb: u64,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: String,
    pub filter: String,
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
        }
    }
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

impl Default for RawSession {
    fn default() -> Self {
        Self {
            client_idle_minutes: 60,
            client_absolute_hours: 12,
            client_remember_days: 30,
            client_ip_binding: "off".into(),
            admin_idle_minutes: 60,
            admin_absolute_hours: 12,
            admin_ip_binding: "subnet".into(),
            activity_update_seconds: 60,
        }
    }
}

impl Default for RawAuth {
    fn default() -> Self {
        Self {
            hash_concurrency: 0,
            hash_queue: 64,
            client_min_password_length: 8,
            admin_min_password_length: 12,
            min_password_score: 2,
            admin_password_reset: true,
        }
    }
}

impl Default for RawClient {
    fn default() -> Self {
        Self { registration: true }
    }
}

impl Default for RawStorage {
    fn default() -> Self {
        Self { min_free_mb: 256 }
    }
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: "text".into(),
            filter: "info".into(),
        }
    }
}

/// The canonical origin users must use: scheme, host and port, with a path prefix of `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemUrl(Url);

impl SystemUrl {
    /// Parses and checks a System URL.
    ///
    /// # Errors
    /// Names `server.system_url` when the value is not an absolute http(s) URL with a host and no
    /// query, fragment or credentials.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let allowed =
            "an absolute http:// or https:// URL with a host, e.g. https://portal.example.com/";
        let err = || ConfigError::new("server.system_url", &value, allowed);
        let mut url = Url::parse(value).map_err(|_| err())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(err());
        }
        if url.path() != "/" {
            return Err(ConfigError::new(
                "server.system_url",
                &value,
                "a URL without a path: Portcullis must be served at the root of its host",
            ));
        }
        url.set_path("/");
        Ok(Self(url))
    }

    /// Whether cookies must be `Secure` and HSTS sent.
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// The host (no port).
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// `scheme://host[:port]` without a trailing slash, the form browsers send in `Origin`.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// An absolute URL for `path_and_query` (which starts with `/`).
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{}", self.origin(), path_and_query)
    }
}

impl std::fmt::Display for SystemUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// How strictly a session is bound to the address it started from (F02).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpBinding {
    /// Never end a session because the address changed.
    Off,
    /// End it when the address leaves its /24 (IPv4) or /64 (IPv6).
    Subnet,
    /// End it on any change of address.
    Exact,
}

impl IpBinding {
    fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "off" => Ok(Self::Off),
            "subnet" => Ok(Self::Subnet),
            "exact" => Ok(Self::Exact),
            _ => Err(ConfigError::new(key, &value, "one of off, subnet, exact")),
        }
    }
}

/// Timeouts and binding for one realm's sessions, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct RealmSessionPolicy {
    pub idle_seconds: i64,
    pub absolute_seconds: i64,
    /// "Remember me" lifetime; `None` where the realm does not offer it.
    pub remember_seconds: Option<i64>,
    pub ip_binding: IpBinding,
}

/// Log output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
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
    /// Where each key's effective value came from, for the doctor.
    pub sources: Vec<KeySource>,
    /// Secrets from configuration are added here in later issues; kept so the type exists.
    pub secrets: Vec<(String, SecretString)>,
}

/// One configuration key, its effective value (secrets redacted) and its origin.
#[derive(Debug, Clone, Serialize)]
pub struct KeySource {
    pub key: String,
    pub value: String,
    pub source: String,
}

/// Loads configuration from defaults, an optional file and the environment.
///
/// # Errors
/// Returns a [`ConfigError`] naming the key for unreadable files, unknown keys, wrong types and
/// invalid values.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    let figment = figment(file, std::env::vars())?;
    let raw: RawConfig = figment.extract().map_err(|e| from_figment(&e))?;
    let mut config = raw.validate()?;
    config.sources = sources(&figment, &raw);
    Ok(config)
}

/// Builds the merged figment from a file and an explicit set of environment variables (tests
/// pass their own instead of mutating the process environment).
///
/// # Errors
/// Fails when the named file does not exist.
pub fn figment(
    file: Option<&Path>,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::new(
                "--config",
                &path.display(),
                "the path of a readable TOML file",
            ));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    for (name, value) in vars {
        if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
            figment = figment.merge(EnvVar {
                key: rest
                    .split("__")
                    .collect::<Vec<_>>()
                    .join(".")
                    .to_lowercase(),
                value,
            });
        }
    }
    Ok(figment)
}

/// One `PORTCULLIS__SECTION__KEY` variable as a figment provider. Figment's own `Env` reads the
/// process environment directly; taking the variables as data keeps tests free of global state.
struct EnvVar {
    key: String,
    value: String,
}

impl figment::Provider for EnvVar {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        // Parse like figment's Env: `8080` is a number, `true` a boolean, `[..]` an array.
        let value: figment::value::Value = self
            .value
            .parse()
            .unwrap_or_else(|_| figment::value::Value::from(self.value.clone()));
        let dict = match figment::util::nest(&self.key, value) {
            figment::value::Value::Dict(_, dict) => dict,
            _ => figment::value::Dict::new(),
        };
        Ok(figment::Profile::Default.collect(dict))
    }
}

fn from_figment(error: &figment::Error) -> ConfigError {
    use figment::error::Kind;
    let key = if error.path.is_empty() {
        "(file)".to_owned()
    } else {
        error.path.join(".")
    };
    match &error.kind {
        Kind::UnknownField(field, expected) => {
            // figment's path already ends with the unknown field in current versions.
            let key = if key == "(file)" {
                field.clone()
            } else if key.ends_with(field.as_str()) {
                key
            } else {
                format!("{key}.{field}")
            };
            ConfigError::new(
                &key,
                &"(set)",
                format!("no such key; keys here are: {}", expected.join(", ")),
            )
        }
        Kind::InvalidType(actual, expected) => {
            ConfigError::new(&key, &actual, format!("a value of type {expected}"))
        }
        Kind::InvalidValue(actual, expected) => ConfigError::new(&key, &actual, expected.clone()),
        other => ConfigError::new(&key, &"(unreadable)", other.to_string()),
    }
}

fn sources(figment: &Figment, raw: &RawConfig) -> Vec<KeySource> {
    let value = serde_json::to_value(raw).unwrap_or_default();
    let mut out = Vec::new();
    flatten("", &value, &mut out);
    out.into_iter()
        .map(|(key, value)| {
            let source = figment.find_metadata(&key).map_or_else(
                || "default".to_owned(),
                |m| match &m.source {
                    Some(figment::Source::File(p)) => format!("file {}", p.display()),
                    _ if m.name.contains("environment") => {
                        format!("env {ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
                    }
                    _ => "default".to_owned(),
                },
            );
            let value = redacted(&key, value);
            KeySource { key, value, source }
        })
        .collect()
}

/// The value as the doctor may show it: passwords, secrets and the licence key never appear.
fn redacted(key: &str, value: String) -> String {
    if key.contains("password") || key.contains("secret") || key == "license.key" {
        "(redacted)".to_owned()
    } else {
        value
    }
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            flatten(&key, v, out);
        }
    } else {
        out.push((prefix.to_owned(), value.to_string()));
    }
}

fn positive(key: &str, value: i64, unit: &str, max: i64) -> Result<i64, ConfigError> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            key,
            &value,
            format!("a whole number of {unit} from 1 to {max}"),
        ))
    }
}

impl RawConfig {
    /// The boot values of the runtime settings, validated by the same rules as the settings page.
    fn runtime_values(&self) -> Result<crate::settings::Values, ConfigError> {
        use crate::settings::{BanRule, Values};
        let rule = BanRule {
            failures: 0,
            window_seconds: 60,
            ban_seconds: 60,
        };
        let mut values = Values {
            timezone: crate::clock::Zone::utc(),
            proxy_header: crate::net::client_ip::ForwardHeader::XForwardedFor,
            proxy_trusted: Vec::new(),
            admin_bans: rule,
            client_bans: rule,
            whitelist: Vec::new(),
        };
        let b = &self.bans;
        let pairs = [
            ("timezone", self.timezone.clone()),
            ("proxy.header", self.proxy.header.clone()),
            ("proxy.trusted", self.proxy.trusted.join("\n")),
            ("bans.admin_failures", b.admin_failures.to_string()),
            (
                "bans.admin_window_minutes",
                b.admin_window_minutes.to_string(),
            ),
            ("bans.admin_ban_minutes", b.admin_ban_minutes.to_string()),
            ("bans.client_failures", b.client_failures.to_string()),
            (
                "bans.client_window_minutes",
                b.client_window_minutes.to_string(),
            ),
            ("bans.client_ban_minutes", b.client_ban_minutes.to_string()),
            ("bans.whitelist", b.whitelist.join("\n")),
        ];
        for (key, text) in pairs {
            values
                .set(key, &text)
                .map_err(|e| ConfigError::new(&e.key, &e.value, e.allowed))?;
        }
        Ok(values)
    }

    /// Turns raw values into typed ones.
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
        let listen: SocketAddr = self.server.listen.parse().map_err(|_| {
            ConfigError::new(
                "server.listen",
                &self.server.listen,
                "an address and port such as 127.0.0.1:8080 or [::]:8080",
            )
        })?;
        let system_url = SystemUrl::parse(&self.server.system_url)?;
        let max_body_bytes = usize::try_from(self.server.max_body_bytes)
            .ok()
            .filter(|n| (1024..=16 * 1024 * 1024).contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    "server.max_body_bytes",
                    &self.server.max_body_bytes,
                    "a size in bytes from 1024 to 16777216",
                )
            })?;
        let database_url = if self.database.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("portcullis.db").display()
            )
        } else if self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres://")
            || self.database.url.starts_with("postgresql://")
        {
            self.database.url.clone()
        } else {
            return Err(ConfigError::new(
                "database.url",
                &redact_url(&self.database.url),
                "a sqlite: URL such as sqlite://./data/portcullis.db, or postgres://USER:PASSWORD@HOST/DATABASE",
            ));
        };
        if !(1..=1000).contains(&self.database.max_connections) {
            return Err(ConfigError::new(
                "database.max_connections",
                &self.database.max_connections,
                "a number from 1 to 1000",
            ));
        }
        let runtime = self.runtime_values()?;
        let mail = self.mail.validate(&data_dir)?;
        let two_factor = self.two_factor.validate(&data_dir)?;
        let cloudflare_url = self.proxy.cloudflare_url.trim_end_matches('/').to_owned();
        if !matches!(
            url::Url::parse(&cloudflare_url)
                .map(|u| u.scheme().to_owned())
                .as_deref(),
            Ok("http" | "https")
        ) {
            return Err(ConfigError::new(
                "proxy.cloudflare_url",
                &self.proxy.cloudflare_url,
                "an http(s) URL serving /ips-v4 and /ips-v6, e.g. https://www.cloudflare.com",
            ));
        }
        let s = &self.session;
        let client_session = RealmSessionPolicy {
            idle_seconds: positive(
                "session.client_idle_minutes",
                s.client_idle_minutes,
                "minutes",
                43_200,
            )? * 60,
            absolute_seconds: positive(
                "session.client_absolute_hours",
                s.client_absolute_hours,
                "hours",
                8_760,
            )? * 3600,
            remember_seconds: Some(
                positive(
                    "session.client_remember_days",
                    s.client_remember_days,
                    "days",
                    365,
                )? * 86_400,
            ),
            ip_binding: IpBinding::parse("session.client_ip_binding", &s.client_ip_binding)?,
        };
        let admin_session = RealmSessionPolicy {
            idle_seconds: positive(
                "session.admin_idle_minutes",
                s.admin_idle_minutes,
                "minutes",
                43_200,
            )? * 60,
            absolute_seconds: positive(
                "session.admin_absolute_hours",
                s.admin_absolute_hours,
                "hours",
                8_760,
            )? * 3600,
            remember_seconds: None,
            ip_binding: IpBinding::parse("session.admin_ip_binding", &s.admin_ip_binding)?,
        };
        let activity_update_seconds = positive(
            "session.activity_update_seconds",
            s.activity_update_seconds,
            "seconds",
            3600,
        )?;
        let a = &self.auth;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hash_concurrency = match a.hash_concurrency {
            0 => cores,
            n @ 1..=256 => n as usize,
            n => {
                return Err(ConfigError::new(
                    "auth.hash_concurrency",
                    &n,
                    "0 (one per core) or a number from 1 to 256",
                ));
            }
        };
        if a.hash_queue > 100_000 {
            return Err(ConfigError::new(
                "auth.hash_queue",
                &a.hash_queue,
                "a number from 0 to 100000",
            ));
        }
        for (key, value, floor) in [
            (
                "auth.client_min_password_length",
                a.client_min_password_length,
                6,
            ),
            (
                "auth.admin_min_password_length",
                a.admin_min_password_length,
                8,
            ),
        ] {
            if !(floor..=128).contains(&value) {
                return Err(ConfigError::new(
                    key,
                    &value,
                    format!("a number from {floor} to 128"),
                ));
            }
        }
        if a.min_password_score > 4 {
            return Err(ConfigError::new(
                "auth.min_password_score",
                &a.min_password_score,
                "a zxcvbn score from 0 (anything) to 4 (strongest)",
            ));
        }
        let log_format = match self.log.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(ConfigError::new("log.format", &other, "text or json")),
        };
        if tracing_subscriber::EnvFilter::try_new(&self.log.filter).is_err() {
            return Err(ConfigError::new(
                "log.filter",
                &self.log.filter,
                "a tracing filter such as info or portcullis=debug,info",
            ));
        }
        let license = self.license.validate(system_url.host())?;
        Ok(Config {
            data_dir,
            listen,
            system_url,
            max_body_bytes,
            database_url,
            database_max_connections: self.database.max_connections,
            migrate_on_start: self.database.migrate_on_start,
            runtime,
            cloudflare_url,
            cloudflare_refresh_hours: match self.proxy.cloudflare_refresh_hours {
                0 => None,
                h @ 1..=8760 => Some(h),
                h => {
                    return Err(ConfigError::new(
                        "proxy.cloudflare_refresh_hours",
                        &h,
                        "0 (never) or a number of hours from 1 to 8760",
                    ));
                }
            },
            client_session,
            admin_session,
            activity_update_seconds,
            hash_concurrency,
            hash_queue: a.hash_queue as usize,
            client_min_password_length: a.client_min_password_length as usize,
            admin_min_password_length: a.admin_min_password_length as usize,
            min_password_score: a.min_password_score,
            registration: self.client.registration,
            admin_password_reset: self.auth.admin_password_reset,
            mail,
            two_factor,
            audit_retention_days: match self.audit.retention_days {
                0 => None,
                d @ 1..=36_500 => Some(d),
                d => {
                    return Err(ConfigError::new(
                        "audit.retention_days",
                        &d,
                        "0 (keep forever) or a number of days from 1 to 36500",
                    ));
                }
            },
            license,
            license_limits: self.license_server.validate()?,
            scheduler_enabled: self.scheduler.enabled,
            cleanup_interval_seconds: match self.scheduler.cleanup_interval_minutes {
                // At most an hour, so a run is recorded at least hourly and cron.heartbeat
                // (quiet for two hours = warning) cannot fire on a healthy scheduler.
                m @ 1..=60 => i64::from(m) * 60,
                m => {
                    return Err(ConfigError::new(
                        "scheduler.cleanup_interval_minutes",
                        &m,
                        "a number of minutes from 1 to 60",
                    ));
                }
            },
            daily_hour: match self.automation.daily_hour {
                h @ 0..=23 => i8::try_from(h).unwrap_or(3),
                h => {
                    return Err(ConfigError::new(
                        "automation.daily_hour",
                        &h,
                        "an hour from 0 to 23 (in the configured timezone)",
                    ));
                }
            },
            min_free_bytes: self.storage.min_free_mb.saturating_mul(1024 * 1024),
            log_format,
            log_filter: self.log.filter.clone(),
            // `load` replaces these with the real origin of each key; a configuration built in
            // code (tests, embedding) reports its values as such.
            sources: {
                let mut flat = Vec::new();
                flatten(
                    "",
                    &serde_json::to_value(self).unwrap_or_default(),
                    &mut flat,
                );
                flat.into_iter()
                    .map(|(key, value)| KeySource {
                        value: redacted(&key, value),
                        key,
                        source: "set in code".into(),
                    })
                    .collect()
            },
            secrets: Vec::new(),
        })
    }
}

/// How outgoing mail leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    Smtp,
    File,
}

/// TLS on the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// TLS from the first byte (usually port 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS (usually port 587).
    Starttls,
    /// No TLS: only for a relay on this host or a private network.
    None,
}

/// The validated `[mail]` section.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub enabled: bool,
    pub transport: MailTransport,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: String,
    pub smtp_password: SecretString,
    pub smtp_timeout_seconds: u64,
    pub file_dir: PathBuf,
    pub max_attempts: u32,
    pub retry_base_seconds: i64,
    pub poll_seconds: u64,
}

impl RawMail {
    fn validate(&self, data_dir: &Path) -> Result<MailConfig, ConfigError> {
        let transport = match self.transport.as_str() {
            "smtp" => MailTransport::Smtp,
            "file" => MailTransport::File,
            other => return Err(ConfigError::new("mail.transport", &other, "smtp or file")),
        };
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "mail.from",
                &self.from,
                "a mailbox such as \"Example Hosting <billing@example.com>\"",
            ));
        }
        let tls = match self.smtp_tls.as_str() {
            "implicit" => SmtpTls::Implicit,
            "starttls" => SmtpTls::Starttls,
            "none" => SmtpTls::None,
            other => {
                return Err(ConfigError::new(
                    "mail.smtp_tls",
                    &other,
                    "implicit (port 465), starttls (port 587) or none",
                ));
            }
        };
        if transport == MailTransport::Smtp {
            if self.smtp_host.trim().is_empty() || self.smtp_host.contains(char::is_whitespace) {
                return Err(ConfigError::new(
                    "mail.smtp_host",
                    &self.smtp_host,
                    "the SMTP server's host name, required when mail.transport = \"smtp\"",
                ));
            }
            if self.smtp_port == 465 && tls == SmtpTls::Starttls {
                return Err(ConfigError::new(
                    "mail.smtp_tls",
                    &"starttls",
                    "implicit when mail.smtp_port = 465: port 465 speaks TLS from the first byte; use smtp_tls = \"implicit\", or port 587 with starttls",
                ));
            }
            if self.smtp_port == 587 && tls == SmtpTls::Implicit {
                return Err(ConfigError::new(
                    "mail.smtp_tls",
                    &"implicit",
                    "starttls when mail.smtp_port = 587: port 587 starts in plain text and upgrades; use smtp_tls = \"starttls\", or port 465 with implicit",
                ));
            }
            let local = self.smtp_host == "localhost"
                || self
                    .smtp_host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if tls == SmtpTls::None && !self.smtp_password.is_empty() && !local {
                return Err(ConfigError::new(
                    "mail.smtp_tls",
                    &"none",
                    "starttls or implicit when a password is set for a remote host: the password would cross the network unencrypted",
                ));
            }
        }
        let bounded = |key: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(ConfigError::new(
                    key,
                    &v,
                    format!("a number from {lo} to {hi}"),
                ))
            }
        };
        Ok(MailConfig {
            enabled: self.enabled,
            transport,
            from: self.from.clone(),
            smtp_host: self.smtp_host.trim().to_owned(),
            smtp_port: self.smtp_port,
            smtp_tls: tls,
            smtp_username: self.smtp_username.clone(),
            smtp_password: SecretString::from(self.smtp_password.clone()),
            smtp_timeout_seconds: u64::from(bounded(
                "mail.smtp_timeout_seconds",
                self.smtp_timeout_seconds,
                1,
                600,
            )?),
            file_dir: if self.file_dir.is_empty() {
                data_dir.join("mail")
            } else {
                PathBuf::from(&self.file_dir)
            },
            max_attempts: bounded("mail.max_attempts", self.max_attempts, 1, 50)?,
            retry_base_seconds: i64::from(bounded(
                "mail.retry_base_seconds",
                self.retry_base_seconds,
                1,
                86_400,
            )?),
            poll_seconds: u64::from(bounded("mail.poll_seconds", self.poll_seconds, 1, 3600)?),
        })
    }
}

/// Hides credentials in a database URL before it is shown anywhere.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        let figment = figment(file.map(|_| path.as_path()), vars)?;
        let raw: RawConfig = figment.extract().map_err(|e| from_figment(&e))?;
        let mut config = raw.validate()?;
        config.sources = sources(&figment, &raw);
        Ok(config)
    }

    #[test]
    fn defaults_listen_on_loopback_8080_with_sqlite_in_data() {
        let c = load_with(None, &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.system_url.to_string(), "http://127.0.0.1:8080/");
        assert!(c.database_url.starts_with("sqlite://./data/portcullis.db"));
        assert!(c.sources.iter().all(|s| s.source == "default"));
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let c = load_with(
            Some("[server]\nlisten = \"127.0.0.1:9000\"\nsystem_url = \"https://a.example/\"\n"),
            &[("PORTCULLIS__SERVER__SYSTEM_URL", "https://b.example/")],
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.system_url.host(), "b.example");
        let src = |k: &str| {
            c.sources
                .iter()
                .find(|s| s.key == k)
                .unwrap()
                .source
                .clone()
        };
        assert!(src("server.listen").starts_with("file "));
        assert_eq!(
            src("server.system_url"),
            "env PORTCULLIS__SERVER__SYSTEM_URL"
        );
        assert_eq!(src("data_dir"), "default");
    }

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

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_by_name() {
        let e = load_with(Some("[server]\nlistn = \"x\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "server.listn");
        assert!(e.allowed.contains("listen"));
        let e = load_with(Some("[session]\nclient_idle_minutes = \"soon\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "session.client_idle_minutes");
        let e = load_with(Some("this is not toml"), &[]).unwrap_err();
        assert!(!e.allowed.is_empty());
    }

    #[test]
    fn impossible_mail_settings_are_refused_with_the_fix() {
        let smtp = "[mail]\ntransport = \"smtp\"\nsmtp_host = \"smtp.example.com\"\n";
        let e = load_with(Some(&format!("{smtp}smtp_port = 465\n")), &[]).unwrap_err();
        assert_eq!(e.key, "mail.smtp_tls");
        assert!(e.allowed.contains("implicit"), "{e}");
        let e = load_with(Some(&format!("{smtp}smtp_tls = \"implicit\"\n")), &[]).unwrap_err();
        assert!(e.allowed.contains("587"), "{e}");
        let e = load_with(
            Some(&format!(
                "{smtp}smtp_tls = \"none\"\nsmtp_password = \"x\"\n"
            )),
            &[],
        )
        .unwrap_err();
        assert!(e.allowed.contains("unencrypted"), "{e}");
        assert!(load_with(Some("[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_tls = \"none\"\nsmtp_password = \"x\"\n"), &[]).is_ok());
        let e = load_with(Some("[mail]\ntransport = \"smtp\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "mail.smtp_host");
        let e = load_with(Some("[mail]\nfrom = \"not an address\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "mail.from");
    }

    #[test]
    fn system_url_must_be_an_origin() {
        assert!(
            SystemUrl::parse("https://portal.example.com/")
                .unwrap()
                .is_https()
        );
        assert!(SystemUrl::parse("https://portal.example.com/billing/").is_err());
        assert!(SystemUrl::parse("not a url").is_err());
        assert_eq!(
            SystemUrl::parse("http://127.0.0.1:8080").unwrap().origin(),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn runtime_settings_from_the_file_use_the_settings_rules() {
        let c = load_with(
            Some("[proxy]\nheader = \"forwarded\"\ntrusted = [\"private\", \"cloudflare\"]\n[bans]\nadmin_failures = 0\n"),
            &[],
        )
        .unwrap();
        assert_eq!(
            c.runtime.proxy_header,
            crate::net::client_ip::ForwardHeader::Forwarded
        );
        assert_eq!(c.runtime.admin_bans.failures, 0);
        let e = load_with(Some("[bans]\nwhitelist = [\"300.1.1.1\"]\n"), &[]).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.value.as_str()),
            ("bans.whitelist", "300.1.1.1")
        );
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

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
