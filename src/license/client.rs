//! Checking a licence against a licensing server from this installation: the CLI's
//! `portcullis license check` and the doctor's `license.connection` share this.

use license_verifier::protocol::{KEYS_PATH, PublicKey};
use license_verifier::{Config, Step, Verdict, Verifier};

/// Parses pinned keys written as `KEY_ID=BASE64URL` (as `/api/license/v1/keys` lists them).
///
/// # Errors
/// Names the entry that is not of that form.
pub fn parse_pins(entries: &[String]) -> Result<Vec<PublicKey>, String> {
    entries
        .iter()
        .map(|e| {
            let (id, key) = e.split_once('=').ok_or_else(|| {
                format!("{e:?} is not KEY_ID=PUBLIC_KEY (copy them from {KEYS_PATH})")
            })?;
            let bytes = base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                key.trim(),
            )
            .map_err(|_| format!("the public key of {id:?} is not base64url"))?;
            if bytes.len() != 32 {
                return Err(format!(
                    "the public key of {id:?} has {} bytes, not 32",
                    bytes.len()
                ));
            }
            Ok(PublicKey {
                key_id: id.trim().to_owned(),
                public_key: key.trim().to_owned(),
            })
        })
        .collect()
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub server_url: String,
    pub key: String,
    pub domain: String,
    pub ip: String,
    pub directory: String,
    pub pins: Vec<PublicKey>,
    /// Extra trusted roots (DER), for a server with a private CA.
    pub extra_roots: Vec<Vec<u8>>,
    /// How to set the identity, for the incomplete-identity message.
    pub identity_setting: String,
}

/// Checks online now (a throwaway local key file, so no stored answer stands in for the
/// server) and returns the verdict with every step. Runs the blocking verifier off the runtime.
pub async fn check_online(target: Target, now: i64) -> (Verdict, Vec<Step>) {
    tokio::task::spawn_blocking(move || {
        let name = format!(
            "portcullis-license-check-{}-{}.json",
            std::process::id(),
            crate::token::hex(&crate::token::random_bytes::<6>().unwrap_or_default())
        );
        let key_file = std::env::temp_dir().join(name);
        let present = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let mut config = Config::new(&target.server_url, target.pins, &target.key, &key_file)
            .with_identity_setting(target.identity_setting);
        config.domain = present(&target.domain);
        config.ip = present(&target.ip);
        config.directory = present(&target.directory);
        config.extra_roots = target.extra_roots;
        let result = Verifier::new(config).check_with_steps(now);
        let _ = std::fs::remove_file(&key_file);
        result
    })
    .await
    .unwrap_or_else(|e| {
        (
            Verdict::NoConnection {
                step: license_verifier::StepKind::Connect,
                detail: format!("the check could not run: {e}"),
                grace_until: None,
            },
            Vec::new(),
        )
    })
}
