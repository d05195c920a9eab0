//! Random secrets, their at-rest hashes, and constant-time comparison.
//!
//! Every bearer secret Portcullis hands out (session ids, one-time links, sign-in markers) is 256
//! random bits, shown to the holder once as URL-safe base64 and stored only as its SHA-256 hex
//! digest, so a copy of the database cannot be replayed. HMAC helpers back the stateless CSRF
//! tokens. This module knows nothing about HTTP or storage.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Number of random bytes in every bearer secret (256 bits).
pub const SECRET_BYTES: usize = 32;

/// Length of a bearer secret once encoded (43 base64 characters without padding).
pub const ENCODED_LEN: usize = 43;

/// A freshly generated bearer secret: the value for the holder and the hash for the database.
#[derive(Debug, Clone)]
pub struct NewSecret {
    /// What the browser or the link carries. Never log it.
    pub plain: String,
    /// What the database stores.
    pub hash: String,
}

/// Generates a new random secret.
///
/// # Errors
/// Fails only when the operating system's random source is unavailable.
pub fn generate() -> Result<NewSecret, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    let plain = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&plain);
    Ok(NewSecret { plain, hash })
}

/// Random bytes for keys.
///
/// # Errors
/// Fails only when the operating system's random source is unavailable.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// The at-rest form of a secret: lowercase hex SHA-256.
pub fn hash(plain: &str) -> String {
    hex(&Sha256::digest(plain.as_bytes()))
}

/// Whether a presented value has the shape of one of our secrets. Cheap filter that lets garbage
/// cookies and links be refused without a database lookup.
pub fn looks_valid(presented: &str) -> bool {
    presented.len() == ENCODED_LEN
        && presented
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// HMAC-SHA256 of `message` under `key`, URL-safe base64 encoded.
pub fn sign(key: &[u8], message: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Verifies a signature made by [`sign`] in constant time.
pub fn verify_signature(key: &[u8], message: &str, signature: &str) -> bool {
    equal(sign(key, message).as_bytes(), signature.as_bytes())
}

/// Lowercase hex encoding.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_secrets_are_well_formed_and_hash_to_their_stored_form() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.plain, b.plain);
        assert!(looks_valid(&a.plain));
        assert_eq!(hash(&a.plain), a.hash);
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn signatures_verify_only_with_the_same_key_and_message() {
        let sig = sign(b"key", "message");
        assert!(verify_signature(b"key", "message", &sig));
        assert!(!verify_signature(b"other", "message", &sig));
        assert!(!verify_signature(b"key", "massage", &sig));
        assert!(!verify_signature(b"key", "message", ""));
    }

    proptest! {
        #[test]
        fn shape_check_never_panics(s in ".{0,100}") {
            let _ = looks_valid(&s);
            let _ = verify_signature(b"k", "m", &s);
        }
    }
}
