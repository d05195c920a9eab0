//! Several nodes on one database: two `portcullis serve` processes behind one System URL (as
//! behind a load balancer). A session started on node A is valid on node B, and ending it on B
//! ends it on A within a second (A holds it in memory until it reads the change log); a ban
//! recorded by A is enforced by B within the ban cache's bound; a setting saved on A applies on
//! B within the settings refresh bound; with both nodes' mail senders running each queued email
//! is sent once; with both schedulers and a system cron each task runs once per period; a
//! rolling restart loses no session; a second node keeps the first node's setup link. Runs on
//! SQLite (two processes, one file) and, in the PostgreSQL pass, on PostgreSQL.

use crate::helpers::nodes::*;
use crate::helpers::*;
use std::process::{Command, Stdio};

#[tokio::test]
async fn a_session_from_node_a_works_on_node_b_and_ending_it_on_b_ends_it_on_a() {
    // The test app migrates the database and creates the user; the nodes share it.
    let app = spawn_app().await;
    app.use_real_time();
    let user = app.create_user("ada@example.com").await;
    let (a, b, host) = two_nodes(&app).await;

    // Sign in on A.
    let browser = new_client();
    sign_in(&browser, &a, &host, &user).await;

    // The same cookie on B: the session lives in the database, not in A's memory.
    let r = get(&browser, &b, "/clientarea", &host).await;
    assert_eq!(r.status(), 200, "the session is valid on node B");

    // Sign out on B; A holds the session in memory and refuses it once it has read the change
    // log (the promise: within a second).
    sign_out(&browser, &b, &host).await;
    let took = refused_within(&browser, a.port, &host).await;
    println!("node A refused the session ended on node B after {took:?}");
}

#[tokio::test]
async fn a_ban_recorded_by_node_a_is_enforced_by_node_b() {
    let app = spawn_app().await;
    app.use_real_time();
    app.create_admin("alice").await;
    let (a, b, host) = two_nodes(&app).await;
    assert_eq!(get(&new_client(), &b, "/login", &host).await.status(), 200);

    // Three wrong admin passwords on A (the default threshold) ban this address.
    for _ in 0..3 {
        let browser = new_client();
        let page = get(&browser, &a, "/admin/login", &host)
            .await
            .text()
            .await
            .unwrap();
        let csrf = csrf_from(&page);
        let r = post(
            &browser,
            &a,
            "/admin/login",
            &host,
            &[
                ("username", "alice"),
                ("password", "wrong-password-123"),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status(), 401);
    }
    // B has never seen a failure itself, and refuses the address once its last answer for it
    // (from the first request above) is older than the ban cache's bound.
    // Failed admin sign-ins ban the admin area (issue 18 item 12).
    tokio::time::sleep(portcullis::ban::CACHE_FOR).await;
    let r = get(&new_client(), &b, "/admin/login", &host).await;
    assert_eq!(r.status(), 403, "node B enforces node A's ban");
    assert!(r.text().await.unwrap().contains("127.0.0.1"));
}

#[tokio::test]
async fn a_setting_saved_on_node_a_applies_on_node_b_within_the_refresh_bound() {
    let app = spawn_app().await;
    app.use_real_time();
    let admin = app.create_admin("alice").await;
    let (a, b, host) = two_nodes(&app).await;

    let browser = new_client();
    let page = get(&browser, &a, "/admin/login", &host)
        .await
        .text()
        .await
        .unwrap();
    let r = post(
        &browser,
        &a,
        "/admin/login",
        &host,
        &[
            ("username", admin.username.as_str()),
            ("password", admin.password.as_str()),
            ("csrf_token", csrf_from(&page).as_str()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let shows_london = |html: &str| html.contains("value=\"Europe/London\"");
    let on_b = get(&browser, &b, "/admin/settings", &host)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !shows_london(&on_b),
        "the admin session works on B too, with UTC still"
    );

    // Save the timezone on A (every other field as it is).
    let page = get(&browser, &a, "/admin/settings", &host)
        .await
        .text()
        .await
        .unwrap();
    let mut form = vec![
        ("csrf_token".to_owned(), csrf_from(&page)),
        ("timezone".to_owned(), "Europe/London".to_owned()),
    ];
    for key in portcullis::settings::KEYS
        .iter()
        .filter(|k| **k != "timezone")
    {
        let value = portcullis::settings::current(&app.state)
            .await
            .values
            .text(key);
        form.push(((*key).to_owned(), value));
    }
    let r = post(&browser, &a, "/admin/settings", &host, &form).await;
    assert_eq!(r.status(), 200);

    // B re-reads settings at most REFRESH_SECONDS after its last read; allow twice that.
    let bound = portcullis::settings::REFRESH_SECONDS * 2;
    let mut applied = false;
    for _ in 0..bound * 4 {
        let html = get(&browser, &b, "/admin/settings", &host)
            .await
            .text()
            .await
            .unwrap();
        if shows_london(&html) {
            applied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        applied,
        "node B did not apply the new timezone within {bound} s"
    );
}

#[tokio::test]
async fn with_both_nodes_sending_each_queued_email_is_sent_exactly_once() {
    const COUNT: usize = 60;
    let app = spawn_app().await;
    app.use_real_time();
    let smtp = crate::helpers::smtp::SmtpPeer::start("accept", None);
    let mail = [
        ("PORTCULLIS__MAIL__TRANSPORT", "smtp".to_owned()),
        ("PORTCULLIS__MAIL__SMTP_HOST", "127.0.0.1".to_owned()),
        ("PORTCULLIS__MAIL__SMTP_PORT", smtp.port.to_string()),
        ("PORTCULLIS__MAIL__SMTP_TLS", "none".to_owned()),
        ("PORTCULLIS__MAIL__POLL_SECONDS", "1".to_owned()),
    ];
    let database_url = app.state.config.database_url.clone();
    let (port_a, port_b) = (free_port(), free_port());
    let system_url = format!("http://127.0.0.1:{port_a}/");
    let a = node_with(app.dir.path(), &database_url, port_a, &system_url, &mail);
    let b = node_with(app.dir.path(), &database_url, port_b, &system_url, &mail);
    wait_ready(&a).await;
    wait_ready(&b).await;

    // Queued while both senders poll every second, so they compete for every batch.
    for n in 0..COUNT {
        portcullis::mail::queue::send_generic(
            &app.state,
            &format!("user{n}@example.com"),
            &format!("Message number {n:03}"),
            "Sent by one node only.",
        )
        .await
        .unwrap();
    }
    for _ in 0..300 {
        if smtp.messages().len() >= COUNT {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Two more polls of both nodes: a duplicate would arrive now.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let received = smtp.messages();
    assert_eq!(received.len(), COUNT, "every message once, none twice");
    for n in 0..COUNT {
        let subject = format!("Message number {n:03}");
        assert_eq!(
            received.iter().filter(|m| m.contains(&subject)).count(),
            1,
            "{subject}"
        );
    }
    let (sent,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mail_messages WHERE state = 'sent'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(sent, i64::try_from(COUNT).unwrap());
}

/// The tasks the web nodes' schedulers run (mail is their own sender's, not the scheduler's).
const SERVE_TASKS: [&str; 5] = [
    "audit.retention",
    "bans.cleanup",
    "links.cleanup",
    "scheduler.history",
    "sessions.cleanup",
];

/// Every recorded task run: its task, the process whose run it was, and its period (computed
/// from when it started, as the scheduler computes it under the default configuration), so
/// counts per period hold even when a 5-minute boundary passes while the nodes start.
async fn task_runs_with_periods(app: &TestApp) -> Vec<(String, String, String)> {
    use portcullis::scheduler::{Schedule, period};
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT t.task, r.process, t.started_at FROM scheduler_task_runs t \
         JOIN scheduler_runs r ON r.id = t.run_id WHERE r.finished_at > 0",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let utc = portcullis::clock::Zone::utc();
    rows.into_iter()
        .map(|(task, process, at)| {
            let schedule = match task.as_str() {
                "mail.send" | "oidc.logout.send" => Schedule::Every(60),
                "audit.retention" | "scheduler.history" | "license.recheck" => Schedule::Daily,
                _ => Schedule::Every(300),
            };
            let at = jiff::Timestamp::from_second(at).unwrap();
            let period = period(schedule, at, &utc, 3);
            (task, process, period)
        })
        .collect()
}

#[tokio::test]
async fn with_two_schedulers_and_a_system_cron_each_task_runs_once_per_period() {
    let app = spawn_app().await;
    app.use_real_time();
    let database_url = app.state.config.database_url.clone();
    let (port_a, port_b) = (free_port(), free_port());
    let system_url = format!("http://127.0.0.1:{port_a}/");
    // Both nodes' in-process schedulers tick at start, racing each other for every task.
    let a = node(app.dir.path(), &database_url, port_a, &system_url);
    let b = node(app.dir.path(), &database_url, port_b, &system_url);
    wait_ready(&a).await;
    wait_ready(&b).await;
    // Wait for the web nodes' own task runs (not only their view of time): between them they
    // run every task of theirs once.
    let mut ran_by_web = Vec::new();
    for _ in 0..150 {
        ran_by_web = task_runs_with_periods(&app)
            .await
            .into_iter()
            .filter(|(_, process, _)| process == "serve")
            .map(|(task, ..)| task)
            .collect::<Vec<_>>();
        ran_by_web.sort();
        ran_by_web.dedup();
        if ran_by_web == SERVE_TASKS {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ran_by_web, SERVE_TASKS, "the web nodes' schedulers ran");
    // The system cron arrives while both run: it finds their work done for this period and runs
    // what is left (mail sending), or a cleanup again only if a new period has begun.
    let cron = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("cron")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", app.dir.path())
        .env("PORTCULLIS__DATABASE__URL", &database_url)
        .env("PORTCULLIS__MAIL__TRANSPORT", "file")
        .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cron = tokio::task::spawn_blocking(move || cron.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        cron.status.success(),
        "cron failed: {}",
        String::from_utf8_lossy(&cron.stderr)
    );

    let runs = task_runs_with_periods(&app).await;
    assert!(
        runs.iter()
            .any(|(task, process, _)| task == "mail.send" && process == "cron"),
        "the cron ran mail sending: {runs:?}"
    );
    let mut per_period = std::collections::BTreeMap::new();
    for (task, _, period) in &runs {
        *per_period
            .entry((task.as_str(), period.as_str()))
            .or_insert(0) += 1;
    }
    for ((task, period), count) in &per_period {
        assert_eq!(
            *count, 1,
            "{task} ran {count} times in period {period}: {runs:?}"
        );
    }
    let (processes,): (i64,) =
        sqlx::query_as("SELECT COUNT(DISTINCT node) FROM process_views WHERE process = 'web'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(processes, 2, "both web schedulers were running");
}

#[tokio::test]
async fn a_rolling_restart_loses_no_session() {
    let app = spawn_app().await;
    app.use_real_time();
    let user = app.create_user("ada@example.com").await;
    let (a, b, host) = two_nodes(&app).await;
    let browser = new_client();
    sign_in(&browser, &a, &host, &user).await;

    // Node A stops as systemd stops it (SIGTERM: finish requests, then exit cleanly) ...
    let port_a = a.port;
    let mut a = a;
    let stopped = Command::new("kill")
        .args(["-TERM", &a.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = tokio::task::spawn_blocking(move || {
        let status = a.child.wait().unwrap();
        (status, a)
    })
    .await
    .unwrap()
    .0;
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
    // ... the load balancer sends the same browser to B meanwhile ...
    assert_eq!(get(&browser, &b, "/clientarea", &host).await.status(), 200);
    // ... and the upgraded A comes back on its port with the session intact.
    let system_url = format!("http://{host}/");
    let a = node(
        app.dir.path(),
        &app.state.config.database_url,
        port_a,
        &system_url,
    );
    wait_ready(&a).await;
    let page = get(&browser, &a, "/clientarea", &host).await;
    assert_eq!(page.status(), 200, "the session survived the restart");
    // B restarts in turn; A carries the session.
    drop(b);
    assert_eq!(get(&browser, &a, "/clientarea", &host).await.status(), 200);
}

#[tokio::test]
async fn concurrent_claims_of_the_mail_queue_never_share_a_message() {
    const COUNT: i64 = 400;
    // The race the two senders above run into only now and then, forced: many claimers at the
    // same instant, on the database's own connections (several on PostgreSQL at once).
    let app = spawn_app().await;
    for n in 0..COUNT {
        portcullis::mail::queue::send_generic(&app.state, "x@example.com", &format!("m{n}"), "b")
            .await
            .unwrap();
    }
    let mut claimers = tokio::task::JoinSet::new();
    for c in 0..8 {
        let state = app.state.clone();
        claimers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = portcullis::mail::sender::claim(&state, &format!("claimer{c}"))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(claimed) = claimers.join_next().await {
        all.extend(claimed.unwrap());
    }
    let claimed = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), claimed, "a message was claimed twice");
    assert_eq!(
        i64::try_from(claimed).unwrap(),
        COUNT,
        "every message claimed"
    );
}

/// Starts a node like [`node`], with its standard output read, and returns it with what it
/// printed at start-up up to the end of its setup-link message (or the first 20 lines).
async fn node_announcing(app: &TestApp, port: u16, system_url: &str) -> (Node, String) {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", app.dir.path())
        .env("PORTCULLIS__DATABASE__URL", &app.state.config.database_url)
        .env("PORTCULLIS__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS__SERVER__SYSTEM_URL", system_url)
        .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
        .env("PORTCULLIS__MAIL__TRANSPORT", "file")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let node = Node { child, port };
    let printed = tokio::task::spawn_blocking(move || {
        let mut printed = String::new();
        for line in std::io::BufReader::new(stdout).lines().take(20) {
            let Ok(line) = line else { break };
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("The link works once.") || line.contains("prints a new one.") {
                break;
            }
        }
        printed
    });
    let printed = tokio::time::timeout(std::time::Duration::from_secs(60), printed)
        .await
        .expect("the node printed its start-up lines")
        .unwrap();
    wait_ready(&node).await;
    (node, printed)
}

#[tokio::test]
async fn a_second_node_keeps_the_first_nodes_setup_link_working() {
    let app = spawn_app().await;
    let (port_a, port_b) = (free_port(), free_port());
    let host = format!("127.0.0.1:{port_a}");
    let system_url = format!("http://{host}/");
    let (a, printed_a) = node_announcing(&app, port_a, &system_url).await;
    let start = printed_a
        .find("/admin/setup/")
        .unwrap_or_else(|| panic!("node A printed a setup link: {printed_a}"));
    let path: String = printed_a[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    // Node B starts on the same database: it leaves A's link alone and says so.
    let (b, printed_b) = node_announcing(&app, port_b, &system_url).await;
    assert!(
        printed_b.contains("A one-time setup link was already printed at")
            && !printed_b.contains("/admin/setup/"),
        "{printed_b}"
    );
    // A's link still opens the form, on either node.
    let browser = new_client();
    for node in [&b, &a] {
        let r = get(&browser, node, &path, &host).await;
        assert_eq!(r.status(), 200, "the first node's link was invalidated");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Create the first administrator")
        );
    }
}
