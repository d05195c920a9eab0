//! How a vendor configures the verifier.
//!
//! The installation's identity (domain, IP address, directory) comes from the application's own
//! configuration, never from an HTTP request: a request's `Host` header is chosen by whoever sends
//! it, so a licence bound to it could be moved by anyone who types another name.

use std::path::PathBuf;
use std::time::Duration;

use crate::protocol::PublicKey;

/// How long the network may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For each TCP connection attempt.
    pub connect: Duration,
    /// For each read and write once connected.
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(10),
        }
    }
}

/// What the verifier needs. Build with [`Config::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct Config {
    /// `https://licence.example.com` (a path prefix is kept; plain `http://` only for tests and
    /// private networks).
    pub server_url: String,
    /// The server's public keys, shipped with the software (see `GET /api/license/v1/keys`).
    pub pinned_keys: Vec<PublicKey>,
    /// The licence key as the customer typed it.
    pub license_key: String,
    /// The domain this installation serves, from its configuration.
    pub domain: Option<String>,
    /// The IP address this installation serves from, from its configuration.
    pub ip: Option<String>,
    /// The directory it is installed in, from its configuration.
    pub directory: Option<String>,
    /// Tells the person how to set missing identity settings (shown in
    /// [`Verdict::IdentityIncomplete`](crate::Verdict::IdentityIncomplete)).
    pub identity_setting: String,
    /// Where the last signed answer is kept.
    pub key_file: PathBuf,
    pub timeouts: Timeouts,
    /// DER certificates trusted besides the public web roots (a private CA; tests).
    pub extra_roots: Vec<Vec<u8>>,
    /// How far the clock may be behind the last time seen before it counts as moved back, in
    /// seconds (ordinary clock corrections are small).
    pub clock_tolerance_secs: i64,
    /// Ask the server even while the saved answer is current (a diagnosis that must test the
    /// connection); the saved answer still stands in, within its grace, when the server cannot
    /// be reached.
    pub ask_every_time: bool,
}

/// The default text of [`Config::identity_setting`].
pub const DEFAULT_IDENTITY_SETTING: &str = "Set the licence domain, IP address and installation \
    directory in this application's configuration; they are never taken from a web request.";

impl Config {
    /// A configuration with the defaults: no identity yet, 10 s timeouts, 10 minutes of clock
    /// tolerance, the public web roots only.
    pub fn new(
        server_url: impl Into<String>,
        pinned_keys: Vec<PublicKey>,
        license_key: impl Into<String>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        Self {
            server_url: server_url.into(),
            pinned_keys,
            license_key: license_key.into(),
            domain: None,
            ip: None,
            directory: None,
            identity_setting: DEFAULT_IDENTITY_SETTING.to_owned(),
            key_file: key_file.into(),
            timeouts: Timeouts::default(),
            extra_roots: Vec::new(),
            clock_tolerance_secs: 600,
            ask_every_time: false,
        }
    }

    /// Sets the identity; empty strings count as missing.
    #[must_use]
    pub fn with_identity(
        mut self,
        domain: impl Into<String>,
        ip: impl Into<String>,
        directory: impl Into<String>,
    ) -> Self {
        self.domain = Some(domain.into());
        self.ip = Some(ip.into());
        self.directory = Some(directory.into());
        self
    }

    /// Names the application's settings for the identity, e.g. "Set `licence.domain`,
    /// `licence.ip` and `licence.directory` in /etc/acme/config.toml."
    #[must_use]
    pub fn with_identity_setting(mut self, how: impl Into<String>) -> Self {
        self.identity_setting = how.into();
        self
    }

    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Trusts this DER certificate as a root too.
    #[must_use]
    pub fn with_extra_root_der(mut self, der: Vec<u8>) -> Self {
        self.extra_roots.push(der);
        self
    }

    /// Asks the server at every check (see [`Config::ask_every_time`]).
    #[must_use]
    pub fn with_ask_every_time(mut self) -> Self {
        self.ask_every_time = true;
        self
    }

    #[must_use]
    pub fn with_clock_tolerance_secs(mut self, secs: i64) -> Self {
        self.clock_tolerance_secs = secs;
        self
    }
}

/// The DER certificates in a PEM text (for [`Config::extra_roots`]).
///
/// # Errors
/// The text is not PEM or holds no certificate.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        out.push(cert.map_err(|e| e.to_string())?.to_vec());
    }
    if out.is_empty() {
        return Err("no CERTIFICATE section found".to_owned());
    }
    Ok(out)
}
