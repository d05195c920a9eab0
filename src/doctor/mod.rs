//! The doctor: checks with stable ids that name a cause and a next step.
//!
//! `portcullis doctor`, the admin System Health page and (later) scheduled runs all call
//! [`run_all`]. Checks read only the configuration and the database (never in-memory state of a
//! server), so the doctor run as a separate process sees what the server saw. Each check lives
//! in the file of its area and returns a [`CheckResult`]; a check that cannot run reports an
//! error result rather than aborting the others. [`json_report`] is the one JSON shape, printed
//! by the CLI and served by System Health; [`Area`] groups checks for both.

mod accounts;
mod area;
mod config_sources;
mod csrf;
mod license;
mod mail;
mod proxy;
mod scheduler;
mod session;
mod storage;
mod system_url;
mod time;
mod two_factor;

pub use area::{Area, AreaGroup, group};
pub use scheduler::{DAILY_ERROR_SECONDS, FIX_TIME_BUDGET, QUIET_WARNING_SECONDS, fix_session_gc};

use crate::app::AppState;
use serde::Serialize;

/// How bad a finding is. Ordered, so the worst of several is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    /// Worth knowing, needs nothing done (exit code 0).
    Info,
    Warning,
    Error,
}

impl Severity {
    /// Lowercase name, as in the JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// One check's finding.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: String,
    pub cause: String,
    pub next_step: String,
    pub fixable: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl CheckResult {
    /// A passing check.
    pub fn ok(id: &'static str, summary: impl Into<String>) -> Self {
        Self {
            id,
            severity: Severity::Ok,
            summary: summary.into(),
            cause: String::new(),
            next_step: String::new(),
            fixable: false,
            details: Vec::new(),
        }
    }

    /// A finding with a cause and a next step.
    pub fn problem(
        id: &'static str,
        severity: Severity,
        summary: impl Into<String>,
        cause: impl Into<String>,
        next_step: impl Into<String>,
    ) -> Self {
        Self {
            id,
            severity,
            summary: summary.into(),
            cause: cause.into(),
            next_step: next_step.into(),
            fixable: false,
            details: Vec::new(),
        }
    }

    /// Adds detail lines.
    #[must_use]
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// A check that could not run because the database failed.
    pub fn storage_failed(id: &'static str, error: &sqlx::Error) -> Self {
        Self::problem(
            id,
            Severity::Error,
            "This check could not read the database.",
            format!("Database error: {error}"),
            "Run `portcullis doctor` again after fixing storage; see storage.session_write.",
        )
    }
}

/// The `license.connection` check alone (the scheduler re-checks the licence daily with it).
pub async fn license_connection(state: &AppState) -> CheckResult {
    license::connection(state).await
}

/// The window most counters are judged over.
pub const WINDOW: i64 = 24 * 3600;

/// Every check's id, in the order [`run_all`] runs them (a test keeps the two in step), so a
/// fix can tell an unknown id from one without a fix without running every check.
pub const CHECK_IDS: [&str; 22] = [
    "config",
    "system_url",
    "proxy.cloudflare",
    "proxy.sanity",
    "storage.disk",
    "database.connection",
    "storage.session_write",
    "database.migrations",
    "session.timeout",
    "session.logouts",
    "session.cookie_loss",
    "csrf.failures",
    "mail.transport",
    "mail.queue",
    "admin.roles",
    "client.owners",
    "two_factor.key",
    "two_factor.duo",
    "time.zone",
    "session.gc",
    "cron.heartbeat",
    "license.connection",
];

/// Runs every check, in a stable order.
pub async fn run_all(state: &AppState) -> Vec<CheckResult> {
    vec![
        config_sources::check(state),
        system_url::check(state).await,
        proxy::cloudflare(state).await,
        proxy::sanity(state).await,
        storage::disk(state),
        storage::connection(state).await,
        storage::session_write(state).await,
        storage::migrations(state).await,
        session::timeout(state),
        session::logouts(state).await,
        session::cookie_loss(state).await,
        csrf::failures(state).await,
        mail::transport(state).await,
        mail::queue(state).await,
        accounts::roles(state).await,
        accounts::owners(state).await,
        two_factor::key(state).await,
        two_factor::duo(state).await,
        time::zone(state).await,
        scheduler::session_gc(state).await,
        scheduler::heartbeat(state).await,
        license::connection(state).await,
    ]
}

/// The worst severity among results.
pub fn overall(results: &[CheckResult]) -> Severity {
    results
        .iter()
        .map(|r| r.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// The doctor's exit code: 0 all ok, 1 warnings only, 2 any error.
pub fn exit_code(results: &[CheckResult]) -> u8 {
    match overall(results) {
        Severity::Ok | Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

/// Why `--fix` could not run.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("there is no check called {0:?}; run `portcullis doctor` to see the ids")]
    Unknown(String),
    #[error("the check {0:?} has no automatic fix; follow its next step instead")]
    NotFixable(String),
    #[error("the fix for {0:?} failed: {1}")]
    Failed(String, String),
    /// The fix would run alongside the same work in another process; nothing was done.
    #[error("the fix for {0:?} cannot run now: {1}")]
    Busy(String, String),
}

/// What a fix did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// For people: what was done (the CLI prints it).
    pub message: String,
    /// `(done, left)` when a bounded fix stopped at its time budget with work left.
    pub left: Option<(u64, u64)>,
}

/// How much a fix may do in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixScope {
    /// One pass that ends within [`FIX_TIME_BUDGET`] (System Health: inside an HTTP request).
    Bounded,
    /// Bounded passes until the work is done (the CLI).
    UntilDone,
}

/// Applies the one-step fix of check `id`, on behalf of `actor` (audit-logged). Only that
/// check's fix runs: no other check (some reach other servers) is run first.
///
/// # Errors
/// Unknown ids, checks without a safe automatic fix, a fix whose work is running elsewhere, and
/// failures applying it.
pub async fn fix(
    state: &AppState,
    id: &str,
    actor: &str,
    from: &str,
    scope: FixScope,
) -> Result<Fixed, FixError> {
    if !CHECK_IDS.contains(&id) {
        return Err(FixError::Unknown(id.to_owned()));
    }
    match id {
        "proxy.cloudflare" => crate::proxy::trust_cloudflare(state, actor, from)
            .await
            .map(|message| Fixed {
                message,
                left: None,
            })
            .map_err(|e| FixError::Failed(id.to_owned(), e.to_string())),
        "session.gc" => {
            scheduler::fix_session_gc(
                state,
                actor,
                from,
                FIX_TIME_BUDGET,
                scope == FixScope::UntilDone,
            )
            .await
        }
        _ => Err(FixError::NotFixable(id.to_owned())),
    }
}

impl CheckResult {
    /// What this check's fix button says: what the fix does, in a few words, because "Apply
    /// settings now" on every check leaves the admin guessing what will change.
    pub fn fix_label(&self) -> &'static str {
        match self.id {
            "proxy.cloudflare" => "Trust Cloudflare's ranges now",
            "session.gc" => "Remove expired sessions now",
            _ => "Apply the fix",
        }
    }
}

/// One check in the JSON report: every field of [`CheckResult`] unchanged, plus its area.
#[derive(Serialize)]
struct Reported<'a> {
    #[serde(flatten)]
    check: &'a CheckResult,
    area: Area,
}

/// The JSON report, `{"checks": [...]}`: `portcullis doctor --json` prints it and System Health
/// serves it to JSON callers, so scripts get the same answer from either.
pub fn json_report(results: &[CheckResult]) -> serde_json::Value {
    let checks: Vec<Reported<'_>> = results
        .iter()
        .map(|check| Reported {
            check,
            area: check.area(),
        })
        .collect();
    serde_json::json!({ "checks": checks })
}
