//! `license.connection` (F07): the licence this installation holds (section `[license]`),
//! checked online now, step by step, so "No Connection" says where the connection failed.
//! The last signed answer is kept in the data directory (shared with `serve`, `cron` and the
//! CLI), so with the licensing server down the licence stays valid until the answer's grace
//! ends: a warning that says until when, not an error.

use super::{CheckResult, Severity};
use crate::app::AppState;
use license_verifier::{StepKind, Verdict};

/// The check.
pub async fn connection(state: &AppState) -> CheckResult {
    const ID: &str = super::id::LICENSE_CONNECTION;
    let Some(license) = state.config.license.clone() else {
        return CheckResult::ok(ID, "No licence is configured (section [license]).");
    };
    // A private CA's certificates are read now, so a changed file needs no restart.
    let extra_roots = if license.ca_file.is_empty() {
        Vec::new()
    } else {
        match std::fs::read(&license.ca_file)
            .map_err(|e| e.to_string())
            .and_then(|pem| license_verifier::certificates_from_pem(&pem))
        {
            Ok(roots) => roots,
            Err(e) => {
                return CheckResult::problem(
                    ID,
                    Severity::Error,
                    format!("license.ca_file {}: {e}", license.ca_file),
                    "The CA certificates to trust for the licensing server cannot be read.",
                    "Point license.ca_file at a readable PEM file with the CA's certificate, or leave it empty for a server with a public certificate.",
                );
            }
        }
    };
    let target = crate::license::client::Target {
        server_url: license.server_url.clone(),
        key: license.key.clone(),
        domain: license.domain.clone(),
        ip: license.ip.clone(),
        directory: license.directory.clone(),
        pins: license.pins.clone(),
        extra_roots,
        identity_setting:
            "Set license.ip and license.directory in the configuration file (license.domain defaults to the System URL's host).".into(),
        data_dir: Some(state.config.data_dir.clone()),
    };
    let (verdict, steps) = crate::license::client::check_online(target, state.clock.unix()).await;
    let details: Vec<String> = steps.iter().map(ToString::to_string).collect();
    let server = &license.server_url;
    let (cause, next) = match &verdict {
        Verdict::Valid => {
            return CheckResult::ok(
                ID,
                format!("The licence is valid; {server} answered every step."),
            )
            .with_details(details);
        }
        Verdict::ValidOffline { .. } => {
            // Usable, so not an error; but the connection is broken and the grace will end.
            return CheckResult::problem(
                ID,
                Severity::Warning,
                verdict.to_string(),
                "The licensing server cannot be reached now; the last signed answer (kept in the data directory) keeps the licence valid within its offline grace.",
                "Restore the connection to the licensing server before the grace ends: the steps below show where it fails.",
            )
            .with_details(details);
        }
        Verdict::NoConnection { step, .. } => match step {
            StepKind::Url => (
                "license.server_url is not a usable http(s) URL.",
                "Set license.server_url to the licensing server's base URL, e.g. https://portal.example.com.",
            ),
            StepKind::Dns => (
                "The server's name does not resolve from this host.",
                "Check /etc/resolv.conf and that this host's DNS resolver answers for the licensing server's name (`getent hosts NAME`).",
            ),
            StepKind::Connect => (
                "No TCP connection: a firewall drops outgoing connections, or the server is down.",
                "Allow outgoing connections to the licensing server's port (443 for https) in the host and hosting provider's firewalls; try `curl -v` to the server URL from this host.",
            ),
            StepKind::Tls => (
                "The TLS handshake failed: the certificate is not trusted (an intercepting proxy, an expired or self-signed certificate) or no common protocol.",
                "Look at the certificate this host receives (`openssl s_client -connect HOST:443`); remove TLS interception for this host, or for a private CA set license.ca_file to its certificate (PEM).",
            ),
            StepKind::Http(429) => (
                "The licensing server's rate limit refused the check (HTTP 429): too many checks a minute for this key or from this address. The server is up; this is not maintenance.",
                "Wait as long as the server asks (Retry-After, else a minute), then run the check again; if it recurs, look for something running the check in a loop.",
            ),
            StepKind::Http(_) => (
                "The server answered with an HTTP error.",
                "Check the server URL (it must be the licensing server's base URL); 5xx means the server has a problem: try again later or contact the vendor.",
            ),
            StepKind::Signature => (
                "Something answered, but not with an answer signed by a pinned key: a proxy or captive portal in between, or the vendor rotated keys.",
                "Compare license.public_keys with the server's /api/license/v1/keys, and make sure nothing between this host and the server rewrites responses.",
            ),
        },
        Verdict::IdentityIncomplete { .. } => (
            "The installation's identity is not configured.",
            "Set license.ip and license.directory (license.domain defaults to the System URL's host).",
        ),
        Verdict::BindingMismatch { .. } => (
            "The licence is bound to another domain, address or directory (the message names each binding that moved).",
            "If the installation moved, reissue the licence in the vendor's client area; the next check binds it here.",
        ),
        Verdict::MalformedKey { .. } | Verdict::UnknownKey => (
            "The server does not know this key.",
            "Copy the key again from the vendor's client area into license.key.",
        ),
        Verdict::Suspended | Verdict::Expired { .. } => (
            "The vendor suspended the licence, or it expired.",
            "Renew or reactivate it with the vendor.",
        ),
        Verdict::ClockMovedBack { .. } => (
            "This host's clock is earlier than a time already seen.",
            "Fix the clock (NTP).",
        ),
    };
    CheckResult::problem(ID, Severity::Error, verdict.to_string(), cause, next)
        .with_details(details)
}
