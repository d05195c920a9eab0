//! `csrf.failures` (F06): refused forms, by kind.

use super::{CheckResult, Severity, WINDOW};
use crate::app::AppState;
use crate::diagnostics::{Counter, Diagnostics};

/// At or above this many failures a day, the pattern is worth an operator's attention.
const THRESHOLD: i64 = 5;

/// Counts CSRF failures in the last 24 hours and names the dominant kind.
pub async fn failures(state: &AppState) -> CheckResult {
    const ID: &str = super::id::CSRF_FAILURES;
    let since = state.clock.unix() - WINDOW;
    let rows = match Diagnostics::from(state)
        .totals_since(Counter::CsrfFailure, since)
        .await
    {
        Ok(r) => r,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let total: i64 = rows.iter().map(|r| r.count).sum();
    let details: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}: {} (last {} on {})",
                r.label,
                r.count,
                state.show_time(r.last_seen),
                r.sample
            )
        })
        .collect();
    if total < THRESHOLD {
        return CheckResult::ok(
            ID,
            format!("{total} form(s) refused by CSRF protection in the last 24 hours."),
        )
        .with_details(details);
    }
    let top = &rows[0];
    let (cause, next) = match top.label.as_str() {
        "session_expired" => (
            "Forms are sent after the session behind them ended: idle timeouts are short compared to how long people keep pages open.",
            "Raise the idle timeout (see session.timeout and session.logouts).",
        ),
        "stale" => (
            "Sign-in forms are submitted more than a day after the page was loaded.",
            "Nothing to fix on the server; people see 'reload the page'.",
        ),
        "cross_site" => (
            "Another website is submitting forms to Portcullis, or a proxy rewrites the Origin header.",
            "If the Origin is your own alternative domain, make everyone use the System URL; otherwise this protection is working as intended.",
        ),
        _ => (
            "Forms arrive with tokens that do not match the session: pages cached by a proxy or CDN, or sessions replaced between loading and sending a form.",
            "Make sure no proxy or CDN caches Portcullis pages (they are sent with Cache-Control: no-store).",
        ),
    };
    CheckResult::problem(
        ID,
        Severity::Warning,
        format!(
            "{total} form(s) were refused by CSRF protection in the last 24 hours, mostly {} ({}).",
            top.label, top.count
        ),
        cause,
        next,
    )
    .with_details(details)
}
