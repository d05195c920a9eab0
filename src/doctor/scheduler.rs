//! `session.gc` (F09: expired sessions left behind) and `cron.heartbeat` (F09, F13: the
//! scheduled tasks stopped running).

use super::{CheckResult, Severity};
use crate::app::AppState;
use crate::db;
use crate::scheduler::housekeeping::{self, KEEP_SECONDS};
use crate::scheduler::{Process, Schedule, Task};

/// No run for this long is a warning.
pub const QUIET_WARNING_SECONDS: i64 = 120 * 60;
/// Daily tasks not completed for this long is an error: 24 hours, plus the hour a day gains when
/// clocks go back (a daily task at 03:00 local then runs 25 hours after the last), plus ten
/// minutes for a five-minute cron to come round.
pub const DAILY_ERROR_SECONDS: i64 = 25 * 3600 + 600;

/// Expired sessions still stored longer than twice the cleanup interval past their keeping time.
pub async fn session_gc(state: &AppState) -> CheckResult {
    const ID: &str = "session.gc";
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

/// Runs the session cleanup now, repeatedly until nothing is left, and audit-logs it.
///
/// # Errors
/// A database error.
pub async fn fix_session_gc(
    state: &AppState,
    actor: &str,
    from: &str,
) -> Result<String, sqlx::Error> {
    let mut total = 0;
    loop {
        let removed = housekeeping::sessions(state).await?;
        total += removed.rows;
        if !removed.unfinished {
            break;
        }
    }
    db::setting::audit(
        &state.db,
        state.clock.unix(),
        actor,
        "doctor.fix",
        &format!("session.gc: removed {total} expired session(s)"),
        from,
    )
    .await?;
    Ok(format!("Removed {total} expired session(s)."))
}

/// Whether scheduled tasks run: any run in the last two hours, and every daily task completed
/// within a day.
pub async fn heartbeat(state: &AppState) -> CheckResult {
    const ID: &str = "cron.heartbeat";
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
        if task.schedule(state, Process::Cron) != Some(Schedule::Daily)
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
