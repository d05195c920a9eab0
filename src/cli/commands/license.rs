//! `portcullis license check`: check a licence against a licensing server now, printing every
//! step (DNS, connect, TLS, HTTP, signature) and the verdict; exit 0 when the licence may be
//! used, 1 when not, 2 for bad arguments. Needs no database. The last signed answer is kept in
//! the configured data directory (`data_dir/license/`, shared with `serve`, `cron` and the
//! doctor), so with the server down a licence checked before stays valid within its grace.
//!
//! The check itself is `license::client::check_online` (shared with the doctor's
//! `license.connection`); this file turns the flags into its `Target`. Without `--public-key`
//! it first downloads the server's published keys and trusts them for this one check, saying
//! so, since software must pin them.

use crate::cli::{LicenseCheck, LicenseCommand, failed};
use crate::clock::{Clock as _, SystemClock};
use crate::license::client::{self, Target};
use license_verifier::protocol::PublicKey;
use std::path::Path;
use std::process::ExitCode;

/// Runs one `license` subcommand; `data_dir` holds the shared local key.
pub async fn run(command: LicenseCommand, data_dir: &Path) -> ExitCode {
    match command {
        LicenseCommand::Check(args) => check(&args, data_dir).await,
    }
}

async fn check(args: &LicenseCheck, data_dir: &Path) -> ExitCode {
    let now = SystemClock.unix();
    let extra_roots = match extra_roots(args) {
        Ok(roots) => roots,
        Err(code) => return code,
    };
    let pins = match pins(args, &extra_roots).await {
        Ok(pins) => pins,
        Err(code) => return code,
    };
    let target = Target {
        server_url: args.server.clone(),
        key: args.key.clone(),
        domain: args.domain.clone(),
        ip: args.ip.clone(),
        directory: args.directory.clone(),
        pins,
        extra_roots,
        identity_setting: "Pass --domain, --ip and --directory (the installation's own values, as its configuration states them).".into(),
        data_dir: Some(data_dir.to_path_buf()),
    };
    let (verdict, steps) = client::check_online(target, now).await;
    for step in &steps {
        println!("check    {step}");
    }
    println!("verdict: {verdict}");
    if verdict.is_usable() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The certificates of `--ca-file` (DER), or the exit code after saying why they cannot be read.
fn extra_roots(args: &LicenseCheck) -> Result<Vec<Vec<u8>>, ExitCode> {
    let Some(path) = &args.ca_file else {
        return Ok(Vec::new());
    };
    std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|pem| license_verifier::certificates_from_pem(&pem))
        .map_err(|e| failed(format_args!("--ca-file {}: {e}", path.display())))
}

/// The keys to verify answers with: `--public-key` pins, or else the keys the server publishes
/// (fetched now, each step printed). A failed download is a verdict (exit 1), like a failed
/// check at that step; a bad pin is a bad argument (exit 2).
async fn pins(args: &LicenseCheck, extra_roots: &[Vec<u8>]) -> Result<Vec<PublicKey>, ExitCode> {
    if !args.public_keys.is_empty() {
        return client::parse_pins(&args.public_keys)
            .map_err(|e| failed(format_args!("--public-key {e}")));
    }
    let server = args.server.clone();
    let roots = extra_roots.to_vec();
    // The verifier is blocking (its own DNS, TCP and TLS steps with timeouts).
    let fetched = tokio::task::spawn_blocking(move || {
        license_verifier::fetch_keys_with_steps(
            &server,
            license_verifier::Timeouts::default(),
            &roots,
        )
    })
    .await;
    let Ok((result, steps)) = fetched else {
        return Err(failed("the key download could not run"));
    };
    for step in &steps {
        println!("keys     {step}");
    }
    match result {
        Ok(list) => {
            println!(
                "keys     trusting the {} key(s) the server published, for this check only; software must pin them (--public-key)",
                list.keys.len()
            );
            Ok(list.keys)
        }
        Err((step, detail)) => {
            // The same human message as a failed check at this step, never debug text.
            let verdict = license_verifier::Verdict::NoConnection {
                step,
                detail,
                grace_until: None,
            };
            println!("verdict: {verdict}");
            Err(ExitCode::from(1))
        }
    }
}
