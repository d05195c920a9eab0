//! `GET /admin/scheduler`: the scheduled tasks (schedule, last result, who holds them) and the
//! recent runs with each process's view of time (F09, F13).

use crate::app::AppState;
use crate::clock::offset_text;
use crate::db::scheduler as store;
use crate::scheduler::{Process, Schedule, Task};
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, RequirePermission, ViewSystemHealth};
use crate::web::page::{self, RunView, SchedulerPage, TaskView};
use axum::extract::State;
use axum::response::Response;

/// Runs shown.
const RUNS: i64 = 50;

/// The page.
pub async fn get_scheduler(
    State(state): State<AppState>,
    gate: RequirePermission<ViewSystemHealth>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let now = state.clock.unix();
    let stored = store::tasks(&state.db).await?;
    let zone = state.settings.snapshot().values.timezone.clone();
    let tasks = Task::ALL
        .iter()
        .map(|task| {
            let row = stored.iter().find(|t| t.task == task.name());
            let schedule = match task.schedule(&state, Process::Cron) {
                None => "off in this configuration".to_owned(),
                Some(Schedule::Every(s)) if s % 3600 == 0 => format!("every {} hour(s)", s / 3600),
                Some(Schedule::Every(s)) => format!("every {} minute(s)", (s / 60).max(1)),
                Some(Schedule::Daily) => format!(
                    "daily from {:02}:00 {}",
                    state.config.daily_hour,
                    zone.name()
                ),
            };
            TaskView {
                name: task.name(),
                what: task.describe(),
                schedule,
                last: row.filter(|r| r.last_finished_at > 0).map_or_else(
                    || "never".to_owned(),
                    |r| state.show_time(r.last_finished_at),
                ),
                result: row.map_or_else(String::new, |r| {
                    format!(
                        "{} in {} ms: {}",
                        if r.last_ok { "ok" } else { "failed" },
                        r.last_duration_ms,
                        r.last_detail
                    )
                }),
                ok: row.is_none_or(|r| r.last_ok),
                running: row
                    .filter(|r| !r.lease_holder.is_empty() && r.lease_until > now)
                    .map(|r| r.lease_holder.clone()),
            }
        })
        .collect();
    let runs = store::recent_runs(&state.db, "", RUNS).await?;
    let first = runs.last().map_or(0, |r| r.id);
    let task_runs = store::task_runs_since(&state.db, first).await?;
    let runs = runs
        .into_iter()
        .map(|r| RunView {
            started: state.show_time(r.view.at),
            process: r.view.process.clone(),
            node: r.view.node.clone(),
            zone: format!(
                "{} (UTC{})",
                r.view.zone,
                offset_text(r.view.zone_offset_seconds)
            ),
            local: format!(
                "{} (UTC{}){}",
                r.view.local_zone,
                offset_text(r.view.local_offset_seconds),
                if r.view.tz_env.is_empty() {
                    String::new()
                } else {
                    format!(", TZ={}", r.view.tz_env)
                }
            ),
            finished: r.finished_at > 0,
            ended: if r.finished_at > 0 {
                format!(
                    "{}, after {} ms",
                    state.show_time(r.finished_at),
                    r.duration_ms
                )
            } else {
                String::new()
            },
            failures: r.failures,
            tasks: task_runs
                .iter()
                .filter(|t| t.run_id == r.id)
                .map(|t| {
                    format!(
                        "{} {} ({} ms): {}",
                        t.task,
                        if t.ok { "ok" } else { "FAILED" },
                        t.duration_ms,
                        t.detail
                    )
                })
                .collect(),
        })
        .collect();
    Ok(page::render(&SchedulerPage {
        title: "Scheduled tasks",
        nav: Some(super::nav(&gate.current, csrf)),
        zone: zone.name().to_owned(),
        enabled: state.config.scheduler_enabled,
        tasks,
        runs,
    }))
}
