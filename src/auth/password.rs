//! Password hashing and verification: pure, synchronous, CPU-bound functions.
//!
//! This module owns the stored-hash formats: it makes new hashes (Argon2id with the OWASP
//! parameters, keyed with the installation's [`Pepper`], as a PHC string) and verifies
//! passwords against every format an imported account may carry: Argon2 PHC strings (keyed or
//! not), PHP `password_hash` bcrypt (`$2y$`, `$2a$`, `$2b$`) and the WHMCS legacy
//! `md5hex:salt`. A successful verification also says whether the stored hash should be
//! replaced with a current one.
//!
//! The pepper (ASVS 2.4.5) is a secret kept outside the database, derived from the sealing key
//! (`two_factor.key`), so a copy of the database alone is not enough to guess passwords
//! offline. A keyed hash carries the PHC parameter `keyid=` ([`PEPPER_KEYID`]), which the
//! argon2 crate parses and writes but does not mix into the hash; that is how verification
//! knows to use the pepper. Unkeyed Argon2 hashes (made before the pepper) still verify and
//! are reported as needing an upgrade, so they become keyed at the next sign-in.
//!
//! It does not decide *when* hashing runs: every function here blocks for tens of milliseconds,
//! so async callers go through [`super::hasher::Hasher`], which runs them off the async worker
//! threads with a bounded queue. It also does not judge password strength (see
//! [`super::policy`]) and never logs or stores passwords.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{self, PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, KeyId, Params, ParamsBuilder, Version};
use md5::{Digest as _, Md5};
use subtle::ConstantTimeEq as _;

/// Argon2 memory cost in KiB for new hashes (OWASP: 19 MiB).
const ARGON2_M_COST: u32 = 19_456;
/// Argon2 iterations for new hashes (OWASP).
const ARGON2_T_COST: u32 = 2;
/// Argon2 lanes for new hashes (OWASP).
const ARGON2_P_COST: u32 = 1;
/// Argon2 output length in bytes for new hashes.
const ARGON2_OUTPUT_LEN: usize = 32;

// A stored hash chooses its own cost, and a corrupted or hostile row could ask for gigabytes of
// memory or days of work on every sign-in attempt. These caps sit far above anything a real
// installation uses (PHP's `PASSWORD_ARGON2ID` default is 64 MiB, t = 4; bcrypt installs use
// cost 10 to 13) and turn anything beyond them into `Malformed` instead of an outage.
/// Largest accepted Argon2 memory cost in KiB (256 MiB).
const MAX_ARGON2_M_COST: u32 = 262_144;
/// Largest accepted Argon2 iteration count.
const MAX_ARGON2_T_COST: u32 = 16;
/// Largest accepted Argon2 lane count.
const MAX_ARGON2_P_COST: u32 = 16;
/// Largest accepted bcrypt cost (2^16 rounds, several seconds).
const MAX_BCRYPT_COST: u32 = 16;

/// A current-parameter Argon2id hash, used only when computing the dummy hash failed (the
/// system RNG refused). Its being public does not matter: a dummy hash is never allowed to
/// match anything; it only has to cost the same to check as a real one.
const FALLBACK_DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$mrvoHoe7TOTNPYWX54ExVw$p8ymirspUVWoG/StP5tktsbSEd5mv8b4vSR9KIyCyos";

/// The `keyid` bytes written into a keyed hash's PHC parameters (`keyid=cDE`, "p1": pepper,
/// version 1). Another value would name a pepper this version does not know.
pub const PEPPER_KEYID: &[u8] = b"p1";

/// The fixed label the pepper is derived under, so it is a key of its own, unrelated to the
/// other uses of the sealing key.
const PEPPER_LABEL: &str = "portcullis password pepper v1";

/// The secret that keys every new password hash (Argon2's `secret` input). Never stored in the
/// database and never logged.
#[derive(Clone)]
pub struct Pepper([u8; 32]);

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(..)")
    }
}

impl Pepper {
    /// A pepper from 32 secret bytes (tests and benchmarks; the server uses [`Self::derive`]).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The installation's pepper: a keyed hash of a fixed label under the sealing key, which
    /// lives outside the database and is shared by every node, so every node derives the same
    /// pepper and a database copy does not contain it.
    #[must_use]
    pub fn derive(sealing: &crate::sealing::SealingKey) -> Self {
        let hex = sealing.keyed_hash(PEPPER_LABEL);
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            // `keyed_hash` always gives 64 lowercase hex digits; the fallback is unreachable.
            if let [hi, lo] = pair {
                *byte = (hex_value(*hi).unwrap_or(0) << 4) | hex_value(*lo).unwrap_or(0);
            }
        }
        Self(bytes)
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash is not in any supported format.
    #[error("the stored password hash is in an unsupported format")]
    UnknownFormat,
    /// The stored hash looks like a supported format but cannot be parsed or is out of bounds.
    #[error("the stored password hash is malformed")]
    Malformed,
    /// The hashing library failed for a reason unrelated to the input (e.g. RNG failure).
    #[error("password hashing failed: {0}")]
    Unexpected(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is correct. `needs_upgrade` is true when the stored hash is a legacy
    /// format or uses other Argon2 parameters, so the caller should store a fresh
    /// [`hash_password`] result.
    Match {
        /// Whether the stored hash should be replaced with a current one.
        needs_upgrade: bool,
    },
    /// The password is wrong.
    Mismatch,
}

/// The family a stored hash belongs to, judged from its shape only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// An Argon2 PHC string (`$argon2id$`, `$argon2i$` or `$argon2d$`).
    Argon2,
    /// A PHP-style bcrypt hash (`$2y$`, `$2a$` or `$2b$`).
    Bcrypt,
    /// The WHMCS legacy `md5hex:salt`.
    WhmcsMd5,
    /// Anything else.
    Unknown,
}

/// Hashes `password` with Argon2id keyed with `pepper`, the current parameters and a random
/// 16-byte salt, returning a PHC string (`$argon2id$v=19$m=19456,t=2,p=1,keyid=cDE$...`).
///
/// # Errors
/// [`PasswordError::Unexpected`] when the OS RNG or the hashing library fails.
pub fn hash_password(password: &str, pepper: &Pepper) -> Result<String, PasswordError> {
    let hasher = current_hasher(pepper)?;
    // `hash_password` draws a 16-byte salt from the OS RNG (argon2's `getrandom` feature).
    let hash = hasher
        .hash_password(password.as_bytes())
        .map_err(|e| PasswordError::Unexpected(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks `password` against a stored hash in any supported format.
///
/// # Errors
/// [`PasswordError::UnknownFormat`] when `stored` is in no supported format,
/// [`PasswordError::Malformed`] when it belongs to a supported family but cannot be used, and
/// [`PasswordError::Unexpected`] when the hashing library itself fails. A keyed hash checked
/// with another pepper is a [`Verification::Mismatch`] (nothing tells the two apart).
pub fn verify_password(
    password: &str,
    stored: &str,
    pepper: &Pepper,
) -> Result<Verification, PasswordError> {
    match current_format(stored) {
        HashFormat::Argon2 => verify_argon2(password, stored, pepper),
        HashFormat::Bcrypt => verify_bcrypt(password, stored),
        HashFormat::WhmcsMd5 => verify_whmcs_md5(password, stored),
        HashFormat::Unknown => Err(PasswordError::UnknownFormat),
    }
}

/// Tells which family `stored` belongs to, from its prefix and shape only (no hashing).
///
/// Never panics, whatever the input; a string reported as a known family may still turn out
/// to be [`PasswordError::Malformed`] when verified.
#[must_use]
pub fn current_format(stored: &str) -> HashFormat {
    if ["$argon2id$", "$argon2i$", "$argon2d$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        HashFormat::Argon2
    } else if ["$2y$", "$2a$", "$2b$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        HashFormat::Bcrypt
    } else if split_whmcs_md5(stored).is_some() {
        HashFormat::WhmcsMd5
    } else {
        HashFormat::Unknown
    }
}

/// A valid current-parameter Argon2id hash, keyed with a pepper of its own, computed once per
/// process.
///
/// Verifying against it costs the same as verifying a real account's current hash (the pepper
/// only enters Argon2's initial Blake2b digest); see [`burn_verification`].
#[must_use]
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        // The password is irrelevant (an unknown account never signs in, whatever is typed);
        // a random salt just keeps the value different between processes.
        hash_password(
            "portcullis dummy password for unknown accounts",
            &dummy_pepper(),
        )
        .unwrap_or_else(|_| FALLBACK_DUMMY_HASH.to_owned())
    })
}

/// The pepper of the dummy hash; it keys nothing else, so it need not be secret.
fn dummy_pepper() -> Pepper {
    Pepper([0x5a; 32])
}

/// Does the work of a password check for an account that does not exist, so that an unknown
/// account takes as long to refuse as a known one with a wrong password.
pub fn burn_verification(password: &str) {
    // The result is meaningless; only the time spent matters. `black_box` keeps the work from
    // being judged dead and optimised away.
    let _ = std::hint::black_box(verify_password(
        std::hint::black_box(password),
        dummy_hash(),
        &dummy_pepper(),
    ));
}

/// The Argon2 parameters of new hashes, with the pepper's key id.
fn current_params() -> Result<Params, PasswordError> {
    let mut params = ParamsBuilder::new();
    params
        .m_cost(ARGON2_M_COST)
        .t_cost(ARGON2_T_COST)
        .p_cost(ARGON2_P_COST)
        .output_len(ARGON2_OUTPUT_LEN)
        .keyid(KeyId::new(PEPPER_KEYID).map_err(|e| PasswordError::Unexpected(e.to_string()))?);
    params
        .build()
        .map_err(|e| PasswordError::Unexpected(e.to_string()))
}

/// The Argon2 context used for new hashes.
fn current_hasher(pepper: &Pepper) -> Result<Argon2<'_>, PasswordError> {
    Argon2::new_with_secret(
        &pepper.0,
        Algorithm::Argon2id,
        Version::V0x13,
        current_params()?,
    )
    .map_err(|e| PasswordError::Unexpected(e.to_string()))
}

fn verify_argon2(
    password: &str,
    stored: &str,
    pepper: &Pepper,
) -> Result<Verification, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordError::Malformed)?;
    let algorithm =
        Algorithm::new(parsed.algorithm.as_str()).map_err(|_| PasswordError::Malformed)?;
    let params = Params::try_from(&parsed).map_err(|_| PasswordError::Malformed)?;
    // Without these the library reports "invalid password", which would hide a broken row as
    // an ordinary wrong password.
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(PasswordError::Malformed);
    }
    if params.m_cost() > MAX_ARGON2_M_COST
        || params.t_cost() > MAX_ARGON2_T_COST
        || params.p_cost() > MAX_ARGON2_P_COST
    {
        return Err(PasswordError::Malformed);
    }

    // The key id says which secret the hash was made with: none (made before the pepper, or
    // imported), or this version's pepper. Any other id names a key we do not have.
    let keyed = match params.keyid() {
        [] => false,
        id if id == PEPPER_KEYID => true,
        _ => return Err(PasswordError::Malformed),
    };
    // The verifier takes algorithm, version and parameters from the stored hash, not from the
    // context, so these contexts check hashes made with any parameters; only the secret comes
    // from here.
    let verifier = if keyed {
        Argon2::new_with_secret(
            &pepper.0,
            Algorithm::default(),
            Version::default(),
            Params::default(),
        )
        .map_err(|e| PasswordError::Unexpected(e.to_string()))?
    } else {
        Argon2::default()
    };
    match verifier.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => {
            let needs_upgrade = !keyed
                || algorithm != Algorithm::Argon2id
                // A PHC string without `v=` is treated as 0x13 by the library, but the old
                // reference implementation wrote it for 0x10; rewriting it is always safe.
                || parsed.version != Some(u32::from(Version::V0x13))
                || params.m_cost() != ARGON2_M_COST
                || params.t_cost() != ARGON2_T_COST
                || params.p_cost() != ARGON2_P_COST
                || params.output_len() != Some(ARGON2_OUTPUT_LEN);
            Ok(Verification::Match { needs_upgrade })
        }
        Err(password_hash::Error::PasswordInvalid) => Ok(Verification::Mismatch),
        Err(
            e @ (password_hash::Error::OutOfMemory
            | password_hash::Error::Internal
            | password_hash::Error::Crypto
            | password_hash::Error::RngFailure),
        ) => Err(PasswordError::Unexpected(e.to_string())),
        // Everything else (bad version, salt, output size, parameters) is about the stored
        // string, not the library.
        Err(_) => Err(PasswordError::Malformed),
    }
}

fn verify_bcrypt(password: &str, stored: &str) -> Result<Verification, PasswordError> {
    // The bcrypt crate checks the full shape itself; the cost is read here first only to refuse
    // absurd work factors before any hashing starts. Positions 4..6 are the two cost digits.
    let cost = stored
        .get(4..6)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u32>().ok())
        .ok_or(PasswordError::Malformed)?;
    if cost > MAX_BCRYPT_COST {
        return Err(PasswordError::Malformed);
    }
    // `bcrypt::verify` truncates the password at 72 bytes, exactly as PHP's `password_hash`
    // did when it made these hashes; the non-truncating variant would refuse real accounts.
    match bcrypt::verify(password, stored) {
        Ok(true) => Ok(Verification::Match {
            needs_upgrade: true,
        }),
        Ok(false) => Ok(Verification::Mismatch),
        Err(bcrypt::BcryptError::Rand(e)) => Err(PasswordError::Unexpected(e.to_string())),
        Err(_) => Err(PasswordError::Malformed),
    }
}

fn verify_whmcs_md5(password: &str, stored: &str) -> Result<Verification, PasswordError> {
    let (expected, salt) = split_whmcs_md5(stored).ok_or(PasswordError::Malformed)?;
    let mut md5 = Md5::new();
    md5.update(salt.as_bytes());
    md5.update(password.as_bytes());
    let actual = md5.finalize();
    // Constant time so the comparison does not leak how many leading bytes matched.
    if bool::from(actual.as_slice().ct_eq(&expected)) {
        Ok(Verification::Match {
            needs_upgrade: true,
        })
    } else {
        Ok(Verification::Mismatch)
    }
}

/// Splits a WHMCS legacy hash into the decoded MD5 digest and the salt.
///
/// The split is at the first colon because the hex part never contains one while the salt
/// may. Returns `None` unless the part before the colon is exactly 32 hex digits.
fn split_whmcs_md5(stored: &str) -> Option<([u8; 16], &str)> {
    let (hex, salt) = stored.split_once(':')?;
    let hex = hex.as_bytes();
    if hex.len() != 32 {
        return None;
    }
    let mut digest = [0u8; 16];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *byte = (hex_value(*hi)? << 4) | hex_value(*lo)?;
    }
    Some((digest, salt))
}

/// The value of one ASCII hex digit, either case.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A `$2y$` hash of "correct horse battery staple" at cost 10, generated once with
    /// `bcrypt::hash_with_result(..).format_for_version(Version::TwoY)` and pasted here so the
    /// test checks a fixed PHP-style value rather than only what the crate makes today.
    const BCRYPT_2Y_FIXTURE: &str = "$2y$10$u0PwBn2Dq94N6.htcyrc7uSObCjWR9syVoOjLnhEkuJwVxtPMiuTC";
    const BCRYPT_FIXTURE_PASSWORD: &str = "correct horse battery staple";

    fn pepper() -> Pepper {
        Pepper::from_bytes([9; 32])
    }

    /// `verify_password` with the tests' pepper.
    fn verify(password: &str, stored: &str) -> Result<Verification, PasswordError> {
        verify_password(password, stored, &pepper())
    }

    fn md5_hex(input: &str) -> String {
        use std::fmt::Write as _;
        let mut hex = String::with_capacity(32);
        for byte in Md5::digest(input.as_bytes()) {
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }

    fn weak_argon2(algorithm: Algorithm, password: &str) -> String {
        let params = Params::new(1024, 1, 1, Some(32)).unwrap();
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password_with_salt(password.as_bytes(), b"saltsaltsaltsalt")
            .unwrap()
            .to_string()
    }

    #[test]
    fn round_trip_current_hash_needs_no_upgrade() {
        let hash = hash_password("s3cret passphrase", &pepper()).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid=cDE$"),
            "{hash}"
        );
        assert_eq!(current_format(&hash), HashFormat::Argon2);
        assert_eq!(
            verify("s3cret passphrase", &hash),
            Ok(Verification::Match {
                needs_upgrade: false
            })
        );
    }

    #[test]
    fn salts_are_random() {
        assert_ne!(
            hash_password("same", &pepper()).unwrap(),
            hash_password("same", &pepper()).unwrap()
        );
    }

    #[test]
    fn wrong_password_is_mismatch() {
        let hash = hash_password("right", &pepper()).unwrap();
        assert_eq!(verify("wrong", &hash), Ok(Verification::Mismatch));
    }

    #[test]
    fn weaker_argon2_verifies_and_needs_upgrade() {
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            let hash = weak_argon2(algorithm, "pw");
            assert_eq!(current_format(&hash), HashFormat::Argon2);
            assert_eq!(
                verify("pw", &hash),
                Ok(Verification::Match {
                    needs_upgrade: true
                }),
                "{hash}"
            );
            assert_eq!(verify("PW", &hash), Ok(Verification::Mismatch));
        }
    }

    #[test]
    fn current_params_with_other_algorithm_need_upgrade() {
        let params = Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, Some(32)).unwrap();
        let hash = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password_with_salt(b"pw", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        assert_eq!(
            verify("pw", &hash),
            Ok(Verification::Match {
                needs_upgrade: true
            })
        );
    }

    #[test]
    fn malformed_argon2_is_malformed() {
        for stored in [
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$argon2id$v=19$m=oops,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",
            "$argon2id$v=7$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(
                verify("pw", stored),
                Err(PasswordError::Malformed),
                "{stored}"
            );
        }
    }

    #[test]
    fn absurd_argon2_cost_is_refused_without_hashing() {
        let stored =
            "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(verify("pw", stored), Err(PasswordError::Malformed));
        let stored =
            "$argon2id$v=19$m=1024,t=4294967295,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(verify("pw", stored), Err(PasswordError::Malformed));
    }

    #[test]
    fn bcrypt_2b_and_2y_verify_and_need_upgrade() {
        // The crate writes `$2b$`; PHP writes `$2y$` (and old PHP `$2a$`) for the same
        // algorithm, so rewriting the prefix gives what PHP would have stored.
        let made = bcrypt::hash("hunter2", 4).unwrap();
        assert!(made.starts_with("$2b$04$"));
        let php_style = made.replacen("$2b$", "$2y$", 1);
        let old_php_style = made.replacen("$2b$", "$2a$", 1);
        for hash in [made, php_style, old_php_style] {
            assert_eq!(current_format(&hash), HashFormat::Bcrypt);
            assert_eq!(
                verify("hunter2", &hash),
                Ok(Verification::Match {
                    needs_upgrade: true
                })
            );
            assert_eq!(verify("hunter3", &hash), Ok(Verification::Mismatch));
        }
    }

    #[test]
    fn bcrypt_fixed_2y_fixture_verifies() {
        assert_eq!(
            verify(BCRYPT_FIXTURE_PASSWORD, BCRYPT_2Y_FIXTURE),
            Ok(Verification::Match {
                needs_upgrade: true
            })
        );
        assert_eq!(
            verify("correct horse battery stapler", BCRYPT_2Y_FIXTURE),
            Ok(Verification::Mismatch)
        );
    }

    #[test]
    fn bcrypt_truncates_at_72_bytes_like_php() {
        let long = "x".repeat(80);
        let hash = bcrypt::hash(&long, 4).unwrap().replacen("$2b$", "$2y$", 1);
        let same_prefix = format!("{}{}", "x".repeat(72), "different tail");
        assert_eq!(
            verify(&same_prefix, &hash),
            Ok(Verification::Match {
                needs_upgrade: true
            })
        );
    }

    #[test]
    fn malformed_bcrypt_is_malformed() {
        for stored in [
            "$2y$",
            "$2y$10$short",
            "$2y$ab$u0PwBn2Dq94N6.htcyrc7uSObCjWR9syVoOjLnhEkuJwVxtPMiuTC",
            "$2y$03$......................21jzCB1r6pN6rp5O2Ev0ejjTAboskKm",
            "$2y$31$......................21jzCB1r6pN6rp5O2Ev0ejjTAboskKm",
            "$2y$1é",
        ] {
            assert_eq!(
                verify("pw", stored),
                Err(PasswordError::Malformed),
                "{stored}"
            );
        }
    }

    #[test]
    fn whmcs_md5_with_colon_in_salt() {
        let salt = "a:b:c";
        let stored = format!("{}:{salt}", md5_hex(&format!("{salt}hunter2")));
        assert_eq!(current_format(&stored), HashFormat::WhmcsMd5);
        assert_eq!(
            verify("hunter2", &stored),
            Ok(Verification::Match {
                needs_upgrade: true
            })
        );
        assert_eq!(verify("hunter3", &stored), Ok(Verification::Mismatch));
    }

    #[test]
    fn whmcs_md5_uppercase_hex_and_empty_salt() {
        let salt = "Zx9";
        let stored = format!(
            "{}:{salt}",
            md5_hex(&format!("{salt}hunter2")).to_ascii_uppercase()
        );
        assert_eq!(
            verify("hunter2", &stored),
            Ok(Verification::Match {
                needs_upgrade: true
            })
        );
        let stored = format!("{}:", md5_hex("hunter2"));
        assert_eq!(
            verify("hunter2", &stored),
            Ok(Verification::Match {
                needs_upgrade: true
            })
        );
    }

    #[test]
    fn unknown_formats() {
        for stored in [
            "",
            "garbage",
            "hunter2",
            "$1$abc$def",
            "$2x$10$......................21jzCB1r6pN6rp5O2Ev0ejjTAboskKm",
            "$argon2$v=19",
            // Plain MD5 without a salt, and a 31-digit hex part.
            "5f4dcc3b5aa765d61d8327deb882cf99",
            "5f4dcc3b5aa765d61d8327deb882cf9:salt",
            "5f4dcc3b5aa765d61d8327deb882cf9g:salt",
            ":5f4dcc3b5aa765d61d8327deb882cf99",
        ] {
            assert_eq!(current_format(stored), HashFormat::Unknown, "{stored}");
            assert_eq!(
                verify("pw", stored),
                Err(PasswordError::UnknownFormat),
                "{stored}"
            );
        }
    }

    #[test]
    fn dummy_hash_is_current_and_stable() {
        let dummy = dummy_hash();
        assert!(std::ptr::eq(dummy, dummy_hash()));
        assert!(dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid=cDE$"));
        assert_eq!(
            verify_password(
                "portcullis dummy password for unknown accounts",
                dummy,
                &dummy_pepper()
            ),
            Ok(Verification::Match {
                needs_upgrade: false
            })
        );
        burn_verification("anything");
    }

    #[test]
    fn fallback_dummy_hash_is_valid_and_current() {
        // The fallback is only used if the RNG fails; it must still be a real current-parameter
        // hash so the work done matches. It is unkeyed, which costs the same to check (the
        // secret only enters the initial digest), so it reports an upgrade.
        assert_eq!(
            verify(
                "fallback dummy: this value is never a password",
                FALLBACK_DUMMY_HASH
            ),
            Ok(Verification::Match {
                needs_upgrade: true
            })
        );
    }

    #[test]
    fn a_keyed_hash_does_not_verify_with_another_pepper() {
        let hash = hash_password("tidal-Quartz-lantern-91", &pepper()).unwrap();
        let other = Pepper::from_bytes([10; 32]);
        assert_eq!(
            verify_password("tidal-Quartz-lantern-91", &hash, &other),
            Ok(Verification::Mismatch)
        );
        // Nor as an unkeyed hash: dropping the key id does not bypass the pepper.
        let stripped = hash.replacen(",keyid=cDE", "", 1);
        assert_eq!(
            verify("tidal-Quartz-lantern-91", &stripped),
            Ok(Verification::Mismatch)
        );
    }

    #[test]
    fn an_unkeyed_current_argon2id_hash_verifies_and_needs_upgrade() {
        // What every installation stored before the pepper: Argon2id, current parameters.
        let old = Argon2::default()
            .hash_password_with_salt(b"tidal-Quartz-lantern-91", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        assert!(old.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{old}");
        assert_eq!(
            verify("tidal-Quartz-lantern-91", &old),
            Ok(Verification::Match {
                needs_upgrade: true
            })
        );
        assert_eq!(
            verify("tidal-Quartz-lantern-92", &old),
            Ok(Verification::Mismatch)
        );
    }

    #[test]
    fn an_unknown_key_id_is_malformed() {
        let hash = hash_password("pw", &pepper())
            .unwrap()
            .replacen(",keyid=cDE", ",keyid=cDI", 1);
        assert_eq!(verify("pw", &hash), Err(PasswordError::Malformed));
    }

    #[test]
    fn the_pepper_depends_on_the_sealing_key() {
        let a = crate::sealing::SealingKey::from_bytes(&[1; 32], None);
        let b = crate::sealing::SealingKey::from_bytes(&[2; 32], None);
        assert_eq!(Pepper::derive(&a).0, Pepper::derive(&a).0);
        assert_ne!(Pepper::derive(&a).0, Pepper::derive(&b).0);
        assert_ne!(Pepper::derive(&a).0, [0; 32]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn never_panics_on_arbitrary_strings(stored in any::<String>(), password in any::<String>()) {
            let _ = current_format(&stored);
            let _ = verify(&password, &stored);
        }

        #[test]
        fn never_panics_on_known_prefixes(
            prefix in prop::sample::select(vec!["$argon2id$", "$argon2i$", "$argon2d$", "$2y$", "$2a$", "$2b$", "0123456789abcdef0123456789ABCDEF:"]),
            rest in ".{0,80}",
        ) {
            let stored = format!("{prefix}{rest}");
            let _ = current_format(&stored);
            let _ = verify("pw", &stored);
        }
    }
}
