//! The wire format between the verifier and the licensing server (version 1).
//!
//! `POST /api/license/v1/verify` takes a [`VerifyRequest`] as JSON and answers a
//! [`SignedAnswer`]: the [`Answer`] serialised to JSON, base64url-encoded, and an Ed25519
//! signature over exactly those bytes, so no canonical JSON form is needed. Every verdict the
//! server gives (unknown key included) is signed, so a verifier can tell "the server said no"
//! from "something in between answered". `GET /api/license/v1/keys` lists the public keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

/// The request path of the check.
pub const VERIFY_PATH: &str = "/api/license/v1/verify";
/// The request path of the public keys.
pub const KEYS_PATH: &str = "/api/license/v1/keys";

/// What the installation presents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyRequest {
    pub key: String,
    pub domain: String,
    pub ip: String,
    pub directory: String,
    /// Random, echoed in the answer, so an old answer cannot be replayed as a new one.
    pub nonce: String,
    pub verifier_version: String,
}

/// The licence's state as the server judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Suspended,
    Expired,
    /// No licence has this key.
    Unknown,
    /// The key is not a well-formed licence key.
    Malformed,
    /// Valid licence, but presented from a place it is not bound to.
    BindingMismatch,
}

/// Which part of the installation's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    Domain,
    Ip,
    Directory,
}

impl Which {
    /// The word people use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Ip => "IP address",
            Self::Directory => "directory",
        }
    }

    /// The form in which values are compared, on the server and in the verifier alike: domains
    /// lowercase without a final dot, addresses in their canonical text, directories without a
    /// trailing slash (except `/` itself).
    ///
    /// Normalising a normalised value changes nothing: the server binds a licence to the
    /// normalised values of its first check and compares later checks with them normalised
    /// again, so the trailing dots or slashes and the spaces between them go together (found by
    /// fuzzing: `example.com. .` became `example.com.` and then `example.com`).
    pub fn normalise(self, value: &str) -> String {
        let v = value.trim();
        match self {
            Self::Domain => v
                .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
                .to_ascii_lowercase(),
            Self::Ip => v
                .parse::<std::net::IpAddr>()
                .map_or_else(|_| v.to_owned(), |ip| ip.to_string()),
            Self::Directory => {
                let t = v.trim_end_matches(|c: char| c == '/' || c.is_whitespace());
                if t.is_empty() && v.starts_with('/') {
                    "/".to_owned()
                } else {
                    t.to_owned()
                }
            }
        }
    }
}

/// The places a licence is bound to (empty lists bind at the first check).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bindings {
    pub domains: Vec<String>,
    pub ips: Vec<String>,
    pub directories: Vec<String>,
}

/// A binding that did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub which: Which,
    pub presented: String,
    pub allowed: Vec<String>,
}

/// The signed content of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Format version; 1.
    pub v: u32,
    pub key_id: String,
    /// Unix seconds, server time.
    pub issued_at: i64,
    /// The request's nonce, echoed.
    pub nonce: String,
    /// The key as checked (canonical form).
    pub license_key: String,
    pub status: Status,
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub bindings: Bindings,
    /// Set when `status` is `binding_mismatch`.
    #[serde(default)]
    pub mismatch: Option<Mismatch>,
    /// When the licence expires (or expired), unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When the installation must check again.
    pub next_check_due: i64,
    /// Until when it may keep running on this answer if the server cannot be reached.
    pub grace_until: i64,
    /// Where the licence's owner reissues it (moves it to a new place).
    #[serde(default)]
    pub reissue_url: String,
    #[serde(default)]
    pub reissues_left: Option<u32>,
}

/// What travels: the answer's JSON bytes and their signature, both base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAnswer {
    pub key_id: String,
    pub payload: String,
    pub signature: String,
}

/// Why a signed answer cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The answer names a key id that is not pinned.
    UnknownKeyId(String),
    /// Not base64url, or not the right length.
    Encoding,
    /// The signature does not verify with the pinned key.
    Invalid,
    /// The payload is not an answer of a known version.
    Payload(String),
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownKeyId(id) => write!(
                f,
                "the answer is signed with key {id:?}, which is not among the pinned public keys"
            ),
            Self::Encoding => {
                f.write_str("the answer's payload or signature is not valid base64url")
            }
            Self::Invalid => f.write_str("the answer's signature does not verify"),
            Self::Payload(e) => write!(f, "the signed payload is not a licence answer: {e}"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// A pinned public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    pub key_id: String,
    /// The 32-byte Ed25519 public key, base64url without padding.
    pub public_key: String,
}

/// The body of `GET /api/license/v1/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<PublicKey>,
}

impl SignedAnswer {
    /// Signs `answer` with `signing_key` (32 secret bytes) under `key_id`.
    pub fn sign(answer: &Answer, key_id: &str, signing_key: &[u8; 32]) -> Self {
        use ed25519_dalek::Signer as _;
        let payload = serde_json::to_vec(answer).unwrap_or_default();
        let key = ed25519_dalek::SigningKey::from_bytes(signing_key);
        let signature = key.sign(&payload);
        Self {
            key_id: key_id.to_owned(),
            payload: B64.encode(&payload),
            signature: B64.encode(signature.to_bytes()),
        }
    }

    /// Checks the signature with the pinned key of the same id and returns the answer.
    ///
    /// # Errors
    /// Unknown key id, bad encoding, a signature that does not verify, or a payload that is not
    /// an answer.
    pub fn verify(&self, pinned: &[PublicKey]) -> Result<Answer, SignatureError> {
        let key = pinned
            .iter()
            .find(|k| k.key_id == self.key_id)
            .ok_or_else(|| SignatureError::UnknownKeyId(self.key_id.clone()))?;
        let public: [u8; 32] = B64
            .decode(&key.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SignatureError::Encoding)?;
        let public = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| SignatureError::Encoding)?;
        let payload = B64
            .decode(&self.payload)
            .map_err(|_| SignatureError::Encoding)?;
        let signature: [u8; 64] = B64
            .decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SignatureError::Encoding)?;
        public
            .verify_strict(&payload, &ed25519_dalek::Signature::from_bytes(&signature))
            .map_err(|_| SignatureError::Invalid)?;
        let answer: Answer =
            serde_json::from_slice(&payload).map_err(|e| SignatureError::Payload(e.to_string()))?;
        if answer.v != 1 || answer.key_id != self.key_id {
            return Err(SignatureError::Payload(format!(
                "version {} signed as {:?} but naming {:?}",
                answer.v, self.key_id, answer.key_id
            )));
        }
        Ok(answer)
    }
}

/// The public key (base64url) of a 32-byte Ed25519 secret key.
pub fn public_key_of(signing_key: &[u8; 32]) -> String {
    B64.encode(
        ed25519_dalek::SigningKey::from_bytes(signing_key)
            .verifying_key()
            .to_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Answer {
        Answer {
            v: 1,
            key_id: "k1".into(),
            issued_at: 1_795_867_200,
            nonce: "n".into(),
            license_key: "ACME-X".into(),
            status: Status::Active,
            product: "Acme".into(),
            bindings: Bindings::default(),
            mismatch: None,
            expires_at: None,
            next_check_due: 1_795_867_200 + 7 * 86_400,
            grace_until: 1_795_867_200 + 10 * 86_400,
            reissue_url: String::new(),
            reissues_left: Some(3),
        }
    }

    #[test]
    fn a_signed_answer_verifies_and_any_change_is_refused() {
        let secret = [7u8; 32];
        let pinned = [PublicKey {
            key_id: "k1".into(),
            public_key: public_key_of(&secret),
        }];
        let signed = SignedAnswer::sign(&answer(), "k1", &secret);
        assert_eq!(signed.verify(&pinned), Ok(answer()));

        let mut forged = answer();
        forged.status = Status::Active;
        forged.grace_until += 365 * 86_400;
        let tampered = SignedAnswer {
            payload: B64.encode(serde_json::to_vec(&forged).unwrap()),
            ..signed.clone()
        };
        assert_eq!(tampered.verify(&pinned), Err(SignatureError::Invalid));

        let other = SignedAnswer::sign(&answer(), "k1", &[8u8; 32]);
        assert_eq!(other.verify(&pinned), Err(SignatureError::Invalid));
        let unpinned = SignedAnswer::sign(&answer(), "k2", &secret);
        assert_eq!(
            unpinned.verify(&pinned),
            Err(SignatureError::UnknownKeyId("k2".into()))
        );
    }
}
