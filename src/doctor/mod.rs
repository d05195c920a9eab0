//! The doctor: checks with stable ids that name a cause and a next step.
//!
//! `portcullis doctor`, the admin System Health page (through the [`Doctor`] service) and the
//! daily licence re-check all run checks from the one table, [`CHECKS`] (`table.rs`: id, area,
//! run, fix). Checks read only the configuration and the database (never in-memory state of a
//! server), so the doctor run as a separate process sees what the server saw. Each check lives
//! in the file of its area and returns a [`CheckResult`]; a check that cannot run reports an
//! error result rather than aborting the others. [`json_report`] is the one JSON shape, printed
//! by the CLI and served by System Health; [`Area`] groups checks for both. The doctor knows no
//! HTTP and nothing of `web/`: the counters it reads come from [`crate::diagnostics`].

mod accounts;
mod api;
mod area;
mod config_sources;
mod csrf;
mod forward_auth;
mod license;
mod mail;
mod oidc;
mod oidc_keys;
mod oidc_logout;
mod proxy;
mod scheduler;
mod session;
mod session_changes;
mod storage;
mod system_url;
mod table;
mod time;
mod two_factor;

pub use area::{Area, AreaGroup, group};
pub use scheduler::{DAILY_ERROR_SECONDS, FIX_TIME_BUDGET, QUIET_WARNING_SECONDS, fix_session_gc};
pub use table::{CHECKS, Check, Fix, id};

use crate::app::AppState;
use crate::domain::Actor;
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

/// Every check's id, in the order [`run_all`] runs them (read from [`CHECKS`]), so a fix can
/// tell an unknown id from one without a fix without running every check.
pub const CHECK_IDS: [&str; CHECKS.len()] = {
    let mut ids = [""; CHECKS.len()];
    let mut i = 0;
    while i < ids.len() {
        ids[i] = CHECKS[i].id;
        i += 1;
    }
    ids
};

/// Runs every check, in the table's order.
pub async fn run_all(state: &AppState) -> Vec<CheckResult> {
    let mut results = Vec::with_capacity(CHECKS.len());
    for check in &CHECKS {
        results.push(check.run(state).await);
    }
    results
}

/// The check a database that cannot be opened at all gets (`portcullis doctor` before any other
/// check can run): the cause named, and what to do.
pub fn cannot_open_database(error: &anyhow::Error) -> CheckResult {
    let (cause, next) = crate::db::outage::explain(error);
    CheckResult::problem(
        id::DATABASE_CONNECTION,
        Severity::Error,
        "The doctor cannot open the database.",
        cause,
        next,
    )
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

/// Applies the one-step fix of check `id`, on behalf of `actor` (audit-logged, with `from` as
/// the address; empty takes the request's). Only that check's fix runs: no other check (some
/// reach other servers) is run first.
///
/// # Errors
/// Unknown ids, checks without a safe automatic fix, a fix whose work is running elsewhere, and
/// failures applying it.
pub async fn fix(
    state: &AppState,
    id: &str,
    actor: &Actor,
    from: &str,
    scope: FixScope,
) -> Result<Fixed, FixError> {
    let Some(check) = table::find(id) else {
        return Err(FixError::Unknown(id.to_owned()));
    };
    let Some(fix) = check.fix else {
        return Err(FixError::NotFixable(id.to_owned()));
    };
    fix.apply(state, actor, from, scope).await
}

impl CheckResult {
    /// What this check's fix button says ([`Fix::label`]).
    pub fn fix_label(&self) -> &'static str {
        table::find(self.id)
            .and_then(|c| c.fix)
            .map_or("Apply the fix", |f| f.label)
    }
}

/// The doctor as a service, for System Health: every check and every fix reads the whole
/// installation (configuration, database, settings, mailer, keys), so it holds the state.
#[derive(Clone)]
pub struct Doctor {
    state: AppState,
}

impl From<&AppState> for Doctor {
    fn from(state: &AppState) -> Self {
        Self {
            state: state.clone(),
        }
    }
}

impl Doctor {
    /// Runs every check ([`run_all`]).
    pub async fn run_all(&self) -> Vec<CheckResult> {
        run_all(&self.state).await
    }

    /// Applies one check's fix ([`fix`]).
    ///
    /// # Errors
    /// As [`fix`].
    pub async fn fix(
        &self,
        id: &str,
        actor: &Actor,
        from: &str,
        scope: FixScope,
    ) -> Result<Fixed, FixError> {
        fix(&self.state, id, actor, from, scope).await
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
