//! `system_url` (F05): the System URL is sound and people use it.

use super::{CheckResult, Severity, WINDOW};
use crate::app::AppState;
use crate::diagnostics::{Counter, Diagnostics};

fn is_local(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks scheme and counts requests that arrived on other origins in the last 24 hours.
pub async fn check(state: &AppState) -> CheckResult {
    const ID: &str = super::id::SYSTEM_URL;
    let url = &state.config.system_url;
    let since = state.clock.unix() - WINDOW;
    let foreign = match Diagnostics::from(state)
        .totals_since(Counter::NonCanonicalOrigin, since)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    if !foreign.is_empty() {
        let total: i64 = foreign.iter().map(|r| r.count).sum();
        let top = &foreign[0];
        return CheckResult::problem(
            ID,
            Severity::Warning,
            format!(
                "{total} request(s) in the last 24 hours used another address than the System URL {url}; the most common was {} ({} times, last at {}).",
                top.label,
                top.count,
                state.show_time(top.last_seen)
            ),
            "Links, bookmarks or a proxy point at an address other than the System URL. Pages were redirected and forms refused, which users experience as failed sign-ins.",
            format!(
                "Make every link and the proxy use {url}; if {} is the right address, set server.system_url to it.",
                top.label
            ),
        )
        .with_details(
            foreign
                .iter()
                .map(|r| format!("{}: {} request(s), last {} ({})", r.label, r.count, state.show_time(r.last_seen), r.sample))
                .collect(),
        );
    }
    if !url.is_https() && !is_local(url.host()) {
        return CheckResult::problem(
            ID,
            Severity::Warning,
            format!("The System URL {url} is not https."),
            "Sign-in cookies and passwords travel unencrypted, and browsers will not mark cookies Secure.",
            "Serve Portcullis over https (usually at the proxy) and set server.system_url to the https:// address.",
        );
    }
    CheckResult::ok(
        ID,
        format!("System URL {url}; every request in the last 24 hours used it."),
    )
}
