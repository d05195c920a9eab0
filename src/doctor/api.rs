//! `api.credentials`: API credentials an operator should look at. A credential belonging to a
//! disabled admin, or past its expiry, has stopped working and should be revoked so nobody
//! re-enables it by accident; one about to expire will stop an integration soon; one unused for
//! 90 days is likely forgotten (and still a way in); one without an address limit can be used
//! from anywhere the secret leaks to.

use super::{CheckResult, Severity};
use crate::api_credential::ApiCredentials;
use crate::app::AppState;

/// How long unused before a credential is called forgotten.
pub const UNUSED_DAYS: i64 = 90;
/// How soon an expiry is worth a warning.
pub const EXPIRING_DAYS: i64 = 14;

pub async fn check(state: &AppState) -> CheckResult {
    const ID: &str = super::id::API_CREDENTIALS;
    let listed = match ApiCredentials::from(state).list(None).await {
        Ok(listed) => listed,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let now = state.clock.unix();
    let live: Vec<_> = listed.iter().filter(|c| c.revoked_at.is_none()).collect();
    if live.is_empty() {
        return CheckResult::ok(ID, "No live API credentials.");
    }
    let mut findings: Vec<(Severity, String)> = Vec::new();
    for c in &live {
        let name = format!("{} ({}, admin {})", c.identifier, c.label, c.admin_username);
        if c.admin_disabled {
            findings.push((
                Severity::Warning,
                format!("{name}: its admin is disabled, so it stopped working; revoke it"),
            ));
        } else if let Some(at) = c.expires_at.filter(|at| *at <= now) {
            findings.push((
                Severity::Warning,
                format!(
                    "{name}: expired {}; revoke it or make a new one",
                    state.show_time(at)
                ),
            ));
        } else if let Some(at) = c
            .expires_at
            .filter(|at| *at - now <= EXPIRING_DAYS * 86_400)
        {
            findings.push((
                Severity::Warning,
                format!(
                    "{name}: expires {}; make its successor before then",
                    state.show_time(at)
                ),
            ));
        }
        let last = c.last_used_at.unwrap_or(c.created_at);
        if now - last >= UNUSED_DAYS * 86_400 {
            findings.push((
                Severity::Warning,
                format!(
                    "{name}: {} for {UNUSED_DAYS} days or more; revoke it if nothing needs it",
                    if c.last_used_at.is_some() {
                        "unused"
                    } else {
                        "never used"
                    }
                ),
            ));
        }
        if c.allowed.is_empty() {
            findings.push((
                Severity::Info,
                format!("{name}: usable from any address; limit it with --allow to where its system runs"),
            ));
        }
    }
    let Some(worst) = findings.iter().map(|(s, _)| *s).max() else {
        return CheckResult::ok(
            ID,
            format!(
                "{} live API credential(s), each used recently, limited to its addresses and far from expiry.",
                live.len()
            ),
        );
    };
    let warnings = findings
        .iter()
        .filter(|(s, _)| *s == Severity::Warning)
        .count();
    let summary = if warnings > 0 {
        format!(
            "{warnings} finding(s) about the {} live API credential(s).",
            live.len()
        )
    } else {
        format!(
            "{} live API credential(s) can be used from any address.",
            live.len()
        )
    };
    CheckResult::problem(
        ID,
        worst,
        summary,
        "Credentials outlive the reason they were made: a disabled admin's or an expired one should be revoked, an unused one is a way in nobody watches, and one without an address limit works wherever its secret leaks to.",
        "Review them with `portcullis api list-credentials`; revoke with `portcullis api revoke-credential --identifier ID`.",
    )
    .with_details(findings.into_iter().map(|(_, line)| line).collect())
}
