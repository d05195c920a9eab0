//! The outbound HTTP client (Cloudflare list refresh; later Duo and the licence server).
//!
//! rustls on the `ring` provider, with the system's trust store. The provider is process-wide
//! and must be installed before any client is built, which [`install_crypto_provider`] does
//! idempotently.

use std::time::Duration;

/// Installs rustls's `ring` provider for the process (a second call is a no-op).
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client with bounded connect and total timeouts and a product user agent.
///
/// # Errors
/// When the TLS configuration cannot be built (no usable trust store).
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
}
