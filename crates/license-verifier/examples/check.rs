//! Checks a licence from the command line: prints each step and the verdict.
//!
//! Settings come from environment variables, as an application would read them from its own
//! configuration (never from a web request):
//!
//! ```text
//! LICENSE_SERVER_URL=https://licence.example.com
//! LICENSE_PUBLIC_KEYS=k1=BASE64URL[,k2=BASE64URL]   (or LICENSE_KEYS_FILE=keys.json, the
//!                                                    body of GET /api/license/v1/keys)
//! LICENSE_KEY=ACME-XXXXX-XXXXX-XXXXX-XXXXX-C
//! LICENSE_DOMAIN=shop.example.com LICENSE_IP=203.0.113.5 LICENSE_DIRECTORY=/var/www/shop
//! LICENSE_KEY_FILE=./license.json                   (optional, this default)
//! LICENSE_EXTRA_ROOT=private-ca.pem                 (optional)
//! ```
//!
//! `cargo run -p license-verifier --example check` checks; with the argument `keys` it fetches
//! and prints the server's public keys instead. Exit code 0 when the licence is usable, else 1.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use license_verifier::protocol::{KeyList, PublicKey};
use license_verifier::{Config, Timeouts, Verifier, certificates_from_pem, fetch_keys_with_steps};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn pinned_keys() -> Result<Vec<PublicKey>, String> {
    if let Some(path) = env("LICENSE_KEYS_FILE") {
        let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
        let list: KeyList = serde_json::from_slice(&bytes).map_err(|e| format!("{path}: {e}"))?;
        return Ok(list.keys);
    }
    let Some(spec) = env("LICENSE_PUBLIC_KEYS") else {
        return Err("set LICENSE_PUBLIC_KEYS (k1=BASE64URL,...) or LICENSE_KEYS_FILE".into());
    };
    spec.split(',')
        .map(|pair| {
            let (id, key) = pair
                .trim()
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not KEY_ID=PUBLIC_KEY"))?;
            Ok(PublicKey {
                key_id: id.to_owned(),
                public_key: key.to_owned(),
            })
        })
        .collect()
}

fn run() -> Result<bool, String> {
    let url = env("LICENSE_SERVER_URL").ok_or("set LICENSE_SERVER_URL")?;
    let extra_roots = match env("LICENSE_EXTRA_ROOT") {
        Some(path) => {
            let pem = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
            certificates_from_pem(&pem).map_err(|e| format!("{path}: {e}"))?
        }
        None => Vec::new(),
    };

    if std::env::args().nth(1).as_deref() == Some("keys") {
        let (result, steps) = fetch_keys_with_steps(&url, Timeouts::default(), &extra_roots);
        for step in &steps {
            println!("  {step}");
        }
        let list = result.map_err(|(step, detail)| format!("{step}: {detail}"))?;
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Ok(true);
    }

    let mut config = Config::new(
        url,
        pinned_keys()?,
        env("LICENSE_KEY").unwrap_or_default(),
        env("LICENSE_KEY_FILE").unwrap_or_else(|| "license.json".to_owned()),
    )
    .with_identity_setting(
        "Set LICENSE_DOMAIN, LICENSE_IP and LICENSE_DIRECTORY to this installation's values.",
    );
    config.domain = env("LICENSE_DOMAIN");
    config.ip = env("LICENSE_IP");
    config.directory = env("LICENSE_DIRECTORY");
    config.extra_roots = extra_roots;

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970")?
        .as_secs();
    let now = i64::try_from(now).map_err(|_| "the system clock is out of range")?;
    let (verdict, steps) = Verifier::new(config).check_with_steps(now);
    for step in &steps {
        println!("  {step}");
    }
    println!("{verdict}");
    Ok(verdict.is_usable())
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
