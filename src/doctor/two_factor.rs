//! Two-factor checks: `two_factor.key` (the sealing key file is private) and `two_factor.duo`
//! (credential shape, Duo's health check and the clock difference to Duo; F12).

use super::{CheckResult, Severity};
use crate::app::AppState;

/// The key that seals second-factor secrets must be readable by its owner only.
pub async fn key(state: &AppState) -> CheckResult {
    const ID: &str = super::id::TWO_FACTOR_KEY;
    // An unreadable record is left to database.connection; the key file can still be checked.
    let recorded = crate::app::sealing_key_recorded(&state.db, &state.sealing, state.clock.unix());
    if let Ok(false) = recorded.await {
        return CheckResult::problem(
            ID,
            Severity::Error,
            "This node's sealing key is not the key the database's two-factor secrets were sealed with.",
            format!(
                "The database records the key first used with it, and this node's key ({}) differs: typically a second node that created its own key file instead of sharing the first node's. Passwords (their hashes are keyed with a secret derived from this key), TOTP, backup codes and Duo fail on this node while the others work: people see \"wrong password\" here.",
                state.sealing.file.as_ref().map_or_else(
                    || "from two_factor.secret_key".to_owned(),
                    |f| format!("file {}", f.display())
                )
            ),
            "Give every node the same key: copy the key file from the first node (mode 0600), or set the same two_factor.secret_key (PORTCULLIS__TWO_FACTOR__SECRET_KEY) on all nodes; then restart this node.",
        );
    }
    match &state.sealing.file {
        None => CheckResult::ok(ID, "The sealing key comes from two_factor.secret_key."),
        Some(path) => match crate::sealing::file_mode_problem(path) {
            None => CheckResult::ok(
                ID,
                format!("The sealing key file {} is private.", path.display()),
            ),
            Some(problem) => CheckResult::problem(
                ID,
                Severity::Warning,
                "The key that seals TOTP seeds and the Duo secret is readable by other users.",
                problem,
                format!(
                    "Run `chmod 600 {}` (and make it owned by the user Portcullis runs as).",
                    path.display()
                ),
            ),
        },
    }
}

/// How far Duo's clock may be from ours before ID tokens start failing (their leeway is 60 s).
const SKEW_WARNING_SECONDS: i64 = 30;

/// The Duo application: present, well-formed, reachable, and on a clock close to ours.
pub async fn duo(state: &AppState) -> CheckResult {
    const ID: &str = super::id::TWO_FACTOR_DUO;
    let two_factor = crate::twofactor::TwoFactor::from(state);
    let creds = match two_factor.duo_credentials().await {
        Ok(Some(c)) => c,
        Ok(None) => return CheckResult::ok(ID, "Duo is not configured."),
        Err(e) => {
            return CheckResult::problem(
                ID,
                Severity::Error,
                "The stored Duo settings cannot be read.",
                e.to_string(),
                "Restore the sealing key this installation used, or enter the Duo settings again at /admin/two-factor.",
            );
        }
    };
    // Settings saved by an older version, or edited in the database, are checked again.
    let fields = vec![
        ("client_id".to_owned(), creds.client_id.clone()),
        (
            "client_secret".to_owned(),
            secrecy::ExposeSecret::expose_secret(&creds.client_secret).to_owned(),
        ),
        ("api_hostname".to_owned(), creds.api_hostname.clone()),
    ];
    if let Err(e) = crate::twofactor::duo::validate(&fields) {
        return CheckResult::problem(
            ID,
            Severity::Error,
            "The stored Duo credentials do not have the shape of a Web SDK application's.",
            e.to_string(),
            "Enter the Client ID, Client Secret and API hostname of a \"Web SDK\" application at /admin/two-factor.",
        );
    }
    let host = creds.api_hostname.clone();
    let client = match two_factor.duo_client_for(creds) {
        Ok(c) => c,
        Err(e) => {
            return CheckResult::problem(
                ID,
                Severity::Error,
                "No HTTP client for Duo could be built.",
                e.to_string(),
                "Check the TLS set-up of this host.",
            );
        }
    };
    let now = state.clock.unix();
    match client.health_check(now).await {
        Ok(timestamp) => {
            let skew = timestamp - now;
            if skew.abs() > SKEW_WARNING_SECONDS {
                CheckResult::problem(
                    ID,
                    Severity::Warning,
                    format!("Duo answers, but its clock is {skew} s away from this server's."),
                    "Duo's ID tokens are checked with 60 seconds of leeway; a clock this far off makes sign-ins fail intermittently.",
                    "Synchronise this server's clock (systemd-timesyncd, chrony or ntpd).",
                )
            } else {
                CheckResult::ok(
                    ID,
                    format!("Duo ({host}) answers the health check; clock difference {skew} s."),
                )
            }
        }
        Err(e) => CheckResult::problem(
            ID,
            Severity::Error,
            format!("Duo ({host}) does not answer the health check."),
            e.to_string(),
            format!(
                "{} Sign-ins that need Duo follow two_factor.duo_outage = {} meanwhile.",
                e.user_message(),
                match state.config.two_factor.duo_outage {
                    crate::config::DuoOutage::FailClosed => "fail_closed",
                    crate::config::DuoOutage::OtherFactor => "other_factor",
                }
            ),
        ),
    }
}
