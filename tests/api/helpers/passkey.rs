//! A software passkey for the integration tests: answers the server's WebAuthn options as a
//! browser with a security key would, in the JSON that `static/webauthn.js` POSTs.
//!
//! WebAuthn needs a domain name: a test that uses this against the running app must give it a
//! `localhost` System URL (the default test URL, `http://127.0.0.1:PORT/`, is refused by
//! browsers, by this key and by `twofactor::webauthn::relying_party`).

use serde_json::Value;
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// One software authenticator. It keeps the private keys of every credential it registered, so
/// the same `SoftKey` must answer the sign-in.
pub struct SoftKey {
    key: SoftPasskey,
}

impl Default for SoftKey {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftKey {
    /// A key that reports user verification (it has no PIN to check), as the passkey ceremonies
    /// the server uses require.
    pub fn new() -> Self {
        Self {
            key: SoftPasskey::new(true),
        }
    }

    /// Given the options endpoint's answer (`{"publicKey": {...}}`) and the origin the page is
    /// on (the System URL), returns the credential the browser would POST (a
    /// `RegisterPublicKeyCredential` as JSON).
    pub fn register(&mut self, origin: &str, options: &Value) -> Value {
        let options: CreationChallengeResponse = serde_json::from_value(options.clone())
            .unwrap_or_else(|e| panic!("registration options in webauthn-rs's shape: {e}"));
        let credential = self
            .key
            .do_registration(Url::parse(origin).expect("origin is a URL"), options)
            .unwrap_or_else(|e| panic!("the soft key registers: {e:?}"));
        serde_json::to_value(credential).unwrap()
    }

    /// Given the options endpoint's answer and the origin, returns the assertion the browser
    /// would POST (a `PublicKeyCredential` as JSON).
    pub fn authenticate(&mut self, origin: &str, options: &Value) -> Value {
        let options: RequestChallengeResponse = serde_json::from_value(options.clone())
            .unwrap_or_else(|e| panic!("authentication options in webauthn-rs's shape: {e}"));
        let credential = self
            .key
            .do_authentication(Url::parse(origin).expect("origin is a URL"), options)
            .unwrap_or_else(|e| panic!("the soft key signs: {e:?}"));
        serde_json::to_value(credential).unwrap()
    }
}
