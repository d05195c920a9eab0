//! F09, sessions are not removed: with the scheduler stopped, expired sessions pile up; the
//! doctor's `session.gc` finds them (count, oldest, last cleanup), the cleanup removes them in
//! batches without touching live sessions or recently ended ones, and the check passes after.

use crate::helpers::*;
use portcullis::scheduler::{Process, housekeeping, run_due};

/// Stores `n` client sessions last seen at `seen`, shaped as sign-ins store them (raw SQL:
/// thousands of sign-ins from the past are out of a test's reach).
async fn stored_sessions(app: &TestApp, n: i64, seen: i64) {
    sqlx::query(
        "INSERT INTO sessions (id_hash, realm, subject_id, ip, user_agent, remember, created_at, last_seen_at, expires_at) \
         WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $1) \
         SELECT 'bulk-' || $2 || '-' || i, 'client', 1, '203.0.113.7', 'Mozilla/5.0', 0, $2, $2, $2 + 86400 FROM k",
    )
    .bind(n)
    .bind(seen)
    .execute(&app.state.db)
    .await
    .unwrap();
}

async fn count_sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn f09_expired_sessions_left_by_a_stopped_scheduler_are_detected_and_removed_in_batches() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    // Real sign-ins that are then abandoned, plus many more like them.
    for _ in 0..3 {
        let r = app.client_login_via(&user, PASSWORD, &[]).await;
        assert_eq!(r.status(), 303);
    }
    let start = app.state.clock.unix();
    let bulk = 2 * housekeeping::BATCH + 500;
    stored_sessions(&app, bulk, start).await;
    assert_eq!(app.doctor_check("session.gc").await.severity.as_str(), "ok");

    // Three days pass with no scheduler running.
    app.clock.advance(3 * 86_400);
    let found = app.doctor_check("session.gc").await;
    assert_eq!(found.severity.as_str(), "error", "{found:?}");
    assert!(found.fixable);
    let total = bulk + 3;
    assert!(
        found
            .summary
            .starts_with(&format!("{total} expired session(s)")),
        "{}",
        found.summary
    );
    assert!(
        found.summary.contains("The oldest ended at 2026-11-28"),
        "{}",
        found.summary
    );
    assert!(found.summary.contains("never run"), "{}", found.summary);
    assert!(
        found
            .next_step
            .contains("portcullis doctor --fix session.gc")
    );

    // A live session signed in now, and one ended now, must survive the cleanup.
    let live = app.signed_in_client(&user.email).await;
    let ended = app.signed_in_client(&user.email).await;
    let (_, csrf) = app.form_page(&ended, "/clientarea").await;
    app.post_form(&ended, "/logout", &[("csrf_token", &csrf)])
        .await;

    let report = run_due(&app.state, Process::Serve).await.unwrap();
    let cleanup = report
        .tasks
        .iter()
        .find(|t| t.task == "sessions.cleanup")
        .unwrap();
    assert!(cleanup.ok);
    // More than two batches' worth: the batches continue until the backlog is gone.
    assert_eq!(cleanup.detail, format!("removed {total} session(s)"));
    assert_eq!(count_sessions(&app).await, 2);
    let r = live.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the live session is untouched");

    let after = app.doctor_check("session.gc").await;
    assert_eq!(after.severity.as_str(), "ok", "{after:?}");
    assert!(
        after.summary.contains("Session cleanup last ran at"),
        "{}",
        after.summary
    );
}

#[tokio::test]
async fn f09_a_backlog_while_cleanup_runs_is_a_warning_and_the_fix_clears_it() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    run_due(&app.state, Process::Serve).await.unwrap();
    // Rows the last run did not get to (older than anything the run saw).
    stored_sessions(&app, 50, app.state.clock.unix() - 10 * 86_400).await;
    let behind = app.doctor_check("session.gc").await;
    assert_eq!(behind.severity.as_str(), "warning", "{behind:?}");
    assert!(behind.fixable);

    // The System Health fix button runs the cleanup now, and says so.
    app.admin_login(&admin).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/health").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/health/fix",
            &[("id", "session.gc"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.doctor_check("session.gc").await.severity.as_str(), "ok");
    let audited: String = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'doctor.fix' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(audited, "session.gc: removed 50 expired session(s)");
}

#[tokio::test]
async fn f09_the_cli_fix_removes_them_from_another_process() {
    let app = spawn_app().await;
    app.use_real_time();
    stored_sessions(&app, 20, app.state.clock.unix() - 10 * 86_400).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["doctor", "--fix", "session.gc"])
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", app.dir.path())
        .env("PORTCULLIS__DATABASE__URL", &app.state.config.database_url)
        .env("RUST_LOG", "warn")
        .current_dir(app.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Removed 20 expired session(s)."), "{text}");
    assert_eq!(count_sessions(&app).await, 0);
}

/// The System Health page of a signed-in Full Administrator.
async fn health_page(app: &TestApp) -> String {
    app.get("/admin/health").await.text().await.unwrap()
}

#[tokio::test]
async fn f09_system_health_offers_the_session_cleanup_fix_with_its_label() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    stored_sessions(&app, 5, app.state.clock.unix() - 10 * 86_400).await;
    app.admin_login(&admin).await;
    let body = health_page(&app).await;
    let form = body
        .split("<form method=\"post\" action=\"/admin/health/fix\"")
        .skip(1)
        .find(|f| f.contains("name=\"id\" value=\"session.gc\""))
        .unwrap_or_else(|| panic!("no fix form for session.gc: {body}"));
    let label = form
        .split("<button type=\"submit\">")
        .nth(1)
        .and_then(|rest| rest.split("</button>").next())
        .unwrap();
    assert_eq!(label, "Remove expired sessions now");
}

#[tokio::test]
async fn f09_the_fix_refuses_while_another_process_holds_the_cleanup_lease() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    stored_sessions(&app, 30, app.state.clock.unix() - 10 * 86_400).await;
    // The scheduler on another node is cleaning up right now (raw SQL: another process's lease).
    sqlx::query(
        "INSERT INTO scheduler_tasks (task, lease_holder, lease_until) VALUES ('sessions.cleanup', 'web-2:4242', $1)",
    )
    .bind(app.state.clock.unix() + 300)
    .execute(&app.state.db)
    .await
    .unwrap();
    app.admin_login(&admin).await;
    let before = count_sessions(&app).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/health").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/health/fix",
            &[("id", "session.gc"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("the session cleanup is running right now in web-2:4242"),
        "{html}"
    );
    assert!(html.contains("try again when it has finished"), "{html}");
    assert_eq!(count_sessions(&app).await, before, "nothing was removed");
    let holder: String = sqlx::query_scalar(
        "SELECT lease_holder FROM scheduler_tasks WHERE task = 'sessions.cleanup'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(holder, "web-2:4242", "the other process keeps its lease");
    let fixes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'doctor.fix'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(fixes, 0);
}

#[tokio::test]
async fn f09_a_fix_pass_stops_at_its_time_budget_and_says_how_many_remain() {
    let app = spawn_app().await;
    stored_sessions(&app, 50, app.state.clock.unix() - 10 * 86_400).await;
    // The budget is spent before the first batch, so this pass removes nothing.
    let fixed = portcullis::doctor::fix_session_gc(
        &app.state,
        "admin:root",
        "203.0.113.9",
        std::time::Duration::ZERO,
        false,
    )
    .await
    .unwrap();
    assert_eq!(fixed.left, Some((0, 50)));
    assert_eq!(
        fixed.message,
        "Removed 0 expired session(s) in 0 s; 50 remain: run the fix again or let the scheduler finish."
    );
    assert!(portcullis::doctor::FIX_TIME_BUDGET < std::time::Duration::from_secs(30));
    // The lease went back: the scheduler's cleanup takes it and removes the rest.
    let report = run_due(&app.state, Process::Serve).await.unwrap();
    assert!(report.held_elsewhere.is_empty(), "{report:?}");
    assert_eq!(count_sessions(&app).await, 0);

    // System Health says what such a pass left.
    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    let body = app
        .get("/admin/health?fixed=session.gc&done=0&left=50")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("it removed 0 and 50 remain. Run it again, or let the scheduler finish."),
        "{body}"
    );
}
