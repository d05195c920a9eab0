//! Sealing secrets at rest: TOTP seeds and the Duo client secret are stored encrypted
//! (AES-256-GCM from `ring`, already in the tree through rustls), and backup codes are stored as
//! keyed hashes.
//!
//! The key comes from `two_factor.secret_key` or a key file (default `data_dir/secret.key`)
//! created with mode 0600 on first start. It is deliberately not kept in the database: a copy of
//! the database alone (a backup, a leaked dump) then yields no usable second factor. Every sealed
//! value is bound to a context string (e.g. `totp:client:42`) as associated data, so a sealed
//! value copied onto another account's row does not open.

use crate::config::SealingKeySource;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use secrecy::ExposeSecret as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

const PREFIX: &str = "v1.";

/// The installation's sealing key.
pub struct SealingKey {
    aead: LessSafeKey,
    mac: hmac::Key,
    /// The key file, when the key came from one (for the doctor's permission check).
    pub file: Option<PathBuf>,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// A sealed value that cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error(
    "a stored secret could not be decrypted: the sealing key (two_factor.secret_key or the key file) is not the one it was sealed with, or the value was altered"
)]
pub struct OpenError;

/// Decodes a configured key: 32 bytes in base64.
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

impl SealingKey {
    /// Builds a key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32], file: Option<PathBuf>) -> Self {
        let aead = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte key fits AES-256"),
        );
        // A separate key for hashing backup codes, derived so one secret serves both uses.
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, bytes),
            b"portcullis backup codes",
        );
        let mac = hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref());
        Self { aead, mac, file }
    }

    /// A value that identifies this key without revealing it: stored in the database by the
    /// first node, so a node started with another key (a second host that created its own key
    /// file) is detected before its users' second factors fail at random.
    pub fn check_value(&self) -> String {
        URL_SAFE_NO_PAD
            .encode(&hmac::sign(&self.mac, b"portcullis sealing key check").as_ref()[..16])
    }

    /// Loads the configured key, creating the key file on first start.
    ///
    /// # Errors
    /// An unreadable or malformed key file, or one that cannot be created.
    pub fn load(source: &SealingKeySource) -> anyhow::Result<Self> {
        match source {
            SealingKeySource::Inline(secret) => {
                let bytes = parse_key(secret.expose_secret()).ok_or_else(|| {
                    anyhow::anyhow!("two_factor.secret_key is not 32 bytes of base64")
                })?;
                Ok(Self::from_bytes(&bytes, None))
            }
            SealingKeySource::File(path) => {
                let bytes = read_or_create(path)?;
                Ok(Self::from_bytes(&bytes, Some(path.clone())))
            }
        }
    }

    /// Encrypts `plaintext` for storage, bound to `context`.
    ///
    /// # Errors
    /// Only when the system's random source fails.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> anyhow::Result<String> {
        let nonce_bytes = crate::token::random_bytes::<NONCE_LEN>()?;
        let mut buffer = plaintext.to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buffer);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts a value sealed with [`Self::seal`] under the same context.
    ///
    /// # Errors
    /// A different key, a different context, or an altered value.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, OpenError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .ok_or(OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| OpenError)?;
        Ok(plain.to_vec())
    }

    /// A keyed hash (hex) for low-entropy values such as backup codes: without the key, a copy
    /// of the database cannot be searched for them.
    pub fn keyed_hash(&self, value: &str) -> String {
        crate::token::hex(hmac::sign(&self.mac, value.as_bytes()).as_ref())
    }
}

fn read_or_create(path: &Path) -> anyhow::Result<[u8; 32]> {
    use anyhow::Context as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(&text).ok_or_else(|| {
            anyhow::anyhow!(
                "the key file {} is not 32 bytes of base64; restore it from a backup (secrets sealed with another key cannot be opened)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let bytes = crate::token::random_bytes::<32>()?;
            // create_new: when two processes start at once, one creates and the other reads.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", STANDARD.encode(bytes))
                        .and_then(|()| file.sync_all())
                        .with_context(|| format!("cannot write the key file {}", path.display()))?;
                    tracing::info!(path = %path.display(), "created the key that seals two-factor secrets; back it up with the database");
                    Ok(bytes)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_create(path),
                Err(e) => Err(e)
                    .with_context(|| format!("cannot create the key file {}", path.display())),
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot read the key file {}", path.display())),
    }
}

/// Why a key file's permissions are too open, if they are: anyone but the owner can read it.
pub fn file_mode_problem(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} has mode {mode:04o}: other users of this machine can read the key that seals two-factor secrets",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let key = SealingKey::from_bytes(&[7; 32], None);
        let sealed = key.seal(b"JBSWY3DPEHPK3PXP", "totp:client:1").unwrap();
        assert_eq!(
            key.open(&sealed, "totp:client:1").unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(key.open(&sealed, "totp:client:2").is_err());
        let other = SealingKey::from_bytes(&[8; 32], None);
        assert!(other.open(&sealed, "totp:client:1").is_err());
        assert!(key.open("v1.garbage", "totp:client:1").is_err());
        // Two seals of one value differ (fresh nonce), so equal secrets are not visible as such.
        assert_ne!(
            sealed,
            key.seal(b"JBSWY3DPEHPK3PXP", "totp:client:1").unwrap()
        );
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret.key");
        let first = read_or_create(&path).unwrap();
        assert_eq!(read_or_create(&path).unwrap(), first);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(file_mode_problem(&path).is_none());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(file_mode_problem(&path).unwrap().contains("0644"));
        std::fs::write(&path, "short").unwrap();
        assert!(read_or_create(&path).is_err());
    }

    #[test]
    fn keyed_hashes_depend_on_the_key() {
        let a = SealingKey::from_bytes(&[1; 32], None);
        let b = SealingKey::from_bytes(&[2; 32], None);
        assert_eq!(a.keyed_hash("abcd-efgh"), a.keyed_hash("abcd-efgh"));
        assert_ne!(a.keyed_hash("abcd-efgh"), b.keyed_hash("abcd-efgh"));
    }
}
