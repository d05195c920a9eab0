//! Checking a licence against a licensing server from this installation: the CLI's
//! `portcullis license check` and the doctor's `license.connection` (which the scheduler's
//! `license.recheck` runs in `serve` and `cron`) share this.
//!
//! The last signed answer (the "local key", F07) is kept in the data directory, one file per
//! server and key under `license/`, so every process of the installation (`serve`, `cron`,
//! `doctor`, the CLI) shares it and honours its offline grace: a new process with the licensing
//! server down still finds the answer the last one saved. The verifier writes it through a
//! temporary file and a rename in the same directory, readable by the owner only.

use license_verifier::protocol::{KEYS_PATH, PublicKey};
use license_verifier::{Config, Step, Verdict, Verifier};
use std::path::{Path, PathBuf};

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
    /// The data directory holding the shared local key; `None`: a throwaway file, so no stored
    /// answer stands in for the server and none is kept.
    pub data_dir: Option<PathBuf>,
}

/// Where the local key of one licence on one server is kept: `DATA_DIR/license/<id>.json`,
/// the id a hash of the server URL and the key (the key itself is a secret, so it is not the
/// file's name).
pub fn local_key_file(data_dir: &Path, server_url: &str, key: &str) -> PathBuf {
    let canonical = license_verifier::key::validate(key).unwrap_or_else(|_| key.trim().to_owned());
    let id = crate::token::hash(&format!(
        "{}\n{canonical}",
        server_url.trim().trim_end_matches('/')
    ));
    data_dir
        .join("license")
        .join(format!("{}.json", &id[..32.min(id.len())]))
}

/// Creates the local key's directory, owner-only (the answers name licence keys).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Checks online now, step by step, and returns the verdict with every step. The server is
/// asked even while the saved answer is current (a check must test the connection); when it
/// cannot be reached, the shared local key stands in within its offline grace
/// (`Verdict::ValidOffline`). Runs the blocking verifier off the runtime.
pub async fn check_online(target: Target, now: i64) -> (Verdict, Vec<Step>) {
    tokio::task::spawn_blocking(move || {
        let (key_file, throwaway) = if let Some(dir) = &target.data_dir {
            let file = local_key_file(dir, &target.server_url, &target.key);
            if let Some(parent) = file.parent() {
                // A failure shows as the verifier's "cannot save the answer" step.
                let _ = private_dir(parent);
            }
            (file, false)
        } else {
            let name = format!(
                "portcullis-license-check-{}-{}.json",
                std::process::id(),
                crate::token::hex(&crate::token::random_bytes::<6>().unwrap_or_default())
            );
            (std::env::temp_dir().join(name), true)
        };
        let present = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let mut config = Config::new(&target.server_url, target.pins, &target.key, &key_file)
            .with_identity_setting(target.identity_setting)
            .with_ask_every_time();
        config.domain = present(&target.domain);
        config.ip = present(&target.ip);
        config.directory = present(&target.directory);
        config.extra_roots = target.extra_roots;
        let result = Verifier::new(config).check_with_steps(now);
        if throwaway {
            let _ = std::fs::remove_file(&key_file);
        }
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
