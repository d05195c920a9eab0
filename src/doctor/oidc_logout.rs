//! `oidc.logout` (F17, "signed out of the portal, still signed in to the applications"):
//! back-channel logout deliveries that failed for good (error), or are failing or waiting
//! longer than they should (warning), per application, with each one's last answer.

use super::table::id;
use super::{CheckResult, Severity};
use crate::app::AppState;
use crate::oidc::backchannel::MAX_ATTEMPTS;
use std::collections::BTreeMap;

/// A delivery still queued after this long, with no attempt made, means no sender runs: `serve`
/// sends every 5 seconds, and a system cron every 5 minutes runs the sender too, so 10 minutes
/// is two cron intervals.
const STALE_SECONDS: i64 = 600;
/// Failed deliveries older than this no longer count (the log keeps them).
const WINDOW_SECONDS: i64 = 7 * 86_400;

/// The check.
pub async fn check(state: &AppState) -> CheckResult {
    let now = state.clock.unix();
    let troubled = match crate::db::oidc_logout::troubled(&state.db, now - STALE_SECONDS, 200).await
    {
        Ok(rows) => rows,
        Err(e) => return CheckResult::storage_failed(id::OIDC_LOGOUT, &e),
    };
    let recent: Vec<_> = troubled
        .into_iter()
        .filter(|d| d.finished_at.unwrap_or(now) >= now - WINDOW_SECONDS)
        .collect();
    if recent.is_empty() {
        return CheckResult::ok(
            id::OIDC_LOGOUT,
            "Back-channel logout: no delivery failing or waiting.",
        );
    }
    // Per application: failed for good, failing (retrying), never tried; the last answer.
    let mut per: BTreeMap<String, (usize, usize, usize, String)> = BTreeMap::new();
    for d in &recent {
        let entry = per.entry(d.application_name.clone()).or_default();
        match (d.state.as_str(), d.attempts) {
            ("failed", _) => entry.0 += 1,
            (_, 0) => entry.2 += 1,
            _ => entry.1 += 1,
        }
        if entry.3.is_empty() {
            entry.3 = match (d.last_status, &d.last_reply) {
                (Some(s), Some(r)) => format!("HTTP {s} {r}"),
                (None, Some(r)) => r.clone(),
                _ => "no attempt yet".to_owned(),
            };
        }
    }
    let details: Vec<String> = per
        .iter()
        .map(|(name, (failed, retrying, waiting, last))| {
            format!(
                "{name}: {failed} failed, {retrying} retrying, {waiting} not yet tried; last answer: {last}"
            )
        })
        .collect();
    let failed: usize = per.values().map(|v| v.0).sum();
    let waiting_only = per.values().all(|v| v.0 == 0 && v.1 == 0);
    if waiting_only {
        return CheckResult::problem(
            id::OIDC_LOGOUT,
            Severity::Warning,
            "Back-channel logout deliveries have waited more than 10 minutes without an attempt.",
            "Deliveries are sent by `portcullis serve` (every 5 seconds) and by `portcullis cron` (task oidc.logout.send); neither has run the sender (F17: the applications keep their sessions).",
            "Make sure `portcullis serve` is running on at least one node, or that the system crontab runs `portcullis cron` every 5 minutes.",
        )
        .with_details(details);
    }
    let (severity, summary) = if failed > 0 {
        (
            Severity::Error,
            format!(
                "{failed} back-channel logout deliver{} failed after {MAX_ATTEMPTS} attempts: people signed out of the portal are still signed in there.",
                if failed == 1 { "y" } else { "ies" }
            ),
        )
    } else {
        (
            Severity::Warning,
            "Back-channel logout deliveries are failing and being retried.".to_owned(),
        )
    };
    CheckResult::problem(
        id::OIDC_LOGOUT,
        severity,
        summary,
        "The application's back-channel logout URI did not answer 200 (F17): it is down, unreachable from this server, or refuses the logout token.",
        "Open the application's page (OIDC in the admin bar) for each delivery's answer; check the back-channel logout URI and that the application accepts Portcullis's logout tokens.",
    )
    .with_details(details)
}
