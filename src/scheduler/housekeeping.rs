//! The cleanup tasks: expired sessions, the session change log, links, pending sign-ins, WebAuthn ceremonies, rate-limit
//! entries, bans and old failed sign-ins (F09), audit events past `audit.retention_days`, old
//! scheduler run records and licence checks older than 90 days.
//!
//! Rows are removed in batches of [`BATCH`] through an index, pausing [`PAUSE`] between batches,
//! so a backlog of a million rows holds the database's write lock for tens of milliseconds at a
//! time on a 2-core machine and leaves the CPU to requests in between:
//! sign-ins keep flowing while it is cleared, with request p99 about 2.5 times its usual value
//! (`benches/cleanup.rs`, docs/performance.md). A run stops after [`TIME_BUDGET`] and leaves the
//! rest to the next period, so it always ends inside its lease.

use crate::app::AppState;
use crate::db::housekeeping as hk;
use crate::domain::Realm;
use std::time::{Duration, Instant};

/// Rows per statement. 2,000 took about 100 ms per statement on a 2-core machine; with requests
/// this cheap, 200 with a 30 ms rest kept p99 lowest of the sizes measured (docs/performance.md).
pub const BATCH: i64 = 200;
/// Rest between batches. Yielding alone let one batch follow another at once, so the delete kept
/// a core busy throughout and request p99 tripled on 2 cores; resting after every batch leaves
/// the CPU to requests part of the time, at the cost of a slower cleanup.
pub const PAUSE: Duration = Duration::from_millis(30);
/// The longest one cleanup run works before handing over to the next period.
pub const TIME_BUDGET: Duration = Duration::from_secs(240);
/// Ended and expired rows are kept this long after they stop counting, so the "why was I signed
/// out" message (F02) and the doctor's 24-hour counters still find them.
pub const KEEP_SECONDS: i64 = 2 * 86_400;

/// How long a finished back-channel logout delivery is kept: longer than the longest refresh
/// token lives (`oidc::draft::REFRESH_TOKEN_SECONDS`, 90 days), plus the tokens' day of grace.
pub const LOGOUT_DELIVERIES_KEPT_SECONDS: i64 = 100 * 86_400;

/// What a cleanup run removed, and whether rows were left for the next run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub rows: u64,
    pub unfinished: bool,
}

impl Removed {
    /// A line for the run log.
    pub fn describe(&self, what: &str) -> String {
        if self.unfinished {
            format!(
                "removed {} {what}; more remain (time budget reached), continuing next run",
                self.rows
            )
        } else {
            format!("removed {} {what}", self.rows)
        }
    }
}

/// Calls `step` (one bounded delete) until it removes less than a batch or `budget` (counted
/// from `started`) is spent.
async fn drain<F, Fut>(
    started: Instant,
    budget: Duration,
    removed: &mut Removed,
    mut step: F,
) -> Result<(), sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, sqlx::Error>>,
{
    loop {
        if started.elapsed() > budget {
            removed.unfinished = true;
            return Ok(());
        }
        let n = step().await?;
        removed.rows += n;
        if n < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            return Ok(());
        }
        // Give waiting requests the write lock and the CPU between batches.
        tokio::time::sleep(PAUSE).await;
    }
}

/// The idle limits per kind of session: `(realm as stored, remember, idle seconds)`.
pub fn idle_limits(state: &AppState) -> [(&'static str, i64, i64); 4] {
    let c = &state.config.client_session;
    let a = &state.config.admin_session;
    let (client, admin) = (Realm::Client.as_str(), Realm::Admin.as_str());
    [
        (client, 0, c.idle_seconds),
        (client, 1, c.remember_seconds.unwrap_or(c.idle_seconds)),
        (admin, 0, a.idle_seconds),
        (admin, 1, a.remember_seconds.unwrap_or(a.idle_seconds)),
    ]
}

/// Removes sessions that ended, ran out their lifetime, or idled out, more than
/// [`KEEP_SECONDS`] ago, for at most [`TIME_BUDGET`].
///
/// # Errors
/// A database error; what was removed before it stays removed.
pub async fn sessions(state: &AppState) -> Result<Removed, sqlx::Error> {
    sessions_within(state, TIME_BUDGET).await
}

/// [`sessions`] for at most `budget` (the doctor's fix runs inside an HTTP request).
///
/// # Errors
/// A database error; what was removed before it stays removed.
pub async fn sessions_within(state: &AppState, budget: Duration) -> Result<Removed, sqlx::Error> {
    let started = Instant::now();
    let now = state.clock.unix();
    let cutoff = now - KEEP_SECONDS;
    let db = &state.db;
    let mut removed = Removed::default();
    drain(started, budget, &mut removed, || {
        hk::ended_sessions(db, cutoff, BATCH)
    })
    .await?;
    drain(started, budget, &mut removed, || {
        hk::lapsed_sessions(db, cutoff, BATCH)
    })
    .await?;
    for (realm, remember, idle) in idle_limits(state) {
        let idle_cutoff = cutoff - idle;
        drain(started, budget, &mut removed, || {
            hk::idle_sessions(db, realm, remember, idle_cutoff, BATCH)
        })
        .await?;
    }
    Ok(removed)
}

/// One statement of [`links`]' cleanup of one-time links: removes at most [`BATCH`] of the links
/// that expired before `cutoff` and says how many went. Each statement is bounded, so a large
/// backlog never holds the write lock long; [`links`] repeats it within its time budget.
///
/// # Errors
/// Storage errors.
pub async fn expired_links_batch(state: &AppState, cutoff: i64) -> Result<u64, sqlx::Error> {
    hk::expired_links(&state.db, cutoff, BATCH).await
}

/// How long an OpenID Connect refusal is kept (30 days).
pub const OIDC_REFUSALS_KEPT_SECONDS: i64 = 30 * 86_400;

/// Removes expired one-time links, pending sign-ins, WebAuthn ceremonies, rate-limit entries and
/// OpenID Connect refusals older than [`OIDC_REFUSALS_KEPT_SECONDS`].
///
/// # Errors
/// A database error; what was removed before it stays removed.
pub async fn links(state: &AppState) -> Result<Removed, sqlx::Error> {
    let started = Instant::now();
    let now = state.clock.unix();
    let db = &state.db;
    let mut removed = Removed::default();
    // Expired links stay a while so "this link expired at 14:05" (F10) can still be said.
    let links_cutoff = now - KEEP_SECONDS;
    drain(started, TIME_BUDGET, &mut removed, || {
        expired_links_batch(state, links_cutoff)
    })
    .await?;
    let day = now - 86_400;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::expired_pending_signins(db, day, BATCH)
    })
    .await?;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::expired_ceremonies(db, now, BATCH)
    })
    .await?;
    // Rate limits look back at most an hour.
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::old_request_log(db, day, BATCH)
    })
    .await?;
    // An application's page lists its recent refusals; a month is plenty to find a cause.
    let month = now - OIDC_REFUSALS_KEPT_SECONDS;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::old_oidc_refusals(db, month, BATCH)
    })
    .await?;
    // OpenID codes, parked requests and tokens past their expiry (a day late: a code or token
    // that comes back a little after it expired is still told apart from one never issued).
    let expired = now - 24 * 3600;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::expired_oidc_codes(db, expired, BATCH)
    })
    .await?;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::expired_oidc_parked(db, expired, BATCH)
    })
    .await?;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::expired_oidc_tokens(db, expired, BATCH)
    })
    .await?;
    // Every node reads the session change log within a second; an hour covers any clock skew
    // between this node and the database, whose clock stamped the rows.
    let changes = now - 3600;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::old_session_changes(db, changes, BATCH)
    })
    .await?;
    // A finished delivery is kept past the longest refresh token's life (90 days): its row is
    // what stops a session's logout being queued twice, and the application's page shows it.
    let deliveries = now - LOGOUT_DELIVERIES_KEPT_SECONDS;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::finished_logout_deliveries(db, deliveries, BATCH)
    })
    .await?;
    Ok(removed)
}

/// Removes bans that ran out and failed sign-ins older than every counting window.
///
/// # Errors
/// A database error; what was removed before it stays removed.
pub async fn bans(state: &AppState) -> Result<Removed, sqlx::Error> {
    let started = Instant::now();
    let now = state.clock.unix();
    let db = &state.db;
    let settings = crate::settings::Settings::from(state).current().await;
    let window = settings
        .values
        .admin_bans
        .window_seconds
        .max(settings.values.client_bans.window_seconds);
    let mut removed = Removed::default();
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::expired_bans(db, now, BATCH)
    })
    .await?;
    // A day beyond the longest window: the doctor and the bans page count the last 24 hours.
    let failures_cutoff = now - window.max(86_400) - 86_400;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::old_login_failures(db, failures_cutoff, BATCH)
    })
    .await?;
    // Per-account counts start again after a day anyway (crate::throttle).
    let forget = now - crate::throttle::FORGET_AFTER_SECONDS;
    drain(started, TIME_BUDGET, &mut removed, || {
        crate::db::throttle::purge(db, forget, BATCH)
    })
    .await?;
    Ok(removed)
}

/// Removes audit events older than `audit.retention_days` (nothing when it is 0).
///
/// # Errors
/// A database error; what was removed before it stays removed.
pub async fn audit(state: &AppState) -> Result<Removed, sqlx::Error> {
    let mut removed = Removed::default();
    let Some(days) = state.config.audit_retention_days else {
        return Ok(removed);
    };
    let before = state.clock.unix() - i64::from(days) * 86_400;
    drain(Instant::now(), TIME_BUDGET, &mut removed, || {
        crate::db::audit::purge_before(&state.db, before, BATCH)
    })
    .await?;
    Ok(removed)
}

/// How long licence checks (each licence's access log) are kept. Long enough to answer "when
/// did this installation last check, and from where" for a quarter; a daily checker writes
/// one row a day at most, so a licence's log stays short.
pub const LICENSE_CHECK_DAYS: i64 = 90;

/// Removes scheduler run records, and the views of time of processes that have recorded none,
/// older than [`super::HISTORY_DAYS`] (a web server records its view hourly, so a live one is
/// never that old), and licence checks older than [`LICENSE_CHECK_DAYS`].
///
/// # Errors
/// A database error; what was removed before it stays removed.
pub async fn run_history(state: &AppState) -> Result<Removed, sqlx::Error> {
    let started = Instant::now();
    let now = state.clock.unix();
    let before = now - super::HISTORY_DAYS * 86_400;
    let mut removed = Removed::default();
    drain(started, TIME_BUDGET, &mut removed, || {
        crate::db::scheduler::purge_runs_before(&state.db, before, BATCH)
    })
    .await?;
    removed.rows += crate::db::scheduler::purge_views_before(&state.db, before).await?;
    let checks_before = now - LICENSE_CHECK_DAYS * 86_400;
    drain(started, TIME_BUDGET, &mut removed, || {
        hk::old_license_checks(&state.db, checks_before, BATCH)
    })
    .await?;
    Ok(removed)
}

/// How many sessions [`sessions`] would remove now (what a bounded pass left behind).
///
/// # Errors
/// A database error.
pub async fn sessions_left(state: &AppState) -> Result<i64, sqlx::Error> {
    let cutoff = state.clock.unix() - KEEP_SECONDS;
    let idle: Vec<(&str, i64, i64, i64)> = idle_limits(state)
        .into_iter()
        .map(|(realm, remember, idle)| (realm, remember, cutoff - idle, idle))
        .collect();
    Ok(hk::stale_sessions(&state.db, cutoff, &idle).await?.0)
}

/// Removes authenticator seeds whose setup began more than
/// [`crate::twofactor::TOTP_SETUP_SECONDS`] ago and was never confirmed: they can no longer be
/// confirmed, and one planted by someone who knew the password should not stay stored. Part
/// of the links cleanup run.
///
/// # Errors
/// A database error; what was removed before it stays removed.
pub async fn expired_totp_setups(state: &AppState) -> Result<Removed, sqlx::Error> {
    let cutoff = state.clock.unix() - crate::twofactor::TOTP_SETUP_SECONDS;
    let mut removed = Removed::default();
    drain(Instant::now(), TIME_BUDGET, &mut removed, || {
        hk::expired_totp_setups(&state.db, cutoff, BATCH)
    })
    .await?;
    Ok(removed)
}
