//! The scheduler: each task once per period with two schedulers at once (in-process and as two
//! real `portcullis cron` processes), lease take-over after a crash, the pause after a failure,
//! the cron.heartbeat thresholds, `portcullis cron` output, and the admin page.

use crate::helpers::*;
use portcullis::app::AppState;
use portcullis::scheduler::{Process, run_due};
use std::collections::BTreeMap;
use std::process::Command;

async fn runs_per_task(state: &AppState) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT task, COUNT(*) FROM scheduler_task_runs GROUP BY task")
            .fetch_all(&state.db)
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// A second node: its own pool and caches on the same database.
async fn second_node(app: &TestApp) -> AppState {
    AppState::open((*app.state.config).clone(), app.clock.clone(), false)
        .await
        .unwrap()
}

fn quiet(c: &mut portcullis::config::RawConfig) {
    // No network in tests: the Cloudflare refresh is off unless a test points it at a fake.
    c.proxy.cloudflare_refresh_hours = 0;
}

#[tokio::test]
async fn two_schedulers_started_together_run_each_task_once_per_period() {
    let app = spawn_with(quiet).await;
    let other = second_node(&app).await;
    let (a, b) = tokio::join!(
        run_due(&app.state, Process::Serve),
        run_due(&other, Process::Serve)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let ran = a.tasks.len() + b.tasks.len();
    // sessions, links and bans cleanup, audit retention, run history (mail is serve's own sender).
    assert_eq!(ran, 5, "a: {a:?}\nb: {b:?}");
    assert!(runs_per_task(&app.state).await.values().all(|n| *n == 1));

    // Nothing is due again within the period, whoever asks.
    let again = run_due(&other, Process::Serve).await.unwrap();
    assert!(again.tasks.is_empty(), "{again:?}");
    assert!(again.run_id.is_none(), "an idle tick writes no record");

    // Next cleanup period: the three cleanups run once more, the daily tasks do not.
    app.clock.advance(300);
    let (a, b) = tokio::join!(
        run_due(&app.state, Process::Serve),
        run_due(&other, Process::Serve)
    );
    let names: Vec<&str> = a
        .unwrap()
        .tasks
        .iter()
        .chain(b.unwrap().tasks.iter())
        .map(|t| t.task)
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["bans.cleanup", "links.cleanup", "sessions.cleanup"]
    );
    let counts = runs_per_task(&app.state).await;
    assert_eq!(counts["sessions.cleanup"], 2);
    assert_eq!(counts["audit.retention"], 1);
}

#[tokio::test]
async fn two_cron_processes_at_once_run_each_task_once() {
    let app = spawn_with(quiet).await;
    app.use_real_time();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("cron")
            .env_remove("PORTCULLIS_CONFIG")
            .env("PORTCULLIS__DATA_DIR", app.dir.path())
            .env("PORTCULLIS__DATABASE__URL", &app.state.config.database_url)
            .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
            .env("PORTCULLIS__MAIL__TRANSPORT", "file")
            .env("RUST_LOG", "warn")
            .current_dir(app.dir.path())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert!(first.status.success() && second.status.success());
    let counts = runs_per_task(&app.state).await;
    // The three cleanups, mail sending, the logout sender and the two daily tasks: once each.
    assert_eq!(counts.len(), 7, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let cron_runs: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM scheduler_runs WHERE process = 'cron'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(cron_runs, 2, "every cron invocation is recorded");
}

#[tokio::test]
async fn a_crashed_holder_loses_its_lease_when_the_lease_runs_out() {
    let app = spawn_with(quiet).await;
    // A process took the lease and died without releasing it (raw SQL: another process's lease).
    sqlx::query(
        "INSERT INTO scheduler_tasks (task, lease_holder, lease_until) VALUES ('sessions.cleanup', 'dead-host:4242', $1)",
    )
    .bind(app.state.clock.unix() + 600)
    .execute(&app.state.db)
    .await
    .unwrap();
    let report = run_due(&app.state, Process::Serve).await.unwrap();
    assert_eq!(report.held_elsewhere, ["sessions.cleanup"]);
    assert!(report.tasks.iter().all(|t| t.task != "sessions.cleanup"));
    app.clock.advance(601);
    let report = run_due(&app.state, Process::Serve).await.unwrap();
    assert!(
        report
            .tasks
            .iter()
            .any(|t| t.task == "sessions.cleanup" && t.ok)
    );
}

#[tokio::test]
async fn a_failing_task_waits_before_it_is_tried_again() {
    // Cloudflare's list URL points at a port nobody listens on.
    let app = spawn_with(|c| {
        c.proxy.cloudflare_refresh_hours = 24;
        c.proxy.cloudflare_url = "http://127.0.0.1:9".into();
        // The refresh runs only while Cloudflare is configured.
        c.proxy.header = "CF-Connecting-IP".into();
    })
    .await;
    let first = run_due(&app.state, Process::Serve).await.unwrap();
    let failed = first
        .tasks
        .iter()
        .find(|t| t.task == "cloudflare.refresh")
        .expect("the refresh ran");
    assert!(!failed.ok);
    assert!(failed.detail.contains("127.0.0.1:9"), "{}", failed.detail);
    assert!(!first.ok());
    app.clock.advance(60);
    let tick = run_due(&app.state, Process::Serve).await.unwrap();
    assert!(
        tick.tasks.iter().all(|t| t.task != "cloudflare.refresh"),
        "not retried on the next tick"
    );
    app.clock.advance(900);
    let later = run_due(&app.state, Process::Serve).await.unwrap();
    assert!(later.tasks.iter().any(|t| t.task == "cloudflare.refresh"));
}

#[tokio::test]
async fn cron_heartbeat_is_error_when_never_run_ok_after_a_run_then_warning_then_error() {
    let app = spawn_with(quiet).await;
    let never = app.doctor_check("cron.heartbeat").await;
    assert_eq!(never.severity.as_str(), "error");
    assert!(never.summary.contains("never run"), "{}", never.summary);
    assert!(
        never.next_step.contains("portcullis"),
        "{}",
        never.next_step
    );

    run_due(&app.state, Process::Serve).await.unwrap();
    let fresh = app.doctor_check("cron.heartbeat").await;
    assert_eq!(fresh.severity.as_str(), "ok", "{fresh:?}");

    // Two hours and a minute without a run.
    app.clock.advance(121 * 60);
    let quiet_check = app.doctor_check("cron.heartbeat").await;
    assert_eq!(quiet_check.severity.as_str(), "warning", "{quiet_check:?}");
    assert!(
        quiet_check.summary.contains("121 minutes"),
        "{}",
        quiet_check.summary
    );

    // More than a (long) day: the daily tasks are overdue.
    app.clock.advance(24 * 3600);
    let stopped = app.doctor_check("cron.heartbeat").await;
    assert_eq!(stopped.severity.as_str(), "error", "{stopped:?}");
    assert!(
        stopped.summary.contains("audit.retention last completed"),
        "{}",
        stopped.summary
    );

    // A run brings it back.
    run_due(&app.state, Process::Serve).await.unwrap();
    assert_eq!(
        app.doctor_check("cron.heartbeat").await.severity.as_str(),
        "ok"
    );
}

#[tokio::test]
async fn cron_heartbeat_is_ok_up_to_120_quiet_minutes_and_a_warning_at_121() {
    let app = spawn_with(quiet).await;
    run_due(&app.state, Process::Serve).await.unwrap();
    app.clock.advance(119 * 60);
    let at_119 = app.doctor_check("cron.heartbeat").await;
    assert_eq!(at_119.severity.as_str(), "ok", "{at_119:?}");
    app.clock.advance(60);
    let at_120 = app.doctor_check("cron.heartbeat").await;
    assert_eq!(at_120.severity.as_str(), "ok", "{at_120:?}");
    app.clock.advance(60);
    let at_121 = app.doctor_check("cron.heartbeat").await;
    assert_eq!(at_121.severity.as_str(), "warning", "{at_121:?}");
    assert!(at_121.summary.contains("121 minutes"), "{}", at_121.summary);
}

#[tokio::test]
async fn cron_heartbeat_is_an_error_when_runs_happen_but_a_daily_task_never_completed() {
    let app = spawn_with(quiet).await;
    // audit.retention is held by a process that hangs; every other task runs (raw SQL: another
    // process's lease).
    sqlx::query(
        "INSERT INTO scheduler_tasks (task, lease_holder, lease_until) VALUES ('audit.retention', 'stuck-host:7', $1)",
    )
    .bind(app.state.clock.unix() + 600)
    .execute(&app.state.db)
    .await
    .unwrap();
    let report = run_due(&app.state, Process::Serve).await.unwrap();
    assert_eq!(report.held_elsewhere, ["audit.retention"]);
    assert!(report.tasks.iter().any(|t| t.task == "scheduler.history"));
    let check = app.doctor_check("cron.heartbeat").await;
    assert_eq!(check.severity.as_str(), "error", "{check:?}");
    assert_eq!(
        check.summary,
        "Daily tasks have not completed within a day: audit.retention has never completed."
    );
    assert!(
        check
            .details
            .iter()
            .any(|d| d.starts_with("scheduler.history completed at")),
        "{:?}",
        check.details
    );
}

#[tokio::test]
async fn cron_heartbeat_daily_error_starts_just_after_25_hours_10_minutes() {
    use portcullis::doctor::DAILY_ERROR_SECONDS;
    // 24 hours, plus the hour a day gains when clocks go back, plus ten minutes for a 5-minute
    // cron to come round.
    assert_eq!(DAILY_ERROR_SECONDS, 24 * 3600 + 3600 + 600);
    let app = spawn_with(quiet).await;
    run_due(&app.state, Process::Serve).await.unwrap();
    // Runs keep happening, but the daily tasks are held by a process that hangs from now on
    // (raw SQL: another process's lease).
    let hold_daily = |until: i64| {
        let db = app.state.db.clone();
        async move {
            sqlx::query(
                "UPDATE scheduler_tasks SET lease_holder = 'stuck-host:7', lease_until = $1 \
                 WHERE task IN ('audit.retention', 'scheduler.history')",
            )
            .bind(until)
            .execute(&db)
            .await
            .unwrap();
        }
    };
    hold_daily(app.state.clock.unix() + 2 * DAILY_ERROR_SECONDS).await;
    app.clock.advance(DAILY_ERROR_SECONDS);
    let report = run_due(&app.state, Process::Serve).await.unwrap();
    assert!(
        report.held_elsewhere.contains(&"audit.retention"),
        "{report:?}"
    );
    assert!(report.tasks.iter().any(|t| t.task == "sessions.cleanup"));
    let at_limit = app.doctor_check("cron.heartbeat").await;
    assert_eq!(at_limit.severity.as_str(), "ok", "{at_limit:?}");
    app.clock.advance(1);
    let over = app.doctor_check("cron.heartbeat").await;
    assert_eq!(over.severity.as_str(), "error", "{over:?}");
    assert!(
        over.summary.contains("audit.retention last completed at"),
        "{}",
        over.summary
    );
}

#[tokio::test]
async fn a_run_records_its_end_its_duration_each_tasks_duration_and_the_zone_offset() {
    let app = spawn_with(|c| {
        quiet(c);
        c.timezone = "Europe/London".into();
    })
    .await;
    // Summer: London is UTC+01:00.
    app.clock.set("2027-07-01T12:00:00Z".parse().unwrap());
    let now = app.state.clock.unix();
    // One batch and one row of sessions that ran out ten days ago: the cleanup rests once
    // between the two statements, so it takes at least that rest (raw SQL: rows from the past).
    sqlx::query(
        "INSERT INTO sessions (id_hash, realm, subject_id, ip, user_agent, remember, created_at, last_seen_at, expires_at) \
         WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $1) \
         SELECT 'old-' || i, 'client', 1, '203.0.113.7', 'Mozilla/5.0', 0, $2, $2, $2 + 86400 FROM k",
    )
    .bind(portcullis::scheduler::housekeeping::BATCH + 1)
    .bind(now - 10 * 86_400)
    .execute(&app.state.db)
    .await
    .unwrap();
    let report = run_due(&app.state, Process::Serve).await.unwrap();
    assert_eq!(report.tasks.len(), 5, "{report:?}");

    let (started, finished, duration_ms, zone, offset, tasks_run, failures): (
        i64,
        i64,
        i64,
        String,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT started_at, finished_at, duration_ms, zone, zone_offset_seconds, tasks_run, failures \
         FROM scheduler_runs",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    // The mock clock stands still, so the run ends at the instant it started.
    assert_eq!((started, finished), (now, now));
    assert_eq!((zone.as_str(), offset), ("Europe/London", 3600));
    assert_eq!((tasks_run, failures), (5, 0));
    let pause = i64::try_from(portcullis::scheduler::housekeeping::PAUSE.as_millis()).unwrap();
    let stored: BTreeMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT task, duration_ms FROM scheduler_task_runs")
            .fetch_all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let reported: BTreeMap<String, i64> = report
        .tasks
        .iter()
        .map(|t| (t.task.to_owned(), t.duration_ms))
        .collect();
    assert_eq!(stored, reported, "each task's measured duration is stored");
    assert!(stored["sessions.cleanup"] >= pause, "{stored:?}");
    assert!(
        duration_ms >= stored.values().sum::<i64>(),
        "the run lasts at least as long as its tasks: {duration_ms} ms, {stored:?}"
    );

    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    let html = app.get("/admin/scheduler").await.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "<td>2027-07-01 13:00 BST, after {duration_ms} ms</td>"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "sessions.cleanup ok ({} ms): removed {} session(s)",
            stored["sessions.cleanup"],
            portcullis::scheduler::housekeeping::BATCH + 1
        )),
        "{html}"
    );
}

#[tokio::test]
async fn portcullis_cron_exits_2_when_a_task_fails() {
    let app = spawn_with(quiet).await;
    app.use_real_time();
    // Cloudflare's list URL points at a port nobody listens on.
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("cron")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", app.dir.path())
        .env("PORTCULLIS__DATABASE__URL", &app.state.config.database_url)
        .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "24")
        .env("PORTCULLIS__PROXY__CLOUDFLARE_URL", "http://127.0.0.1:9")
        // The refresh runs only while Cloudflare is configured.
        .env("PORTCULLIS__PROXY__HEADER", "CF-Connecting-IP")
        .env("PORTCULLIS__MAIL__TRANSPORT", "file")
        .env("RUST_LOG", "error")
        .current_dir(app.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAILED cloudflare.refresh"), "{stdout}");
    assert!(stdout.contains("ok     sessions.cleanup"), "{stdout}");
    assert!(
        stderr.contains("1 task(s) failed: cloudflare.refresh; the next run retries them"),
        "{stderr}"
    );
}

#[tokio::test]
async fn portcullis_cron_prints_each_task_and_the_admin_page_lists_runs() {
    let app = spawn_with(quiet).await;
    app.use_real_time();
    let cron = || {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("cron")
            .env_remove("PORTCULLIS_CONFIG")
            .env("PORTCULLIS__DATA_DIR", app.dir.path())
            .env("PORTCULLIS__DATABASE__URL", &app.state.config.database_url)
            .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
            .env("PORTCULLIS__MAIL__TRANSPORT", "file")
            .env("TZ", "America/New_York")
            .env("RUST_LOG", "warn")
            .current_dir(app.dir.path())
            .output()
            .unwrap()
    };
    let out = cron();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for task in [
        "sessions.cleanup",
        "links.cleanup",
        "bans.cleanup",
        "audit.retention",
    ] {
        assert!(text.contains(task), "{text}");
    }
    assert!(text.contains("removed 0 session(s)"), "{text}");
    let again = cron();
    assert!(String::from_utf8_lossy(&again.stdout).contains("Nothing was due."));

    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    let html = app.get("/admin/scheduler").await.text().await.unwrap();
    assert!(html.contains("sessions.cleanup"));
    assert!(
        html.contains("America/New_York"),
        "the cron process's own zone is shown"
    );
    assert!(
        html.contains("nothing was due"),
        "the idle cron run is listed"
    );
    assert!(html.contains("daily from 03:00 UTC"), "{html}");
}

/// A real `portcullis serve` on a fresh data directory, with extra environment.
fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> std::process::Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", dir)
        .env("PORTCULLIS__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "PORTCULLIS__SERVER__SYSTEM_URL",
            format!("http://127.0.0.1:{port}/"),
        )
        .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
        .env("PORTCULLIS__TIMEZONE", "Europe/London")
        .env("TZ", "America/New_York")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// What a `serve` recorded in its SQLite database: its view of time (local zone, configured
/// zone), and how many scheduler runs and task runs there are.
async fn serve_records(dir: &std::path::Path) -> Option<(String, String, i64, i64)> {
    let url = format!("sqlite://{}?mode=ro", dir.join("portcullis.db").display());
    let pool = portcullis::bootstrap::connect(&url, 1).await.ok()?;
    let found = sqlx::query_as(
        "SELECT v.local_zone, v.zone, (SELECT COUNT(*) FROM scheduler_runs WHERE process = 'serve'), \
         (SELECT COUNT(*) FROM scheduler_task_runs) FROM process_views v WHERE v.process = 'web'",
    )
    .fetch_optional(&pool)
    .await
    .ok()
    .flatten();
    pool.close().await;
    found
}

#[tokio::test]
async fn portcullis_serve_runs_the_scheduler_and_records_its_view_of_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(dir.path(), &[]);
    let mut seen = None;
    for _ in 0..300 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // A run's row is written when it starts and its task rows as each task ends, so wait
        // for both rather than reading between the two writes.
        if let Some(row) = serve_records(dir.path())
            .await
            .filter(|r| r.2 > 0 && r.3 > 0)
        {
            seen = Some(row);
            break;
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (local, zone, runs, task_runs) =
        seen.unwrap_or_else(|| panic!("serve recorded no run: {stderr}"));
    assert_eq!(local, "America/New_York");
    assert_eq!(zone, "Europe/London");
    assert!(runs >= 1);
    assert!(task_runs >= 1);
}

#[tokio::test]
async fn with_the_scheduler_disabled_serve_runs_no_task_but_records_its_view_of_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(dir.path(), &[("PORTCULLIS__SCHEDULER__ENABLED", "false")]);
    let mut seen = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Some(row) = serve_records(dir.path()).await {
            seen = Some(row);
            break;
        }
    }
    // An enabled scheduler runs its first tasks right after recording the view (the test above
    // sees them within a fraction of a second); give a disabled one far longer to show none.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let later = serve_records(dir.path()).await;
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (local, zone, ..) = seen.unwrap_or_else(|| panic!("serve recorded no view: {stderr}"));
    assert_eq!(
        (local.as_str(), zone.as_str()),
        ("America/New_York", "Europe/London")
    );
    let (.., runs, task_runs) = later.unwrap();
    assert_eq!((runs, task_runs), (0, 0), "no task ran in this process");
}

#[tokio::test]
async fn the_scheduler_page_says_when_this_web_server_runs_no_tasks() {
    let app = spawn_with(|c| {
        quiet(c);
        c.scheduler.enabled = false;
    })
    .await;
    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    let html = app.get("/admin/scheduler").await.text().await.unwrap();
    assert!(
        html.contains("This web server does not run tasks (scheduler.enabled = false); a system cron must run <code>portcullis cron</code>"),
        "{html}"
    );
    assert!(!html.contains("This web server runs due tasks every minute"));

    let enabled = spawn_with(quiet).await;
    let admin = enabled.create_admin("root").await;
    enabled.admin_login(&admin).await;
    let html = enabled.get("/admin/scheduler").await.text().await.unwrap();
    assert!(html.contains("This web server runs due tasks every minute"));
}
