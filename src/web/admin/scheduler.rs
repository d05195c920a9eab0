//! `GET /admin/scheduler`: the scheduled tasks (schedule, last result, who holds them) and the
//! recent runs with each process's view of time (F09, F13). The data comes from the
//! [`Scheduler`] service; this file only words it.

use crate::clock::offset_text;
use crate::scheduler::{RunRecord, Schedule, Scheduler, TaskStatus};
use crate::settings::Settings;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, RequirePermission, ViewSystemHealth};
use crate::web::page::{self, RunView, SchedulerPage, TaskView};
use axum::extract::State;
use axum::response::Response;

/// Runs shown.
const RUNS: i64 = 50;

/// The page.
pub async fn get_scheduler(
    State(scheduler): State<Scheduler>,
    State(settings): State<Settings>,
    gate: RequirePermission<ViewSystemHealth>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let overview = scheduler.overview(RUNS).await?;
    let zone = settings.snapshot().values.timezone.clone();
    let schedule_text = |schedule: Option<Schedule>| match schedule {
        None => "off in this configuration".to_owned(),
        Some(Schedule::Every(s)) if s % 3600 == 0 => format!("every {} hour(s)", s / 3600),
        Some(Schedule::Every(s)) => format!("every {} minute(s)", (s / 60).max(1)),
        Some(Schedule::Daily) => {
            format!("daily from {:02}:00 {}", overview.daily_hour, zone.name())
        }
    };
    let tasks = overview
        .tasks
        .iter()
        .map(|t| task_view(t, schedule_text(t.schedule), &settings))
        .collect();
    let runs = overview
        .runs
        .iter()
        .map(|r| run_view(r, &settings))
        .collect();
    Ok(page::render(&SchedulerPage {
        title: "Scheduled tasks",
        nav: Some(super::nav(&gate.current, csrf)),
        zone: zone.name().to_owned(),
        enabled: overview.enabled,
        tasks,
        runs,
    }))
}

fn task_view(status: &TaskStatus, schedule: String, settings: &Settings) -> TaskView {
    let row = status.stored.as_ref();
    TaskView {
        name: status.task.name(),
        what: status.task.describe(),
        schedule,
        last: row.filter(|r| r.last_finished_at > 0).map_or_else(
            || "never".to_owned(),
            |r| settings.show_time(r.last_finished_at),
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
        running: status.running.clone(),
    }
}

fn run_view(record: &RunRecord, settings: &Settings) -> RunView {
    let r = &record.run;
    RunView {
        started: settings.show_time(r.view.at),
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
                settings.show_time(r.finished_at),
                r.duration_ms
            )
        } else {
            String::new()
        },
        failures: r.failures,
        tasks: record
            .tasks
            .iter()
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
    }
}
