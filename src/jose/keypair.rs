//! Signing keys as the provider keeps them: made here, stored (sealed) as PKCS#8, and described
//! as a public JWK for the JWKS endpoint.
//!
//! `ring` makes the ECDSA and Ed25519 keys and does every signature; it cannot make RSA keys, so
//! the `rsa` crate makes those (key generation involves no secret-dependent timing an attacker
//! can observe; signing, where the Marvin attack applies, is `ring`'s).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey};

use ring::signature::{self as ring_sig, KeyPair as _};
use serde_json::{Value, json};

/// An algorithm the provider signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit key: what every relying party accepts.
    Rs256,
    /// ECDSA over P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    /// Every algorithm, RS256 first (Core requires it to be offered).
    pub const ALL: [Self; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];

    /// The JOSE name (`alg`), as stored and published.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses the JOSE name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub(crate) fn algorithm(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the system's random number generator failed")]
    Random,
    #[error("the stored {alg} key is not a PKCS#8 key of that algorithm")]
    Damaged { alg: SigningAlg },
}

/// A private signing key with its id and public JWK.
#[derive(Clone)]
pub struct KeyPair {
    kid: String,
    alg: SigningAlg,
    der: Vec<u8>,
    encoding: EncodingKey,
    public: Value,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("KeyPair")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Makes a new key for `alg` with a random key id.
    ///
    /// # Errors
    /// [`KeyError::Random`] when the system's generator fails.
    pub fn generate(alg: SigningAlg) -> Result<Self, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let der = match alg {
            SigningAlg::Rs256 => {
                use rsa::pkcs8::EncodePrivateKey as _;
                let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
                let key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|_| KeyError::Random)?;
                key.to_pkcs8_der()
                    .map_err(|_| KeyError::Random)?
                    .as_bytes()
                    .to_vec()
            }
            SigningAlg::Es256 => ring_sig::EcdsaKeyPair::generate_pkcs8(
                &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                &rng,
            )
            .map_err(|_| KeyError::Random)?
            .as_ref()
            .to_vec(),
            SigningAlg::EdDsa => ring_sig::Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| KeyError::Random)?
                .as_ref()
                .to_vec(),
        };
        let mut id = [0u8; 12];
        getrandom::fill(&mut id).map_err(|_| KeyError::Random)?;
        Self::from_der(&B64.encode(id), alg, der)
    }

    /// A stored key: its id, algorithm and PKCS#8 bytes.
    ///
    /// # Errors
    /// [`KeyError::Damaged`] when the bytes are not a key of that algorithm.
    pub fn from_der(kid: &str, alg: SigningAlg, der: Vec<u8>) -> Result<Self, KeyError> {
        let damaged = || KeyError::Damaged { alg };
        let mut public = match alg {
            SigningAlg::Rs256 => {
                let pair = ring_sig::RsaKeyPair::from_pkcs8(&der).map_err(|_| damaged())?;
                let c = ring_sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "n": B64.encode(&c.n), "e": B64.encode(&c.e)})
            }
            SigningAlg::Es256 => {
                let pair = ring_sig::EcdsaKeyPair::from_pkcs8(
                    &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &der,
                    &ring::rand::SystemRandom::new(),
                )
                .map_err(|_| damaged())?;
                // The uncompressed point: 0x04, then x and y, 32 bytes each.
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256",
                       "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])})
            }
            SigningAlg::EdDsa => {
                let x = super::provider::ed25519_public(&der).ok_or_else(damaged)?;
                json!({"kty": "OKP", "crv": "Ed25519", "x": B64.encode(x)})
            }
        };
        public["kid"] = Value::from(kid);
        public["alg"] = Value::from(alg.as_str());
        public["use"] = Value::from("sig");
        let encoding = match alg {
            SigningAlg::Rs256 => EncodingKey::from_rsa_der(&der),
            SigningAlg::Es256 => EncodingKey::from_ec_der(&der),
            SigningAlg::EdDsa => EncodingKey::from_ed_der(&der),
        };
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            der,
            encoding,
            public,
        })
    }

    /// The key id, as in the JWKS and each token's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the key signs with.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The PKCS#8 bytes, for sealing at rest.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The public JWK (`kty`, the key's numbers, `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Value {
        &self.public
    }

    /// A checker for tokens this key signed (for tests and the doctor).
    ///
    /// # Errors
    /// [`KeyError::Damaged`] if the public JWK cannot be read back, which would be a bug.
    pub fn decoding_key(&self) -> Result<jsonwebtoken::DecodingKey, KeyError> {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(self.public.clone())
            .map_err(|_| KeyError::Damaged { alg: self.alg })?;
        jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::Damaged { alg: self.alg })
    }

    pub(super) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
}
