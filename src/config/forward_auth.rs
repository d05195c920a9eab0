//! The `[forward_auth]` section's boot-only keys: the parent domain the session cookie may be
//! scoped to, and the names of the identity headers.
//!
//! `forward_auth.rules` is a runtime setting (admins edit it on the settings page) and is checked
//! with the others in `runtime.rs`, by the same validator as the page.

use super::{ConfigError, RawForwardAuth};

/// The names of the identity headers an allowed request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderNames {
    pub user: http::HeaderName,
    pub email: http::HeaderName,
    pub name: http::HeaderName,
    pub groups: http::HeaderName,
    pub subject: http::HeaderName,
    pub account: http::HeaderName,
    pub account_name: http::HeaderName,
    pub permissions: http::HeaderName,
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuthConfig {
    /// The session cookie's `Domain` (`example.com`), or `None` for a host-only cookie.
    pub cookie_domain: Option<String>,
    pub headers: HeaderNames,
}

impl RawForwardAuth {
    /// Checks the cookie domain against the System URL's host and the header names.
    pub(super) fn validate(&self, system_host: &str) -> Result<ForwardAuthConfig, ConfigError> {
        let domain = self
            .cookie_domain
            .trim()
            .trim_start_matches('.')
            .to_ascii_lowercase();
        let cookie_domain = if domain.is_empty() {
            None
        } else {
            let covers_system = system_host == domain
                || system_host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|s| s.ends_with('.'));
            let shaped = domain.contains('.')
                && domain.parse::<std::net::IpAddr>().is_err()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !shaped || !covers_system {
                return Err(ConfigError::new(
                    "forward_auth.cookie_domain",
                    &self.cookie_domain,
                    format!(
                        "empty (host-only cookies, the default) or a domain name with a dot that the System URL's host {system_host} is in or below, e.g. the parent domain of {system_host}"
                    ),
                ));
            }
            Some(domain)
        };
        let h = &self.headers;
        let name = |key: &str, value: &str| {
            http::HeaderName::from_bytes(value.trim().as_bytes()).map_err(|_| {
                ConfigError::new(
                    &format!("forward_auth.headers.{key}"),
                    &value,
                    "an HTTP header name (letters, digits and -), e.g. Remote-User",
                )
            })
        };
        Ok(ForwardAuthConfig {
            cookie_domain,
            headers: HeaderNames {
                user: name("user", &h.user)?,
                email: name("email", &h.email)?,
                name: name("name", &h.name)?,
                groups: name("groups", &h.groups)?,
                subject: name("subject", &h.subject)?,
                account: name("account", &h.account)?,
                account_name: name("account_name", &h.account_name)?,
                permissions: name("permissions", &h.permissions)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::load_with;

    #[test]
    fn the_cookie_domain_must_hold_the_system_url() {
        let file = "[server]\nsystem_url = \"https://portal.example.com/\"\n[forward_auth]\ncookie_domain = \"example.com\"\n";
        let c = load_with(Some(file), &[]).unwrap();
        assert_eq!(c.forward_auth.cookie_domain.as_deref(), Some("example.com"));
        for bad in ["example.org", "com", "10.0.0.1", "ample.com"] {
            let file = file.replace("\"example.com\"", &format!("{bad:?}"));
            let e = load_with(Some(&file), &[]).unwrap_err();
            assert_eq!(e.key, "forward_auth.cookie_domain");
            assert_eq!(e.value, bad);
            assert!(e.allowed.contains("portal.example.com"), "{e}");
        }
        let e = load_with(
            Some("[forward_auth.headers]\nuser = \"Remote User\"\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "forward_auth.headers.user");
    }

    #[test]
    fn rules_in_the_file_use_the_settings_rules() {
        let c = load_with(
            Some("[forward_auth]\nrules = [\"status.example.com / admin\"]\n"),
            &[],
        )
        .unwrap();
        assert_eq!(c.runtime.forward_rules.0.len(), 1);
        let e = load_with(
            Some("[forward_auth]\nrules = [\"status.example.com / root\"]\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "forward_auth.rules");
        assert!(e.allowed.contains("line 1"), "{e}");
    }
}
