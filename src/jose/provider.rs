//! The `jsonwebtoken` crypto provider, on `ring`: HMAC, RSA, ECDSA and Ed25519, signing and
//! checking.
//!
//! Why not one of the library's backends: its RustCrypto backend signs RSA with the `rsa`
//! crate, which is exposed to the Marvin timing attack (RUSTSEC-2023-0071, no fixed release as
//! of 2026-12), and it would bring a second, older RustCrypto stack into the build; its aws-lc
//! backend builds a C library. `ring` is already in the tree through rustls and does each of
//! these in constant time. The library keeps what it is good at: the compact form, headers,
//! claims and their validation.
//!
//! Each verifier checks that the key is of the algorithm's family, so a public key can never be
//! used as an HMAC secret, whatever a header says.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature::{self as ring_sig, Ed25519KeyPair, KeyPair as _};
use std::sync::OnceLock;

/// Installs the provider once per process; every function of [`super`] calls this first.
pub(super) fn install() {
    static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();
    let provider = PROVIDER.get_or_init(|| CryptoProvider {
        signer_factory: new_signer,
        verifier_factory: new_verifier,
        key_utils: key_utils(),
    });
    // Only this module installs one; a later call finds it in place.
    let _ = provider.install_default();
}

/// JWK helpers the library may ask for. Only the digest is needed (thumbprints); the rest
/// refuse rather than panic, since nothing here turns a private key into a JWK that way.
fn key_utils() -> KeyUtils {
    KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        compute_digest: |data, hash| {
            let algorithm = match hash {
                jsonwebtoken::jwk::ThumbprintHash::SHA256 => &ring::digest::SHA256,
                jsonwebtoken::jwk::ThumbprintHash::SHA384 => &ring::digest::SHA384,
                jsonwebtoken::jwk::ThumbprintHash::SHA512 => &ring::digest::SHA512,
                _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
            };
            Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
        },
    }
}

fn invalid_key() -> Error {
    ErrorKind::InvalidKeyFormat.into()
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "the library's factory type takes the algorithm by reference"
)]
fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let der = key.as_bytes();
    let signer: Box<dyn JwtSigner> = match algorithm {
        Algorithm::HS512 => Box::new(Hs512(ring::hmac::Key::new(ring::hmac::HMAC_SHA512, der))),
        Algorithm::RS256 => Box::new(Rs256(
            ring_sig::RsaKeyPair::from_pkcs8(der).map_err(|_| invalid_key())?,
        )),
        Algorithm::ES256 => Box::new(Es256(
            ring_sig::EcdsaKeyPair::from_pkcs8(
                &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                der,
                &ring::rand::SystemRandom::new(),
            )
            .map_err(|_| invalid_key())?,
        )),
        Algorithm::EdDSA => Box::new(EdDsa(
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| invalid_key())?,
        )),
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(signer)
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "the library's factory type takes the algorithm by reference"
)]
fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if key.family() != algorithm.family() {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let verifier: Box<dyn JwtVerifier> = match (algorithm, key.kind()) {
        (Algorithm::HS512, DecodingKeyKind::SecretOrDer(secret)) => {
            Box::new(Hs512(ring::hmac::Key::new(ring::hmac::HMAC_SHA512, secret)))
        }
        (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Box::new(Rs256Public(n.clone(), e.clone()))
        }
        (Algorithm::ES256, DecodingKeyKind::SecretOrDer(point)) => Box::new(Public(
            Algorithm::ES256,
            &ring_sig::ECDSA_P256_SHA256_FIXED,
            point.clone(),
        )),
        (Algorithm::EdDSA, DecodingKeyKind::SecretOrDer(x)) => {
            Box::new(Public(Algorithm::EdDSA, &ring_sig::ED25519, x.clone()))
        }
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(verifier)
}

struct Hs512(ring::hmac::Key);
struct Rs256(ring_sig::RsaKeyPair);
struct Es256(ring_sig::EcdsaKeyPair);
struct EdDsa(Ed25519KeyPair);
/// An RSA public key as the JWKS gives it: modulus and exponent.
struct Rs256Public(Vec<u8>, Vec<u8>);
/// An ECDSA point or an Ed25519 key, and ring's algorithm for it.
struct Public(
    Algorithm,
    &'static dyn ring_sig::VerificationAlgorithm,
    Vec<u8>,
);

type SigResult<T> = std::result::Result<T, signature::Error>;

impl signature::Signer<Vec<u8>> for Hs512 {
    fn try_sign(&self, msg: &[u8]) -> SigResult<Vec<u8>> {
        Ok(ring::hmac::sign(&self.0, msg).as_ref().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Hs512 {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> SigResult<()> {
        // ring compares in constant time.
        ring::hmac::verify(&self.0, msg, signature).map_err(|_| signature::Error::new())
    }
}

impl signature::Signer<Vec<u8>> for Rs256 {
    fn try_sign(&self, msg: &[u8]) -> SigResult<Vec<u8>> {
        let mut out = vec![0; self.0.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        self.0
            .sign(&ring_sig::RSA_PKCS1_SHA256, &rng, msg, &mut out)
            .map_err(|_| signature::Error::new())?;
        Ok(out)
    }
}

impl signature::Verifier<Vec<u8>> for Rs256Public {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> SigResult<()> {
        ring_sig::RsaPublicKeyComponents {
            n: &self.0,
            e: &self.1,
        }
        .verify(&ring_sig::RSA_PKCS1_2048_8192_SHA256, msg, signature)
        .map_err(|_| signature::Error::new())
    }
}

impl signature::Signer<Vec<u8>> for Es256 {
    fn try_sign(&self, msg: &[u8]) -> SigResult<Vec<u8>> {
        self.0
            .sign(&ring::rand::SystemRandom::new(), msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| signature::Error::new())
    }
}

impl signature::Signer<Vec<u8>> for EdDsa {
    fn try_sign(&self, msg: &[u8]) -> SigResult<Vec<u8>> {
        Ok(self.0.sign(msg).as_ref().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Public {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> SigResult<()> {
        ring_sig::UnparsedPublicKey::new(self.1, &self.2)
            .verify(msg, signature)
            .map_err(|_| signature::Error::new())
    }
}

macro_rules! algorithm_of {
    ($($t:ty => $alg:expr),* $(,)?) => {
        $(impl JwtSigner for $t {
            fn algorithm(&self) -> Algorithm {
                $alg
            }
        })*
    };
}
algorithm_of!(Hs512 => Algorithm::HS512, Rs256 => Algorithm::RS256, Es256 => Algorithm::ES256,
              EdDsa => Algorithm::EdDSA);

impl JwtVerifier for Hs512 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS512
    }
}

impl JwtVerifier for Rs256Public {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

impl JwtVerifier for Public {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
}

/// The public half of an Ed25519 key pair given as PKCS#8 (for the JWKS).
pub(super) fn ed25519_public(der: &[u8]) -> Option<Vec<u8>> {
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        .ok()
        .map(|k| k.public_key().as_ref().to_vec())
}
