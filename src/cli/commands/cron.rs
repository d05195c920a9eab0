//! `portcullis cron`: one run of every scheduled task that is due (for a system cron every 5
//! minutes), reported task by task. Running them, with leases and the run record, is
//! `scheduler::run_due`; this only prints the report and fails when a task failed.

use crate::cli::{Outcome, open_migrated};
use crate::config::Config;
use crate::scheduler::{self, Process};

/// Runs what is due once; an error (exit 2) when any task failed.
pub async fn run(config: Config) -> Outcome {
    let state = open_migrated(config).await?;
    let report = scheduler::run_due(&state, Process::Cron).await?;
    for t in &report.tasks {
        let mark = if t.ok { "ok    " } else { "FAILED" };
        println!(
            "{mark} {:<20} {:>6} ms  {}",
            t.task, t.duration_ms, t.detail
        );
    }
    for task in &report.held_elsewhere {
        println!("held   {task:<20}           running in another process");
    }
    if report.tasks.is_empty() && report.held_elsewhere.is_empty() {
        println!("Nothing was due.");
    }
    let failed: Vec<&str> = report
        .tasks
        .iter()
        .filter(|t| !t.ok)
        .map(|t| t.task)
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{} task(s) failed: {}; the next run retries them",
        failed.len(),
        failed.join(", ")
    );
    Ok(())
}
