//! The `[server]` section: the listening address, the System URL (the one origin users must use)
//! and the request body limit.
//!
//! [`SystemUrl`] is the checked form of `server.system_url` that the canonical-origin step, the
//! cookies and every absolute link use; [`RawServer::validate`] is called by
//! [`super::RawConfig::validate`], which copies the result into [`super::Config`].

use super::{ConfigError, RawServer};
use std::net::SocketAddr;
use url::Url;

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

    /// Whether browsers treat the System URL's origin as potentially trustworthy (https, or a
    /// loopback host): only there do they honour headers such as Cross-Origin-Opener-Policy,
    /// and elsewhere Chromium reports each one ignored as a console error.
    pub fn is_trustworthy(&self) -> bool {
        let host = self.host().trim_matches(|c| c == '[' || c == ']');
        self.is_https()
            || host == "localhost"
            || host.ends_with(".localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
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

/// The validated `[server]` section.
pub(super) struct Server {
    pub listen: SocketAddr,
    pub system_url: SystemUrl,
    pub max_body_bytes: usize,
}

impl RawServer {
    /// Checks the address, then the System URL, then the body limit.
    pub(super) fn validate(&self) -> Result<Server, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            ConfigError::new(
                "server.listen",
                &self.listen,
                "an address and port such as 127.0.0.1:8080 or [::]:8080",
            )
        })?;
        let system_url = SystemUrl::parse(&self.system_url)?;
        let max_body_bytes = usize::try_from(self.max_body_bytes)
            .ok()
            .filter(|n| (1024..=16 * 1024 * 1024).contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    "server.max_body_bytes",
                    &self.max_body_bytes,
                    "a size in bytes from 1024 to 16777216",
                )
            })?;
        Ok(Server {
            listen,
            system_url,
            max_body_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
