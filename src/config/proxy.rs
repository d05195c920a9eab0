//! The `[proxy]` section's boot-only keys: where Cloudflare's ranges are downloaded from and how
//! often `serve` refreshes them.
//!
//! `proxy.header` and `proxy.trusted` are runtime settings and are checked with them in
//! `runtime.rs`; the refresh itself is `crate::proxy`'s. Both checks here are called by
//! [`super::RawConfig::validate`], each at the place in its order where it has always run, so a
//! file with several mistakes still reports the same one first.

use super::{ConfigError, RawProxy};

impl RawProxy {
    /// `proxy.cloudflare_url` without a trailing slash; it must be an http(s) URL.
    pub(super) fn cloudflare_url(&self) -> Result<String, ConfigError> {
        let cloudflare_url = self.cloudflare_url.trim_end_matches('/').to_owned();
        if !matches!(
            url::Url::parse(&cloudflare_url)
                .map(|u| u.scheme().to_owned())
                .as_deref(),
            Ok("http" | "https")
        ) {
            return Err(ConfigError::new(
                "proxy.cloudflare_url",
                &self.cloudflare_url,
                "an http(s) URL serving /ips-v4 and /ips-v6, e.g. https://www.cloudflare.com",
            ));
        }
        Ok(cloudflare_url)
    }

    /// `proxy.cloudflare_refresh_hours`; `None` (0) disables the refresh.
    pub(super) fn cloudflare_refresh_hours(&self) -> Result<Option<u32>, ConfigError> {
        match self.cloudflare_refresh_hours {
            0 => Ok(None),
            h @ 1..=8760 => Ok(Some(h)),
            h => Err(ConfigError::new(
                "proxy.cloudflare_refresh_hours",
                &h,
                "0 (never) or a number of hours from 1 to 8760",
            )),
        }
    }
}
