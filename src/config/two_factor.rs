//! The `[two_factor]` section: policy per realm, where the key that seals secrets comes from, and
//! how Duo is used.

use super::ConfigError;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Keys as written in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTwoFactor {
    pub client_policy: String,
    pub admin_policy: String,
    pub secret_key: String,
    pub key_file: String,
    pub max_failures: u32,
    pub duo_outage: String,
    pub duo_admin_username: String,
    pub duo_test_api_url: String,
}

impl Default for RawTwoFactor {
    fn default() -> Self {
        Self {
            client_policy: "optional".into(),
            // Empty: the installation's default, `required` for a new installation
            // ([`TwoFactorConfig::apply_installation_default`]).
            admin_policy: String::new(),
            // Empty: a key file in data_dir, created on first start.
            secret_key: String::new(),
            key_file: String::new(),
            max_failures: 5,
            duo_outage: "fail_closed".into(),
            duo_admin_username: "username".into(),
            duo_test_api_url: String::new(),
        }
    }
}

/// Whether a realm's accounts may, or must, have a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Policy {
    /// No second factor is asked for, even from accounts that enrolled one.
    Off,
    /// Accounts choose.
    Optional,
    /// Accounts without a factor are sent to enrolment at sign-in and can do nothing else.
    Required,
}

impl Policy {
    fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "off" => Ok(Self::Off),
            "optional" => Ok(Self::Optional),
            "required" => Ok(Self::Required),
            _ => Err(ConfigError::new(
                key,
                &value,
                "one of off, optional, required",
            )),
        }
    }

    /// As written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

/// What happens when Duo's health check fails during a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DuoOutage {
    /// The sign-in stops; only a backup code completes it.
    FailClosed,
    /// The user may complete the sign-in with another enrolled factor.
    OtherFactor,
}

/// Which name admins are known by at Duo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DuoAdminUsername {
    Username,
    Email,
}

/// Where the key that seals TOTP seeds and the Duo client secret comes from.
#[derive(Debug, Clone, Serialize)]
pub enum KeySource {
    /// `two_factor.secret_key`: 32 bytes, base64.
    Inline(#[serde(skip)] SecretString),
    /// A file of 32 random bytes (base64), created with mode 0600 on first start.
    File(PathBuf),
}

/// The validated section.
#[derive(Debug, Clone, Serialize)]
pub struct TwoFactorConfig {
    pub client_policy: Policy,
    /// The admin realm's policy: as configured, else the installation's default (see
    /// [`TwoFactorConfig::apply_installation_default`]).
    pub admin_policy: Policy,
    /// Whether `two_factor.admin_policy` was set; when not, the installation's default applies.
    pub admin_policy_configured: bool,
    pub key: KeySource,
    pub max_failures: u32,
    pub duo_outage: DuoOutage,
    pub duo_admin_username: DuoAdminUsername,
    /// Test-only: Duo's API base on a loopback address, so a fake Duo can stand in.
    pub duo_test_api_url: Option<url::Url>,
}

impl RawTwoFactor {
    pub(super) fn validate(&self, data_dir: &Path) -> Result<TwoFactorConfig, ConfigError> {
        let key = if self.secret_key.is_empty() {
            KeySource::File(if self.key_file.is_empty() {
                data_dir.join("secret.key")
            } else {
                PathBuf::from(&self.key_file)
            })
        } else {
            if crate::sealing::parse_key(&self.secret_key).is_none() {
                return Err(ConfigError::new(
                    "two_factor.secret_key",
                    &"(redacted)",
                    "32 random bytes in base64, e.g. the output of `head -c 32 /dev/urandom | base64`",
                ));
            }
            KeySource::Inline(SecretString::from(self.secret_key.clone()))
        };
        if !(1..=20).contains(&self.max_failures) {
            return Err(ConfigError::new(
                "two_factor.max_failures",
                &self.max_failures,
                "a number from 1 to 20",
            ));
        }
        let duo_test_api_url = if self.duo_test_api_url.is_empty() {
            None
        } else {
            Some(
                crate::twofactor::duo::settings::test_api_url(&self.duo_test_api_url).map_err(
                    |allowed| {
                        ConfigError::new(
                            "two_factor.duo_test_api_url",
                            &self.duo_test_api_url,
                            allowed,
                        )
                    },
                )?,
            )
        };
        Ok(TwoFactorConfig {
            client_policy: Policy::parse("two_factor.client_policy", &self.client_policy)?,
            // Unset: required (ASVS 4.3.1) until the database says this installation predates
            // that default.
            admin_policy: if self.admin_policy.is_empty() {
                Policy::Required
            } else {
                Policy::parse("two_factor.admin_policy", &self.admin_policy)?
            },
            admin_policy_configured: !self.admin_policy.is_empty(),
            key,
            max_failures: self.max_failures,
            duo_outage: match self.duo_outage.as_str() {
                "fail_closed" => DuoOutage::FailClosed,
                "other_factor" => DuoOutage::OtherFactor,
                other => {
                    return Err(ConfigError::new(
                        "two_factor.duo_outage",
                        &other,
                        "fail_closed (only a backup code gets past an outage) or other_factor",
                    ));
                }
            },
            duo_admin_username: match self.duo_admin_username.as_str() {
                "username" => DuoAdminUsername::Username,
                "email" => DuoAdminUsername::Email,
                other => {
                    return Err(ConfigError::new(
                        "two_factor.duo_admin_username",
                        &other,
                        "username or email (the name admins have at Duo)",
                    ));
                }
            },
            duo_test_api_url,
        })
    }
}

/// The installation default's name in `install_defaults`.
pub const ADMIN_POLICY_DEFAULT: &str = "two_factor.admin_policy";

impl TwoFactorConfig {
    /// Applies the admin policy the installation was created with when the configuration sets
    /// none. A new database records `required` (ASVS 4.3.1: administrators use two-step
    /// verification); a database that already had admins when it was upgraded records
    /// `optional`, the earlier default, so upgrading never locks its admins into enrolment.
    /// `stored` is that record (`None`: not migrated yet; `required` stays).
    pub fn apply_installation_default(&mut self, stored: Option<&str>) {
        if self.admin_policy_configured {
            return;
        }
        if let Some(policy) = stored.and_then(|v| Policy::parse(ADMIN_POLICY_DEFAULT, v).ok()) {
            self.admin_policy = policy;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(edit: impl FnOnce(&mut RawTwoFactor)) -> Result<TwoFactorConfig, ConfigError> {
        let mut raw = RawTwoFactor::default();
        edit(&mut raw);
        raw.validate(Path::new("/var/lib/portcullis"))
    }

    #[test]
    fn defaults_are_optional_fail_closed_and_a_key_file_in_the_data_dir() {
        let c = check(|_| {}).unwrap();
        assert_eq!(c.client_policy, Policy::Optional);
        assert_eq!(c.admin_policy, Policy::Required);
        assert!(!c.admin_policy_configured);
        assert_eq!(c.duo_outage, DuoOutage::FailClosed);
        assert!(
            matches!(c.key, KeySource::File(ref p) if p == Path::new("/var/lib/portcullis/secret.key"))
        );
    }

    #[test]
    fn bad_values_name_the_key_the_value_and_what_is_allowed() {
        let e = check(|r| r.client_policy = "sometimes".into()).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.value.as_str()),
            ("two_factor.client_policy", "sometimes")
        );
        assert!(e.allowed.contains("required"));
        let e = check(|r| r.secret_key = "too-short".into()).unwrap_err();
        assert_eq!(e.key, "two_factor.secret_key");
        assert_eq!(e.value, "(redacted)", "a key is never echoed");
        let e = check(|r| r.duo_test_api_url = "https://api-1.duosecurity.com".into()).unwrap_err();
        assert_eq!(e.key, "two_factor.duo_test_api_url");
        let e = check(|r| r.duo_outage = "open".into()).unwrap_err();
        assert!(e.allowed.contains("fail_closed"));
        let e = check(|r| r.max_failures = 0).unwrap_err();
        assert_eq!(e.key, "two_factor.max_failures");
        let e = check(|r| r.admin_policy = "maybe".into()).unwrap_err();
        assert_eq!(e.key, "two_factor.admin_policy");
        let ok = check(|r| r.secret_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into())
            .unwrap();
        assert!(matches!(ok.key, KeySource::Inline(_)));
    }

    #[test]
    fn an_unset_admin_policy_takes_the_installation_default_and_a_set_one_wins() {
        let mut fresh = check(|_| {}).unwrap();
        fresh.apply_installation_default(Some("required"));
        assert_eq!(fresh.admin_policy, Policy::Required);
        let mut upgraded = check(|_| {}).unwrap();
        upgraded.apply_installation_default(Some("optional"));
        assert_eq!(upgraded.admin_policy, Policy::Optional);
        let mut unmigrated = check(|_| {}).unwrap();
        unmigrated.apply_installation_default(None);
        assert_eq!(unmigrated.admin_policy, Policy::Required);
        let mut set = check(|r| r.admin_policy = "off".into()).unwrap();
        set.apply_installation_default(Some("required"));
        assert_eq!(set.admin_policy, Policy::Off);
    }
}
