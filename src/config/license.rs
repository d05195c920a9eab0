//! The `[license]` section: a licence this installation itself holds, checked by the doctor's
//! `license.connection` (F07) against the vendor's licensing server.

use super::ConfigError;
use serde::{Deserialize, Serialize};

/// Keys as written in the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLicense {
    pub server_url: String,
    pub key: String,
    pub domain: String,
    pub ip: String,
    pub directory: String,
    pub public_keys: Vec<String>,
    /// Extra CA certificates (PEM) to trust for the licensing server, for a private CA.
    pub ca_file: String,
}

/// The `[license_server]` section: how often installations may ask.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLicenseServer {
    pub per_key_per_minute: u32,
    pub per_address_per_minute: u32,
}

impl Default for RawLicenseServer {
    fn default() -> Self {
        // An installation checks weekly: ten a minute for one key is a loop or abuse. One host
        // may run many licensed installations, hence more per address.
        Self {
            per_key_per_minute: 10,
            per_address_per_minute: 60,
        }
    }
}

impl RawLicenseServer {
    /// The limits, each from 1 to 1,000,000.
    ///
    /// # Errors
    /// Names the key that is out of range.
    pub fn validate(&self) -> Result<(i64, i64), ConfigError> {
        let check = |key: &str, v: u32| {
            if (1..=1_000_000).contains(&v) {
                Ok(i64::from(v))
            } else {
                Err(ConfigError::new(key, &v, "a number from 1 to 1000000"))
            }
        };
        Ok((
            check("license_server.per_key_per_minute", self.per_key_per_minute)?,
            check(
                "license_server.per_address_per_minute",
                self.per_address_per_minute,
            )?,
        ))
    }
}

/// A configured licence; `None` in [`super::Config`] when `server_url` is empty.
#[derive(Debug, Clone)]
pub struct LicenseConfig {
    pub server_url: String,
    pub key: String,
    pub domain: String,
    pub ip: String,
    pub directory: String,
    /// Whether `domain` is the System URL's host because `license.domain` was left empty.
    pub domain_from_system_url: bool,
    pub pins: Vec<license_verifier::protocol::PublicKey>,
    /// `license.ca_file`, read when a check runs (empty: the public web PKI only).
    pub ca_file: String,
}

impl RawLicense {
    /// Validates the section. An empty `domain` is the System URL's host (F03: the identity
    /// comes from configuration, and the System URL is where this installation runs).
    ///
    /// # Errors
    /// A server URL that is not http(s), a malformed key, or public keys not of the form
    /// `KEY_ID=BASE64URL`; each names its key.
    pub fn validate(&self, system_url_host: &str) -> Result<Option<LicenseConfig>, ConfigError> {
        if self.server_url.trim().is_empty() {
            return Ok(None);
        }
        let url = self.server_url.trim().trim_end_matches('/').to_owned();
        if !matches!(
            url::Url::parse(&url)
                .map(|u| u.scheme().to_owned())
                .as_deref(),
            Ok("http" | "https")
        ) {
            return Err(ConfigError::new(
                "license.server_url",
                &self.server_url,
                "the licensing server's http(s) URL, e.g. https://portal.example.com",
            ));
        }
        let key = license_verifier::key::validate(&self.key)
            .map_err(|e| ConfigError::new("license.key", &self.key, e.to_string()))?;
        if self.public_keys.is_empty() {
            return Err(ConfigError::new(
                "license.public_keys",
                &"[]",
                "at least one KEY_ID=BASE64URL entry, as /api/license/v1/keys lists them",
            ));
        }
        let pins = crate::license::client::parse_pins(&self.public_keys).map_err(|e| {
            ConfigError::new("license.public_keys", &self.public_keys.join(", "), e)
        })?;
        let domain_from_system_url = self.domain.trim().is_empty();
        let domain = if domain_from_system_url {
            system_url_host.trim().to_owned()
        } else {
            self.domain.trim().to_owned()
        };
        Ok(Some(LicenseConfig {
            server_url: url,
            key,
            domain,
            ip: self.ip.trim().to_owned(),
            directory: self.directory.trim().to_owned(),
            domain_from_system_url,
            pins,
            ca_file: self.ca_file.trim().to_owned(),
        }))
    }
}
