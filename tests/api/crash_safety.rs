//! Crash safety (issue 18): `kill -9` of `portcullis serve` under a load of sign-ups loses no
//! acknowledged write and leaves the database consistent. The real binary serves; several
//! browsers register concurrently (a registration page for its CSRF token, then the POST); every
//! sign-up the server acknowledged (its "Check your inbox" answer, or a 303) is counted; the process is killed
//! with SIGKILL mid-load, started again on the same database, and every acknowledged sign-up is
//! found with its client account, and the database passes its integrity checks. Runs on SQLite
//! and, in the PostgreSQL pass (`PORTCULLIS_TEST_POSTGRES`), on PostgreSQL.
//!
//! Why SQLite keeps every acknowledged write here: WAL journal with `synchronous = NORMAL`
//! (`db::connect`). A commit is in the WAL file (the operating system's page cache) before the
//! answer is sent, and a killed process loses no page cache; only a power loss could undo the
//! newest commits, which `kill -9` is not.

use crate::helpers::*;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Browsers registering at once.
const BROWSERS: usize = 6;
/// Acknowledged sign-ups before the kill (the load keeps running while it lands).
const KILL_AFTER: usize = 24;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `portcullis serve` on the test app's database, on `port`.
fn serve(app: &TestApp, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", app.dir.path())
        .env("PORTCULLIS__DATABASE__URL", &app.state.config.database_url)
        .env("PORTCULLIS__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "PORTCULLIS__SERVER__SYSTEM_URL",
            format!("http://127.0.0.1:{port}/"),
        )
        .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
        .env("PORTCULLIS__MAIL__TRANSPORT", "file")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(port: u16) {
    for _ in 0..200 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("portcullis serve on port {port} did not start");
}

/// One sign-up: the registration page (CSRF token and cookie), then the POST. `Some(true)`
/// when the server acknowledged it, `Some(false)` when it refused it, `None` when no answer
/// came (the process was killed).
async fn sign_up(port: u16, email: &str) -> Option<bool> {
    let browser = new_client();
    let base = format!("http://127.0.0.1:{port}");
    let page = browser
        .get(format!("{base}/register"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    // A page cut off by the kill has no token: no answer, like a refused connection.
    if !page.contains("name=\"csrf_token\"") {
        return None;
    }
    let csrf = csrf_from(&page);
    let password = "tidal-Quartz-lantern-91-crash";
    let response = browser
        .post(format!("{base}/register"))
        .form(&[
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("email", email),
            ("password", password),
            ("password_confirm", password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    // The body must arrive too: an answer cut off by the kill is not an acknowledgement.
    let body = response.text().await.ok()?;
    Some(status == 303 || (status == 200 && !body.contains("-error\"")))
}

#[tokio::test]
async fn kill_9_of_serve_under_a_load_of_sign_ups_loses_no_acknowledged_sign_up() {
    let app = spawn_app().await;
    app.use_real_time();
    let port = free_port();
    let mut child = serve(&app, port);
    wait_ready(port).await;

    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut browsers = Vec::new();
    for b in 0..BROWSERS {
        let (acknowledged, count, stop) = (acknowledged.clone(), count.clone(), stop.clone());
        browsers.push(tokio::spawn(async move {
            let mut refused = 0;
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let email = format!("crash-{b}-{n}@example.com");
                match sign_up(port, &email).await {
                    Some(true) => {
                        acknowledged.lock().unwrap().push(email);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(false) => refused += 1,
                    None => break,
                }
            }
            refused
        }));
    }
    while count.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // SIGKILL while the browsers are still registering.
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = count.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let mut refused = 0;
    for b in browsers {
        refused += b.await.unwrap();
    }
    assert_eq!(refused, 0, "no sign-up was refused");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= KILL_AFTER);

    // Started again on the same database: every acknowledged sign-up is there, whole.
    let mut child = serve(&app, port);
    wait_ready(port).await;
    let mut found = 0;
    for email in &acknowledged {
        let owned: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users u JOIN clients c ON c.owner_user_id = u.id \
             WHERE u.email = $1",
        )
        .bind(email)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(
            owned, 1,
            "{email}: the user and the client account they own"
        );
        found += 1;
    }
    // Consistency: no user without the account registration gives them, no dangling rows.
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u WHERE u.email LIKE 'crash-%' AND NOT EXISTS \
         (SELECT 1 FROM clients c WHERE c.owner_user_id = u.id)",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "a sign-up is all or nothing");
    let dangling: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM clients c WHERE NOT EXISTS \
         (SELECT 1 FROM users u WHERE u.id = c.owner_user_id)",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(dangling, 0, "no client account without its owner");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email LIKE 'crash-%'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    if app.state.config.database_url.starts_with("sqlite") {
        let integrity: String =
            sqlx::query_scalar("SELECT integrity_check FROM pragma_integrity_check")
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(integrity, "ok");
        let violations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_foreign_key_check")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(violations, 0, "foreign keys hold");
    }
    // The restarted server works: one more sign-up is acknowledged.
    assert_eq!(sign_up(port, "crash-after@example.com").await, Some(true));
    child.kill().unwrap();
    child.wait().unwrap();
    // The figures for docs/crash-safety.md (printed with --nocapture).
    println!(
        "crash safety ({}): {} sign-ups acknowledged ({at_kill} when the kill was sent), {found} found after restart, {stored} stored in all",
        if app.state.config.database_url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        acknowledged.len(),
    );
}
