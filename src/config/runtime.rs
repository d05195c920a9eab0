//! The boot values of the runtime settings: `timezone`, `proxy.header`, `proxy.trusted` and the
//! `[bans]` section.
//!
//! Admins change these at run time (`crate::settings`), so the file's values go through the same
//! validator as the Settings page and `doctor --fix` (`settings::Values::set`) rather than one of
//! their own: a value the page refuses is refused here with the same words. Called by
//! [`super::RawConfig::validate`]; the result becomes [`super::Config::runtime`].

use super::{ConfigError, RawConfig};

impl RawConfig {
    /// The boot values of the runtime settings, validated by the same rules as the settings page.
    pub(super) fn runtime_values(&self) -> Result<crate::settings::Values, ConfigError> {
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
            forward_rules: crate::forward_auth::Rules::default(),
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
            ("forward_auth.rules", self.forward_auth.rules.join("\n")),
        ];
        for (key, text) in pairs {
            values
                .set(key, &text)
                .map_err(|e| ConfigError::new(&e.key, &e.value, e.allowed))?;
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::load_with;

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
