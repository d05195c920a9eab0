//! `oidc.clients` (issue 19, F14/F15): OpenID Connect requests refused in the last 24 hours,
//! per application and reason, each with the next step, so "the wiki's sign-in is broken" is
//! answered by "wrong_secret ×12 since the secret was reset".

use super::{CheckResult, Severity, WINDOW};
use crate::app::AppState;
use crate::oidc::application::{
    Applications, POST_LOGOUT_URI_MISMATCH, REDIRECT_URI_MISMATCH, RefusalCount,
};

/// What to do about a reason (the stable codes `oidc::application` records).
fn next_step(reason: &str) -> &'static str {
    match reason {
        "wrong_secret" => {
            "put the current secret in the application's settings, or reset it on its page and do so"
        }
        "auth_method_mismatch" => {
            "make the application send its secret the way its page says (Basic header or form body), or change the method there"
        }
        "public_client_sent_secret" | "confidential_client_sent_none" => {
            "make the application's kind on its page match what it is (public: no secret; confidential: a secret)"
        }
        "unknown_client" => {
            "check the client id in the application's settings against the applications page"
        }
        REDIRECT_URI_MISMATCH | POST_LOGOUT_URI_MISMATCH => {
            "compare the URI sent with the closest registered one on the application's page, and register it exactly or fix the application"
        }
        _ => "see the refusals on the application's page",
    }
}

fn line(c: &RefusalCount) -> String {
    let who = c.application.as_ref().map_or_else(
        || "unknown client ids".to_owned(),
        |(id, name)| format!("{name} (/admin/oidc/applications/{id})"),
    );
    format!("{who}: {} ×{}; {}", c.reason, c.count, next_step(&c.reason))
}

/// The check.
pub async fn clients(state: &AppState) -> CheckResult {
    const ID: &str = super::id::OIDC_CLIENTS;
    let since = state.clock.unix() - WINDOW;
    let counts = match Applications::from(state).refusal_counts_since(since).await {
        Ok(c) => c,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    if counts.is_empty() {
        return CheckResult::ok(
            ID,
            "No OpenID Connect request was refused in the last 24 hours.",
        );
    }
    let total: i64 = counts.iter().map(|c| c.count).sum();
    let mut applications: Vec<Option<i64>> = counts
        .iter()
        .map(|c| c.application.as_ref().map(|a| a.0))
        .collect();
    applications.dedup();
    CheckResult::problem(
        ID,
        Severity::Warning,
        format!(
            "{total} OpenID Connect request(s) refused in the last 24 hours, for {} application(s) or unknown client ids.",
            applications.len()
        ),
        "Applications that send a wrong secret, authenticate another way than registered, or use an unregistered redirect URI cannot sign people in; they are only told invalid_client or invalid_request.",
        "Follow the step given for each application and reason below; each application's page lists its refusals.",
    )
    .with_details(counts.iter().map(line).collect())
}
