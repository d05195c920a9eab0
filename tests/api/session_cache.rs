//! Sessions held in memory (`session::cache`), reproduced on running nodes: the in-process test
//! app is node A (its cache's counters are readable), and `portcullis serve` child processes or
//! CLI commands on the same database are the other nodes. Each test prints the latency it
//! measured; none asserts a time, only that the node refuses within ten seconds (the promise is
//! one second; a node that was never told would refuse never).

use crate::helpers::nodes::*;
use crate::helpers::*;
use portcullis::doctor::Severity;
use portcullis::session::cache::Stats;

/// The cache counters of the in-process node.
fn stats(app: &TestApp) -> Stats {
    app.state.session_cache.stats()
}

/// The host the in-process app and any node started with [`other_node`] are addressed by.
fn host(app: &TestApp) -> String {
    format!("127.0.0.1:{}", app.port)
}

/// A `portcullis serve` process on the app's database and System URL.
async fn other_node(app: &TestApp) -> Node {
    let node = node(
        app.dir.path(),
        &app.state.config.database_url,
        free_port(),
        &format!("http://{}/", host(app)),
    );
    wait_ready(&node).await;
    node
}

/// Requests `path` on the in-process app `times` times and returns the last status.
async fn visit(app: &TestApp, browser: &reqwest::Client, path: &str, times: usize) -> u16 {
    let mut status = 0;
    for _ in 0..times {
        status = browser
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    status
}

/// Requests `path` on the in-process app until memory has served it twice (the first request
/// after a change reads the database, and so may one that raced the log's reader); panics
/// after twenty requests. Returns how many requests that took.
async fn served_from_memory(app: &TestApp, browser: &reqwest::Client, path: &str) -> usize {
    let before = stats(app).hits;
    for n in 1..=20 {
        assert_eq!(visit(app, browser, path, 1).await, 200, "{path}");
        if stats(app).hits >= before + 2 {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!(
        "twenty requests to {path} were not served from memory twice: {:?}",
        stats(app)
    );
}

/// Waits until the in-process cache reports `trusted`; panics after ten seconds.
async fn until_trusted(app: &TestApp, trusted: bool) -> std::time::Duration {
    let started = std::time::Instant::now();
    while stats(app).trusted != trusted {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the session cache did not become trusted={trusted}: {:?}",
            stats(app)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Ada, signed in on node B (another process), her session already served from the
/// in-process node's memory.
struct World {
    app: TestApp,
    user: TestUser,
    b: Node,
    host: String,
    browser: reqwest::Client,
}

async fn ada_signed_in_on_b() -> World {
    let app = spawn_app().await;
    app.use_real_time();
    let user = app.create_user("ada@example.com").await;
    let b = other_node(&app).await;
    let host = host(&app);
    let browser = new_client();
    sign_in(&browser, &b, &host, &user).await;
    until_trusted(&app, true).await;
    served_from_memory(&app, &browser, "/clientarea").await;
    World {
        app,
        user,
        b,
        host,
        browser,
    }
}

/// Runs `portcullis ARGS` as another process on the app's database.
async fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let dir = app.dir.path().to_owned();
    let db_url = app.state.config.database_url.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env_remove("PORTCULLIS_CONFIG")
            .env("PORTCULLIS__DATA_DIR", &dir)
            .env("PORTCULLIS__DATABASE__URL", &db_url)
            .env("RUST_LOG", "warn")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_signed_in_session_is_served_from_memory_and_none_is_kept_when_the_cache_is_off() {
    let app = spawn_app().await;
    app.use_real_time();
    app.create_user("ada@example.com").await;
    let browser = app.signed_in_client("ada@example.com").await;
    until_trusted(&app, true).await;
    let before = stats(&app);
    let took = served_from_memory(&app, &browser, "/clientarea").await;
    let after = stats(&app);
    println!("memory served twice within {took} requests: {before:?} -> {after:?}");
    assert!(after.entries >= 1, "{after:?}");

    let off = spawn_with(|c| c.session.cache_entries = 0).await;
    off.use_real_time();
    off.create_user("ada@example.com").await;
    let browser = off.signed_in_client("ada@example.com").await;
    assert_eq!(visit(&off, &browser, "/clientarea", 5).await, 200);
    let off_stats = stats(&off);
    assert_eq!((off_stats.entries, off_stats.hits), (0, 0), "{off_stats:?}");
}

#[tokio::test]
async fn a_session_ended_on_another_node_is_refused_by_the_node_holding_it_in_memory() {
    let w = ada_signed_in_on_b().await;
    sign_out(&w.browser, &w.b, &w.host).await;
    let took = refused_within(&w.browser, w.app.port, &w.host).await;
    println!("the in-process node refused the session ended on node B after {took:?}");
}

#[tokio::test]
async fn signing_a_user_out_from_the_cli_ends_their_sessions_on_every_node() {
    let World {
        app,
        b,
        host,
        browser: on_b,
        ..
    } = ada_signed_in_on_b().await;
    let on_a = app.signed_in_client("ada@example.com").await;
    served_from_memory(&app, &on_a, "/clientarea").await;

    let out = cli(&app, &["user", "sign-out", "--email", "ada@example.com"]).await;
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("Signed ada@example.com out: 2 sessions ended on every node."),
        "{said}"
    );
    let took_a = refused_within(&on_a, app.port, &host).await;
    let took_b = refused_within(&on_b, b.port, &host).await;
    println!("after `user sign-out`: refused on A after {took_a:?}, on B after {took_b:?}");
    let recorded: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'session.ended'")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(
        recorded[0].1 == "revoked: signed out everywhere by the operator (2)",
        "{recorded:?}"
    );

    let again = cli(&app, &["user", "sign-out", "--email", "ada@example.com"]).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("had no live session"));
    let nobody = cli(&app, &["user", "sign-out", "--email", "nobody@example.com"]).await;
    assert!(!nobody.status.success());
    assert!(
        String::from_utf8_lossy(&nobody.stderr)
            .contains("no user has the email address \"nobody@example.com\""),
        "{}",
        String::from_utf8_lossy(&nobody.stderr)
    );
    let no_admin = cli(&app, &["admin", "sign-out", "--username", "nobody"]).await;
    assert!(
        String::from_utf8_lossy(&no_admin.stderr).contains("no admin has the username \"nobody\"")
    );
}

#[tokio::test]
async fn signing_an_admin_out_from_the_cli_ends_their_sessions() {
    let app = spawn_app().await;
    app.use_real_time();
    app.create_admin("root").await;
    let browser = new_client();
    assert_eq!(app.sign_in_admin(&browser, "root").await.status(), 200);
    until_trusted(&app, true).await;
    served_from_memory(&app, &browser, "/admin").await;
    let out = cli(&app, &["admin", "sign-out", "--username", "root"]).await;
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("Signed root out: 1 session ended"), "{said}");
    let took = first_status_within(&browser, app.port, "/admin", &host(&app), 303).await;
    println!("after `admin sign-out`: the admin area refused the session after {took:?}");
}

#[tokio::test]
async fn while_the_change_log_cannot_be_read_every_request_reads_the_database() {
    let World {
        app,
        user,
        b,
        host,
        browser,
    } = ada_signed_in_on_b().await;

    // The channel is lost: the triggers still write the log (they never name `seq`), but the
    // readers' query, which orders by it, fails. (Revoking a privilege would not do on
    // PostgreSQL: the test role is a superuser.)
    let cut = "ALTER TABLE session_changes RENAME COLUMN seq TO seq_away";
    let restore = "ALTER TABLE session_changes RENAME COLUMN seq_away TO seq";
    sqlx::query(cut).execute(&app.state.db).await.unwrap();
    let took = until_trusted(&app, false).await;
    println!("memory stopped being trusted {took:?} after the log became unreadable");
    assert!(stats(&app).failing);
    let untrusted = stats(&app);
    assert_eq!(visit(&app, &browser, "/clientarea", 3).await, 200);
    assert_eq!(
        stats(&app).hits,
        untrusted.hits,
        "untrusted memory serves nothing"
    );

    // Ended on B while A cannot hear of it: A refuses it on the very next request.
    sign_out(&browser, &b, &host).await;
    let r = browser.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 303, "the ended session is refused at once");

    sqlx::query(restore).execute(&app.state.db).await.unwrap();
    let took = until_trusted(&app, true).await;
    println!("memory was trusted again {took:?} after the log became readable");
    assert!(!stats(&app).failing);
    let again = new_client();
    sign_in(&again, &b, &host, &user).await;
    served_from_memory(&app, &again, "/clientarea").await;
    // What was logged while the log was unreadable still reaches the reader.
    sign_out(&again, &b, &host).await;
    refused_within(&again, app.port, &host).await;
}

#[tokio::test]
async fn a_change_made_in_sql_to_a_member_a_user_or_a_session_applies_on_every_node() {
    let app = spawn_app().await;
    app.use_real_time();
    app.create_user("owner@example.com").await;
    app.create_user("clerk@example.com").await;
    app.add_to_account("owner@example.com", "clerk@example.com", &["profile"])
        .await;
    let shared = app.account_owned_by("owner@example.com").await;
    let clerk = app.signed_in_client("clerk@example.com").await;
    app.switch_account(&clerk, shared).await;
    until_trusted(&app, true).await;
    served_from_memory(&app, &clerk, "/account/profile").await;
    let host = host(&app);

    // An operator's SQL, not a page: the database's triggers log it all the same.
    sqlx::query(
        "UPDATE client_users SET permissions = '' \
         WHERE user_id = (SELECT id FROM users WHERE email = 'clerk@example.com')",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    let took = first_status_within(&clerk, app.port, "/account/profile", &host, 403).await;
    println!("a permission removed in SQL was refused after {took:?}");

    served_from_memory(&app, &clerk, "/clientarea").await;
    sqlx::query("UPDATE users SET disabled = 1 WHERE email = 'clerk@example.com'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let took = refused_within(&clerk, app.port, &host).await;
    println!("a user disabled in SQL was refused after {took:?}");

    let owner = app.signed_in_client("owner@example.com").await;
    served_from_memory(&app, &owner, "/clientarea").await;
    sqlx::query(
        "DELETE FROM sessions WHERE realm = 'client' \
         AND subject_id = (SELECT id FROM users WHERE email = 'owner@example.com')",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    let took = refused_within(&owner, app.port, &host).await;
    println!("a session deleted in SQL was refused after {took:?}");
}

#[test]
fn a_bad_cache_size_stops_start_up_naming_the_key_the_value_and_the_range() {
    let dir = tempfile::tempdir().unwrap();
    for (value, shown) in [("20000000", "20000000"), ("-5", "-5"), ("many", "many")] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env_remove("PORTCULLIS_CONFIG")
            .env("PORTCULLIS__DATA_DIR", dir.path())
            .env("PORTCULLIS__SESSION__CACHE_ENTRIES", value)
            .arg("migrate")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(
            err.contains("session.cache_entries") && err.contains(shown),
            "{value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[tokio::test]
async fn the_links_cleanup_removes_change_log_rows_older_than_an_hour_and_keeps_newer_ones() {
    let app = spawn_with(|c| c.proxy.cloudflare_refresh_hours = 0).await;
    app.use_real_time();
    let now = app.state.clock.unix();
    for (kind, at) in [("all", now - 2 * 3600), ("all", now - 1800)] {
        sqlx::query("INSERT INTO session_changes (kind, at) VALUES ($1, $2)")
            .bind(kind)
            .bind(at)
            .execute(&app.state.db)
            .await
            .unwrap();
    }
    let report = portcullis::scheduler::run_due(&app.state, portcullis::scheduler::Process::Serve)
        .await
        .unwrap();
    let links = report.tasks.iter().find(|t| t.task == "links.cleanup");
    assert!(links.is_some_and(|t| t.ok), "{report:?}");
    let left: Vec<i64> = sqlx::query_scalar("SELECT at FROM session_changes ORDER BY at")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(
        !left.contains(&(now - 2 * 3600)),
        "the old row is gone: {left:?}"
    );
    assert!(
        left.contains(&(now - 1800)),
        "the newer row stays: {left:?}"
    );
}

#[tokio::test]
async fn a_missing_trigger_is_an_error_of_the_doctor_and_a_node_starting_without_it_never_trusts_memory()
 {
    let app = spawn_app().await;
    let check = app.doctor_check("session.changes").await;
    assert_eq!(check.severity, Severity::Ok, "{check:?}");
    assert!(check.summary.contains("100000 live sessions"), "{check:?}");

    // An operator's restore without triggers, as when a schema is copied table by table.
    let drop = if app.state.config.database_url.starts_with("postgres") {
        "DROP TRIGGER session_changes_session_gone ON sessions"
    } else {
        "DROP TRIGGER session_changes_session_gone"
    };
    sqlx::query(drop).execute(&app.state.db).await.unwrap();
    let check = app.doctor_check("session.changes").await;
    assert_eq!(check.severity, Severity::Error, "{check:?}");
    assert_eq!(
        check.details,
        vec!["session_changes_session_gone"],
        "{check:?}"
    );
    assert!(
        check.next_step.contains("session.cache_entries = 0"),
        "{check:?}"
    );

    let starting = portcullis::session::cache::SessionCache::new(10);
    let refused = starting.catch_up(&app.state.db).await.unwrap_err();
    assert!(
        refused.to_string().contains("session_changes_session_gone"),
        "{refused}"
    );
    let stats = starting.stats();
    assert!(!stats.trusted && stats.failing, "{stats:?}");

    // Unreadable: a warning, since every node then reads the database.
    let off = spawn_with(|c| c.session.cache_entries = 0).await;
    sqlx::query("ALTER TABLE session_changes RENAME COLUMN seq TO seq_away")
        .execute(&off.state.db)
        .await
        .unwrap();
    let check = off.doctor_check("session.changes").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(check.summary.contains("cannot be read"), "{check:?}");
    assert!(check.cause.contains("slower but safe"), "{check:?}");
}

#[tokio::test]
async fn the_cleanup_of_expired_sessions_writes_nothing_to_the_change_log() {
    // F09's backlog can be a million rows: no node serves an expired session from memory, so
    // removing them must not also write a million log rows.
    let app = spawn_with(|c| c.proxy.cloudflare_refresh_hours = 0).await;
    app.use_real_time();
    app.create_user("ada@example.com").await;
    app.signed_in_client("ada@example.com").await;
    sqlx::query("UPDATE sessions SET expires_at = 1000, last_seen_at = 1000")
        .execute(&app.state.db)
        .await
        .unwrap();
    let count = |db: sqlx::AnyPool| async move {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM session_changes")
            .fetch_one(&db)
            .await
            .unwrap();
        n
    };
    let before = count(app.state.db.clone()).await;
    let report = portcullis::scheduler::run_due(&app.state, portcullis::scheduler::Process::Serve)
        .await
        .unwrap();
    let cleanup = report.tasks.iter().find(|t| t.task == "sessions.cleanup");
    assert!(cleanup.is_some_and(|t| t.ok), "{report:?}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0, "the expired session was removed");
    assert_eq!(
        count(app.state.db.clone()).await,
        before,
        "and nothing was logged"
    );
}
