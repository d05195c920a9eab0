//! `portcullis doctor`: every diagnostic check as text or one JSON object, exit 0 all ok,
//! 1 warnings, 2 failures; `--fix ID` applies that one check's fix. The checks and fixes are
//! the `Doctor` service's; this prints them.
//!
//! The doctor never migrates: it must be able to report a schema that is behind or ahead.

use crate::app::AppState;
use crate::cli::{FROM, actor, failed};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::doctor::{self, CheckResult, Doctor, FixScope};
use std::process::ExitCode;
use std::sync::Arc;

/// Runs the checks (or one fix) and returns the doctor's exit code.
pub async fn run(config: Config, json: bool, fix: Option<&str>) -> ExitCode {
    let state = match AppState::open(config, Arc::new(SystemClock), false).await {
        Ok(s) => s,
        Err(e) => {
            // A database that cannot be opened is itself a finding, in the report's own form.
            print_report(&[doctor::cannot_open_database(&e)], json);
            return ExitCode::from(2);
        }
    };
    let doctor = Doctor::from(&state);
    if let Some(id) = fix {
        // No proxy times the CLI out: a bounded fix runs pass after pass until it is done.
        return match doctor.fix(id, &actor(), FROM, FixScope::UntilDone).await {
            Ok(fixed) => {
                println!("{}", fixed.message);
                ExitCode::SUCCESS
            }
            Err(e) => failed(e),
        };
    }
    let results = doctor.run_all().await;
    print_report(&results, json);
    ExitCode::from(doctor::exit_code(&results))
}

fn print_report(results: &[CheckResult], json: bool) {
    if json {
        println!("{}", doctor::json_report(results));
        return;
    }
    for r in results {
        println!("[{:<7}] {}: {}", r.severity.as_str(), r.id, r.summary);
        if !r.cause.is_empty() {
            println!("          cause: {}", r.cause);
        }
        if !r.next_step.is_empty() {
            println!("          next step: {}", r.next_step);
        }
    }
}
