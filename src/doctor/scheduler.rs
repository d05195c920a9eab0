//! `session.gc` (F09: expired sessions left behind) and `cron.heartbeat` (F09, F13: the
//! scheduled tasks stopped running).

use super::{CheckResult, FixError, Fixed, Severity};
use crate::app::AppState;
use crate::db;
use crate::domain::{Action, Actor};
use crate::scheduler::housekeeping::{self, KEEP_SECONDS};
use crate::scheduler::{LEASE_SECONDS, Process, Schedule, Task};
use std::time::Duration;

/// No run for this long is a warning.
pub const QUIET_WARNING_SECONDS: i64 = 120 * 60;
/// Daily tasks not completed for this long is an error: 24 hours, plus the hour a day gains when
/// clocks go back (a daily task at 03:00 local then runs 25 hours after the last), plus ten
/// minutes for a five-minute cron to come round.
pub const DAILY_ERROR_SECONDS: i64 = 25 * 3600 + 600;

/// Expired sessions still stored longer than twice the cleanup interval past their keeping time.
pub async fn session_gc(state: &AppState) -> CheckResult {
    const ID: &str = super::id::SESSION_GC;
    let now = state.clock.unix();
    let interval = state.config.cleanup_interval_seconds;
    let cutoff = now - KEEP_SECONDS - 2 * interval;
    let idle: Vec<(&str, i64, i64, i64)> = housekeeping::idle_limits(state)
        .into_iter()
        .map(|(realm, remember, idle)| (realm, remember, cutoff - idle, idle))
        .collect();
    let (count, oldest) = match db::housekeeping::stale_sessions(&state.db, cutoff, &idle).await {
        Ok(found) => found,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let cleanup = match db::scheduler::tasks(&state.db).await {
        Ok(tasks) => tasks
            .into_iter()
            .find(|t| t.task == Task::SessionsCleanup.name()),
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let last_ran = cleanup
        .as_ref()
        .map(|t| t.last_finished_at)
        .filter(|t| *t > 0);
    let ran_text = last_ran.map_or_else(
        || "Session cleanup has never run.".to_owned(),
        |at| {
            let ok = cleanup.as_ref().is_some_and(|t| t.last_ok);
            format!(
                "Session cleanup last ran at {} ({}).",
                state.show_time(at),
                if ok { "succeeded" } else { "failed" }
            )
        },
    );
    let every = format!(
        "every {} minute(s) (scheduler.cleanup_interval_minutes)",
        interval / 60
    );
    if count == 0 {
        return CheckResult::ok(
            ID,
            format!(
                "No expired sessions are overdue for removal; cleanup runs {every}. {ran_text}"
            ),
        );
    }
    let oldest_text = oldest.map_or_else(String::new, |at| {
        format!(" The oldest ended at {}.", state.show_time(at))
    });
    let summary = format!(
        "{count} expired session(s) are still stored, past the {} days they are kept plus twice the cleanup interval.{oldest_text} {ran_text}",
        KEEP_SECONDS / 86_400
    );
    let running = last_ran.is_some_and(|at| now - at <= 2 * interval)
        && cleanup.as_ref().is_some_and(|t| t.last_ok);
    let mut result = if running {
        CheckResult::problem(
            ID,
            Severity::Warning,
            summary,
            "Cleanup runs but has not caught up: each run removes rows in batches for at most four minutes, so a very large backlog takes several runs.",
            "Nothing is required; to clear it now use the fix (System Health button or `portcullis doctor --fix session.gc`).",
        )
    } else {
        CheckResult::problem(
            ID,
            Severity::Error,
            summary,
            format!(
                "The cleanup task is not running {every}: `serve` runs it unless scheduler.enabled = false, and a system cron runs it with `portcullis cron`; neither has done so, or its runs fail (see /admin/scheduler)."
            ),
            "Remove them now with the fix (System Health button or `portcullis doctor --fix session.gc`), then keep the scheduler running: set scheduler.enabled = true, or add `*/5 * * * * portcullis --config /etc/portcullis.toml cron` to the system crontab. See cron.heartbeat.",
        )
    };
    result.fixable = true;
    result
}

/// How long one pass of the session cleanup fix may run: System Health runs it inside the
/// HTTP request, and nginx gives up on an upstream after 30 s (`proxy_read_timeout` in
/// docs/deployment/nginx.conf), so a pass ends well before that.
pub const FIX_TIME_BUDGET: Duration = Duration::from_secs(20);

/// Runs the session cleanup now under the `sessions.cleanup` task's lease, so it never runs
/// alongside the scheduler's own cleanup, for at most `budget` per pass; `until_done` repeats
/// passes until nothing is left (the CLI, which no proxy times out). Audit-logged, with the
/// actor stored as given ([`remove_expired_sessions`], which the doctor's table calls, takes a
/// typed one); for the tests.
///
/// # Errors
/// The lease is held by another process ([`FixError::Busy`]), or a database error.
pub async fn fix_session_gc(
    state: &AppState,
    actor: &str,
    from: &str,
    budget: Duration,
    until_done: bool,
) -> Result<Fixed, FixError> {
    remove_expired_sessions(
        state,
        &Actor::Named(actor.to_owned()),
        from,
        budget,
        until_done,
    )
    .await
}

/// The `session.gc` fix ([`fix_session_gc`]) on behalf of `actor`; `from` is the address to
/// record (empty: the request's).
///
/// # Errors
/// The lease is held by another process ([`FixError::Busy`]), or a database error.
pub async fn remove_expired_sessions(
    state: &AppState,
    actor: &Actor,
    from: &str,
    budget: Duration,
    until_done: bool,
) -> Result<Fixed, FixError> {
    const ID: &str = super::id::SESSION_GC;
    let failed = |e: sqlx::Error| FixError::Failed(ID.to_owned(), e.to_string());
    let task = Task::SessionsCleanup.name();
    let holder = format!(
        "{} (doctor --fix session.gc by {actor})",
        crate::scheduler::node_id()
    );
    // The lease covers one pass and a minute more, not the scheduler's ten minutes: when a web
    // request is dropped mid-pass (the proxy gave up), nothing releases it, and the scheduler
    // should not wait long for a lease nobody uses.
    let hold = i64::try_from(budget.as_secs()).unwrap_or(LEASE_SECONDS) + 60;
    let lease = |now: i64| {
        db::scheduler::take_lease(&state.db, task, &holder, now, now + hold.min(LEASE_SECONDS))
    };
    if let Err(held) = lease(state.clock.unix()).await.map_err(failed)? {
        return Err(FixError::Busy(
            ID.to_owned(),
            format!(
                "the session cleanup is running right now in {} (its lease lasts until {}); it removes the expired sessions itself. See /admin/scheduler, and try again when it has finished.",
                held.holder,
                state.show_time(held.until)
            ),
        ));
    }
    let mut total = 0;
    let passes = async {
        loop {
            let pass = housekeeping::sessions_within(state, budget).await?;
            total += pass.rows;
            // A pass that removed nothing within its budget will do no better the next time.
            if !pass.unfinished || !until_done || pass.rows == 0 {
                return Ok::<bool, sqlx::Error>(pass.unfinished);
            }
            // Each pass stays far inside the lease; extending it keeps the scheduler out.
            if lease(state.clock.unix()).await?.is_err() {
                return Ok(true);
            }
        }
    }
    .await;
    // The lease goes back whatever happened, so the scheduler is not kept waiting.
    let released = db::scheduler::release_lease(&state.db, task, &holder).await;
    let unfinished = passes.map_err(failed)?;
    released.map_err(failed)?;
    let left = if unfinished {
        housekeeping::sessions_left(state).await.map_err(failed)?
    } else {
        0
    };
    let (message, audited) = if unfinished {
        (
            format!(
                "Removed {total} expired session(s) in {} s; {left} remain: run the fix again or let the scheduler finish.",
                budget.as_secs()
            ),
            format!("session.gc: removed {total} expired session(s), {left} remain"),
        )
    } else {
        (
            format!("Removed {total} expired session(s)."),
            format!("session.gc: removed {total} expired session(s)"),
        )
    };
    crate::audit::record_from(
        &state.db,
        state.clock.unix(),
        actor,
        Action::DoctorFix,
        ID,
        &audited,
        crate::audit::Origin {
            ip: from,
            user_agent: "",
        },
    )
    .await
    .map_err(failed)?;
    Ok(Fixed {
        message,
        left: unfinished.then(|| (total, u64::try_from(left).unwrap_or(0))),
    })
}

/// Whether scheduled tasks run: any run in the last two hours, and every daily task completed
/// within a day.
pub async fn heartbeat(state: &AppState) -> CheckResult {
    const ID: &str = super::id::CRON_HEARTBEAT;
    let now = state.clock.unix();
    let runs = match db::scheduler::recent_runs(&state.db, "", 1).await {
        Ok(r) => r,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let tasks = match db::scheduler::tasks(&state.db).await {
        Ok(t) => t,
        Err(e) => return CheckResult::storage_failed(ID, &e),
    };
    let how = "`serve` runs them every minute unless scheduler.enabled = false; a system cron can run `portcullis cron` every 5 minutes as well (or instead).";
    let Some(last) = runs.first() else {
        return CheckResult::problem(
            ID,
            Severity::Error,
            "The scheduled tasks have never run against this database.",
            format!(
                "No web server with the scheduler enabled and no `portcullis cron` has run yet. {how}"
            ),
            "Start `portcullis serve` with scheduler.enabled = true, or add `*/5 * * * * portcullis --config /etc/portcullis.toml cron` to the system crontab, then run the doctor again.",
        );
    };
    let mut details = vec![format!(
        "last run: {} by {} on {}",
        state.show_time(last.view.at),
        last.view.process,
        last.view.node
    )];
    let mut overdue = Vec::new();
    for task in Task::ALL {
        // The licence re-check fails when the vendor's server does; license.connection says so.
        if task.schedule(&state.config, Process::Cron) != Some(Schedule::Daily)
            || task == Task::LicenseRecheck
        {
            continue;
        }
        let done = tasks
            .iter()
            .find(|t| t.task == task.name())
            .map_or(0, |t| t.last_ok_at);
        if done == 0 {
            overdue.push(format!("{} has never completed", task.name()));
        } else {
            details.push(format!(
                "{} completed at {}",
                task.name(),
                state.show_time(done)
            ));
            if now - done > DAILY_ERROR_SECONDS {
                overdue.push(format!(
                    "{} last completed at {}",
                    task.name(),
                    state.show_time(done)
                ));
            }
        }
    }
    if !overdue.is_empty() {
        return CheckResult::problem(
            ID,
            Severity::Error,
            format!("Daily tasks have not completed within a day: {}.", overdue.join("; ")),
            format!("The scheduler stopped, or the daily tasks fail (see /admin/scheduler for each run's result). {how}"),
            "Look at the latest runs on /admin/scheduler; run `portcullis cron` by hand to see each task's result; make sure a scheduler runs.",
        )
        .with_details(details);
    }
    let quiet = now - last.view.at;
    if quiet > QUIET_WARNING_SECONDS {
        return CheckResult::problem(
            ID,
            Severity::Warning,
            format!(
                "No scheduled task has run for {} minutes (last run at {}).",
                quiet / 60,
                state.show_time(last.view.at)
            ),
            format!("The scheduler has stopped: the web server was stopped or started with scheduler.enabled = false, or the system cron no longer runs. {how}"),
            "Check that `portcullis serve` runs with the scheduler enabled, or that the crontab entry for `portcullis cron` exists and its output shows no error.",
        )
        .with_details(details);
    }
    CheckResult::ok(
        ID,
        format!(
            "Scheduled tasks ran {} minute(s) ago; daily tasks completed within the last day.",
            quiet / 60
        ),
    )
    .with_details(details)
}
