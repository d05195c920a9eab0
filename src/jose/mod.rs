//! Every JSON Web Token the product signs or checks goes through here, over one JOSE library
//! (`jsonwebtoken`): Duo's HS512 request and ID tokens, and the OpenID provider's ID and logout
//! tokens. Each caller names its [`Use`], and a use is pinned to its algorithms, so a token can
//! never choose a weaker one (`none`, HS256 for an RS256 key, a public key used as an HMAC
//! secret).
//!
//! Claims are checked by the callers (Duo's client, the provider), with the time from our clock:
//! the library's own time checks read the system clock, so they are off here. What this module
//! promises is narrower: the token is in the compact form, signed by the key given, under an
//! algorithm its use allows, and its claims are a JSON object.
//!
//! Private-key operations run in `ring` (see [`provider`]); `keypair` makes and describes keys.

pub mod keypair;
mod provider;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

pub use keypair::{KeyPair, SigningAlg};

/// What a token is for, which fixes the algorithms it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Duo's Universal Prompt: our request and client assertion, and Duo's ID token (duo.md:
    /// HS512 with the client secret, nothing else).
    Duo,
    /// The OpenID provider's ID tokens and logout tokens, signed with our published keys.
    Provider,
}

impl Use {
    /// The algorithms a token of this use may carry.
    pub fn algorithms(self) -> &'static [Algorithm] {
        match self {
            Self::Duo => &[Algorithm::HS512],
            Self::Provider => &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA],
        }
    }
}

/// Why a token was refused. The messages name the part at fault but never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token does not have exactly three dot-separated parts")]
    Malformed,
    #[error("the token's {part} is not base64url without padding")]
    Encoding { part: &'static str },
    #[error("the token's {part} is not a JSON object of the expected shape")]
    NotAnObject { part: &'static str },
    #[error("the token is signed with {found}; only {allowed} is accepted here")]
    Algorithm { found: String, allowed: String },
    #[error("the token's signature does not match (wrong key, or the token was altered)")]
    Signature,
    #[error("the key could not be used: {0}")]
    Key(String),
}

/// Signs `claims` with HS512 under `secret` (Duo's requests and client assertions).
///
/// # Errors
/// [`JwtError::Key`] only if signing fails, which HMAC does not.
pub fn sign_hs512(claims: &Value, secret: &[u8]) -> Result<String, JwtError> {
    provider::install();
    let key = EncodingKey::from_secret(secret);
    let mut header = Header::new(Algorithm::HS512);
    header.typ = Some("JWT".to_owned());
    jsonwebtoken::encode(&header, claims, &key).map_err(|e| JwtError::Key(e.to_string()))
}

/// Verifies an HS512 token under `secret` and returns its claims (Duo's ID tokens, and the fake
/// Duo's view of our requests).
///
/// # Errors
/// [`JwtError`] for a malformed token, another algorithm, a bad signature, or claims that are not
/// a JSON object.
pub fn verify_hs512(token: &str, secret: &[u8]) -> Result<Map<String, Value>, JwtError> {
    verify(Use::Duo, token, &DecodingKey::from_secret(secret))
}

/// Signs `claims` with `key` under its algorithm, naming the key in `kid` (the provider's tokens).
///
/// # Errors
/// [`JwtError::Key`] when the stored key cannot sign (a damaged key).
pub fn sign(
    claims: &impl serde::Serialize,
    key: &KeyPair,
    typ: Option<&str>,
) -> Result<String, JwtError> {
    provider::install();
    let mut header = Header::new(key.alg().algorithm());
    header.kid = Some(key.kid().to_owned());
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key.encoding_key())
        .map_err(|e| JwtError::Key(e.to_string()))
}

/// Verifies `token` under `key` for `use_`, and returns its claims.
///
/// # Errors
/// See [`JwtError`].
pub fn verify(use_: Use, token: &str, key: &DecodingKey) -> Result<Map<String, Value>, JwtError> {
    provider::install();
    // The library reads the algorithm from the header; name ours first so "none" or another
    // family is refused by name, before any key is touched.
    let header = header_of(token)?;
    // Pinned twice: to the use, and to the key's own family.
    let allowed: Vec<Algorithm> = use_
        .algorithms()
        .iter()
        .copied()
        .filter(|a| a.family() == key.family())
        .collect();
    if !allowed.contains(&header.alg) {
        return Err(JwtError::Algorithm {
            found: format!("{:?}", header.alg),
            allowed: names(&allowed),
        });
    }
    let mut validation = Validation::new(header.alg);
    validation.algorithms.clone_from(&allowed);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| from_library(e.kind(), &allowed))
}

/// The header of a token, read before its signature is checked (to pick the key by `kid`).
///
/// # Errors
/// [`JwtError`] when the token has no readable header with a known algorithm.
pub fn header_of(token: &str) -> Result<Header, JwtError> {
    if token.split('.').count() != 3 {
        return Err(JwtError::Malformed);
    }
    jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        ErrorKind::Base64(_) => JwtError::Encoding { part: "header" },
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => match alg_named(token) {
            Some(found) => JwtError::Algorithm {
                found,
                allowed: "a JOSE signature algorithm".to_owned(),
            },
            None => JwtError::NotAnObject { part: "header" },
        },
        _ => JwtError::Malformed,
    })
}

/// The `alg` a header names when the library does not know it (`none` above all), so the
/// refusal can say which algorithm was asked for.
fn alg_named(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()?.get("alg")? {
        Value::String(alg) => Some(alg.clone()),
        other => Some(other.to_string()),
    }
}

fn names(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn from_library(kind: &ErrorKind, allowed: &[Algorithm]) -> JwtError {
    match kind {
        ErrorKind::InvalidSignature => JwtError::Signature,
        ErrorKind::InvalidAlgorithm => JwtError::Algorithm {
            found: "another algorithm".to_owned(),
            allowed: names(allowed),
        },
        ErrorKind::Base64(_) => JwtError::Encoding { part: "token" },
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => JwtError::NotAnObject { part: "payload" },
        ErrorKind::InvalidToken => JwtError::Malformed,
        other => JwtError::Key(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests;
