//! The cleanup tasks beyond sessions (F09): expired links and one-time tokens, pending sign-ins,
//! WebAuthn ceremonies, rate-limit entries, expired bans and old failed sign-ins go; live rows
//! and rows still inside their keeping time stay; one statement removes at most one batch.

use crate::helpers::*;
use portcullis::app::AppState;
use portcullis::scheduler::{Process, housekeeping, run_due};

const DAY: i64 = 86_400;

fn quiet(c: &mut portcullis::config::RawConfig) {
    c.proxy.cloudflare_refresh_hours = 0;
}

async fn exec(state: &AppState, sql: &'static str, a: &str, at: i64) {
    sqlx::query(sql)
        .bind(a)
        .bind(at)
        .execute(&state.db)
        .await
        .unwrap();
}

async fn keys(state: &AppState, sql: &'static str) -> Vec<String> {
    let mut found: Vec<String> = sqlx::query_scalar(sql).fetch_all(&state.db).await.unwrap();
    found.sort();
    found
}

fn detail_of(report: &portcullis::scheduler::RunReport, task: &str) -> String {
    let t = report
        .tasks
        .iter()
        .find(|t| t.task == task)
        .unwrap_or_else(|| panic!("{task} did not run: {report:?}"));
    assert!(t.ok, "{t:?}");
    t.detail.clone()
}

#[tokio::test]
async fn links_cleanup_removes_expired_links_sign_ins_ceremonies_and_rate_limit_entries_only() {
    let app = spawn_with(quiet).await;
    let s = &app.state;
    let now = s.clock.unix();
    // Raw SQL: rows that expired in the past, under the names the assertions read back.
    let token = "INSERT INTO one_time_tokens (token_hash, purpose, created_at, expires_at) \
                 VALUES ($1, 'reset', $2 - 3600, $2)";
    // Expired three days ago: past the two days expired links are kept ("expired at 14:05").
    exec(s, token, "token-old", now - 3 * DAY).await;
    exec(s, token, "token-recent", now - DAY).await;
    exec(s, token, "token-live", now + 3600).await;
    let pending = "INSERT INTO pending_signins (id_hash, realm, subject_id, ip, user_agent, \
                   identifier, created_at, expires_at) \
                   VALUES ($1, 'client', 1, '203.0.113.7', 'Mozilla/5.0', 'ada', $2 - 600, $2)";
    exec(s, pending, "pending-old", now - 2 * DAY).await;
    exec(s, pending, "pending-live", now + 600).await;
    let ceremony = "INSERT INTO webauthn_ceremonies (owner_hash, kind, state, expires_at) \
                    VALUES ($1, 'register', '{}', $2)";
    exec(s, ceremony, "ceremony-old", now - 1).await;
    exec(s, ceremony, "ceremony-live", now + 300).await;
    let hit = "INSERT INTO request_log (kind, key, at) VALUES ('reset', $1, $2)";
    exec(s, hit, "hit-old", now - 2 * DAY).await;
    exec(s, hit, "hit-live", now - 60).await;

    let report = run_due(s, Process::Serve).await.unwrap();
    assert_eq!(
        detail_of(&report, "links.cleanup"),
        "removed 4 link(s), pending sign-in(s), ceremonies and rate-limit entries"
    );
    assert_eq!(
        keys(s, "SELECT token_hash FROM one_time_tokens").await,
        ["token-live", "token-recent"]
    );
    assert_eq!(
        keys(s, "SELECT id_hash FROM pending_signins").await,
        ["pending-live"]
    );
    assert_eq!(
        keys(s, "SELECT owner_hash FROM webauthn_ceremonies").await,
        ["ceremony-live"]
    );
    assert_eq!(keys(s, "SELECT key FROM request_log").await, ["hit-live"]);
}

#[tokio::test]
async fn bans_cleanup_removes_expired_bans_and_old_failed_sign_ins_only() {
    let app = spawn_with(quiet).await;
    let s = &app.state;
    let now = s.clock.unix();
    // Raw SQL: rows that expired in the past, under the names the assertions read back.
    let ban = "INSERT INTO bans (ip, reason, created_at, expires_at, created_by) \
               VALUES ($1, 'too many failed sign-ins', $2 - 3600, $2, 'system')";
    exec(s, ban, "198.51.100.1", now - 60).await;
    exec(s, ban, "198.51.100.2", now + 3600).await;
    // A ban until lifted has no expiry and is never removed by the cleanup.
    sqlx::query(
        "INSERT INTO bans (ip, reason, created_at, expires_at, created_by) \
         VALUES ('198.51.100.3', 'by hand', $1, NULL, 'admin:root')",
    )
    .bind(now - 30 * DAY)
    .execute(&s.db)
    .await
    .unwrap();
    let failure = "INSERT INTO login_failures (realm, ip, account, at) \
                   VALUES ('client', $1, 'ada@example.com', $2)";
    exec(s, failure, "203.0.113.1", now - 3 * DAY).await;
    exec(s, failure, "203.0.113.2", now - 3600).await;

    let report = run_due(s, Process::Serve).await.unwrap();
    assert_eq!(
        detail_of(&report, "bans.cleanup"),
        "removed 2 expired ban(s) and old failed sign-in(s)"
    );
    assert_eq!(
        keys(s, "SELECT ip FROM bans").await,
        ["198.51.100.2", "198.51.100.3"]
    );
    assert_eq!(
        keys(s, "SELECT ip FROM login_failures").await,
        ["203.0.113.2"]
    );
}

#[tokio::test]
async fn one_cleanup_statement_removes_at_most_one_batch() {
    let app = spawn_with(quiet).await;
    let now = app.state.clock.unix();
    let backlog = housekeeping::BATCH + 50;
    // Raw SQL: a backlog of links that expired days ago.
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, created_at, expires_at) \
         WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $1) \
         SELECT 'bulk-' || i, 'reset', $2 - 3600, $2 FROM k",
    )
    .bind(backlog)
    .bind(now - 3 * DAY)
    .execute(&app.state.db)
    .await
    .unwrap();
    let cutoff = now - housekeeping::KEEP_SECONDS;
    let db = &app.state.db;
    let first = housekeeping::expired_links_batch(&app.state, cutoff)
        .await
        .unwrap();
    assert_eq!(first, u64::try_from(housekeeping::BATCH).unwrap());
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM one_time_tokens")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(left, 50);
    let second = housekeeping::expired_links_batch(&app.state, cutoff)
        .await
        .unwrap();
    assert_eq!(second, 50);
}

#[tokio::test]
async fn run_history_removes_views_of_time_of_processes_quiet_for_30_days() {
    let app = spawn_with(quiet).await;
    let s = &app.state;
    let now = s.clock.unix();
    // Each restart of a web server records its view under a new node name (host:pid).
    for (node, at) in [("web-1:100", now - 31 * DAY), ("web-1:200", now - DAY)] {
        let mut view = portcullis::scheduler::view(s, "web");
        view.node = node.to_owned();
        view.at = at;
        portcullis::scheduler::record_view(s, &view).await.unwrap();
    }
    let report = run_due(s, Process::Serve).await.unwrap();
    assert_eq!(
        detail_of(&report, "scheduler.history"),
        "removed 1 run record(s), old process view(s) and licence check(s)"
    );
    assert_eq!(
        keys(s, "SELECT node FROM process_views").await,
        ["web-1:200"]
    );
}
