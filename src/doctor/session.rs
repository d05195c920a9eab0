//! `session.timeout`, `session.logouts`, `session.cookie_loss` (F02, F06): why people get
//! signed out.

use super::{CheckResult, Severity, WINDOW};
use crate::app::AppState;
use crate::diagnostics::{Counter, Diagnostics};
use crate::session::{EndReason, Realm};

/// Warns when an idle timeout is shorter than 15 minutes.
pub fn timeout(state: &AppState) -> CheckResult {
    const ID: &str = super::id::SESSION_TIMEOUT;
    let short: Vec<String> = [
        (
            Realm::Client,
            "session.client_idle_minutes",
            state.config.client_session.idle_seconds,
        ),
        (
            Realm::Admin,
            "session.admin_idle_minutes",
            state.config.admin_session.idle_seconds,
        ),
    ]
    .into_iter()
    .filter(|(_, _, s)| *s < 15 * 60)
    .map(|(realm, key, s)| format!("{realm}: {key} = {}", s / 60))
    .collect();
    if short.is_empty() {
        return CheckResult::ok(
            ID,
            format!(
                "Idle timeouts: clients {} min, admins {} min.",
                state.config.client_session.idle_seconds / 60,
                state.config.admin_session.idle_seconds / 60
            ),
        );
    }
    CheckResult::problem(
        ID,
        Severity::Warning,
        format!("Idle timeout under 15 minutes ({}).", short.join(", ")),
        "People who read a page or fill in a long form are signed out before they finish, and report 'frequent logouts'.",
        "Raise the idle timeout to at least 15 minutes (60 is the default).",
    )
    .with_details(short)
}

fn advice(reason: EndReason) -> &'static str {
    match reason {
        EndReason::IdleTimeout => {
            "Raise session.client_idle_minutes / session.admin_idle_minutes if people are signed out while working."
        }
        EndReason::AbsoluteTimeout => {
            "Raise session.*_absolute_hours, or offer 'remember me' to clients."
        }
        EndReason::IpChanged => {
            "Set session.*_ip_binding to `subnet` or `off`, and check the trusted proxies so the client address is stable."
        }
        EndReason::StorageError => {
            "Fix the session store; see storage.session_write and storage.disk."
        }
        EndReason::Revoked | EndReason::PasswordChanged | EndReason::Logout => {
            "No action needed if these were deliberate."
        }
    }
}

/// Reports the share of sessions ended by something other than signing out, by reason.
pub async fn logouts(state: &AppState) -> CheckResult {
    const ID: &str = super::id::SESSION_LOGOUTS;
    let since = state.clock.unix() - WINDOW;
    let rows = match crate::db::session::end_reasons_since(&state.db, since).await {
        Ok(r) => r,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let total: i64 = rows.iter().map(|(_, n)| n).sum();
    let details: Vec<String> = rows.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    let involuntary: Vec<(EndReason, i64)> = rows
        .iter()
        .filter_map(|(r, n)| EndReason::parse(r).map(|r| (r, *n)))
        .filter(|(r, _)| *r != EndReason::Logout)
        .collect();
    let forced: i64 = involuntary.iter().map(|(_, n)| n).sum();
    if let Some((_, n)) = involuntary
        .iter()
        .find(|(r, _)| *r == EndReason::StorageError)
    {
        return CheckResult::problem(
            ID,
            Severity::Error,
            format!("{n} session(s) ended because of storage errors in the last 24 hours."),
            "The session store failed while people were signed in.",
            advice(EndReason::StorageError),
        )
        .with_details(details);
    }
    if total >= 5 && forced * 2 >= total {
        let (top, n) = involuntary[0];
        return CheckResult::problem(
            ID,
            Severity::Warning,
            format!(
                "{forced} of {total} sessions in the last 24 hours ended without the person signing out; the main cause is {} ({n}).",
                top.as_str()
            ),
            "People are being signed out by the server, which they report as 'frequent logouts'.",
            advice(top),
        )
        .with_details(details);
    }
    CheckResult::ok(
        ID,
        format!(
            "{total} session(s) ended in the last 24 hours, {forced} of them not by signing out."
        ),
    )
    .with_details(details)
}

/// Warns when browsers failed to return the session cookie after sign-in.
pub async fn cookie_loss(state: &AppState) -> CheckResult {
    const ID: &str = super::id::SESSION_COOKIE_LOSS;
    let since = state.clock.unix() - WINDOW;
    let rows = match Diagnostics::from(state)
        .totals_since(Counter::CookieLoss, since)
        .await
    {
        Ok(r) => r,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let total: i64 = rows.iter().map(|r| r.count).sum();
    if total == 0 {
        return CheckResult::ok(
            ID,
            "Every browser returned its session cookie after sign-in in the last 24 hours.",
        );
    }
    let https = state.config.system_url.is_https();
    CheckResult::problem(
        ID,
        Severity::Warning,
        format!("{total} sign-in(s) in the last 24 hours were followed by a request without the session cookie."),
        if https {
            "Browsers drop Secure cookies on plain http: the site is probably reachable over http somewhere (a proxy that does not redirect to https), or cookies are blocked."
        } else {
            "The cookie was set for another host than the one browsed, or cookies are blocked in the browser."
        },
        "Redirect all http traffic to the System URL at the proxy, make sure the proxy passes the Host header unchanged, and check that browsers accept cookies for the site.",
    )
    .with_details(rows.iter().map(|r| format!("last at {} on {}", state.show_time(r.last_seen), r.sample)).collect())
}
