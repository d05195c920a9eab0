//! What the scheduler has done, for the admin page `/admin/scheduler`: each task with its
//! schedule under this configuration, its stored state and who holds it now, and the recent
//! runs with their tasks (F09, F13).
//!
//! Read only: running tasks is `run_due` (`mod.rs`). The page formats what this returns.

use super::{Process, Schedule, Task};
use crate::app::AppState;
use std::sync::Arc;

pub use crate::db::scheduler::{RunRow, TaskRow, TaskRunRow};

/// The scheduler service's read side.
#[derive(Clone)]
pub struct Scheduler {
    db: crate::db::Pool,
    config: Arc<crate::config::Config>,
    clock: Arc<dyn crate::clock::Clock>,
}

impl From<&AppState> for Scheduler {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            config: state.config.clone(),
            clock: state.clock.clone(),
        }
    }
}

/// One task as the page shows it.
#[derive(Debug, Clone)]
pub struct TaskStatus {
    pub task: Task,
    /// Its schedule for `portcullis cron` under this configuration; `None`: off.
    pub schedule: Option<Schedule>,
    /// Its stored state, once any process has claimed it.
    pub stored: Option<TaskRow>,
    /// The process holding its lease right now, if one does.
    pub running: Option<String>,
}

/// A recorded run with the tasks it ran.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub run: RunRow,
    pub tasks: Vec<TaskRunRow>,
}

/// Everything the scheduler page shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Whether `serve` runs the scheduler (`scheduler.enabled`).
    pub enabled: bool,
    /// The hour daily tasks start, in the configured zone.
    pub daily_hour: i8,
    /// Every task, in run order.
    pub tasks: Vec<TaskStatus>,
    /// The newest runs, newest first.
    pub runs: Vec<RunRecord>,
}

impl Scheduler {
    /// The tasks and the newest `runs` runs.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn overview(&self, runs: i64) -> Result<Overview, sqlx::Error> {
        let now = self.clock.unix();
        let stored = crate::db::scheduler::tasks(&self.db).await?;
        let tasks = Task::ALL
            .iter()
            .map(|task| {
                let row = stored.iter().find(|t| t.task == task.name()).cloned();
                TaskStatus {
                    task: *task,
                    schedule: task.schedule(&self.config, Process::Cron),
                    running: row
                        .as_ref()
                        .filter(|r| !r.lease_holder.is_empty() && r.lease_until > now)
                        .map(|r| r.lease_holder.clone()),
                    stored: row,
                }
            })
            .collect();
        let recent = crate::db::scheduler::recent_runs(&self.db, "", runs).await?;
        let first = recent.last().map_or(0, |r| r.id);
        let task_runs = crate::db::scheduler::task_runs_since(&self.db, first).await?;
        let runs = recent
            .into_iter()
            .map(|run| RunRecord {
                tasks: task_runs
                    .iter()
                    .filter(|t| t.run_id == run.id)
                    .cloned()
                    .collect(),
                run,
            })
            .collect();
        Ok(Overview {
            enabled: self.config.scheduler_enabled,
            daily_hour: self.config.daily_hour,
            tasks,
            runs,
        })
    }
}
