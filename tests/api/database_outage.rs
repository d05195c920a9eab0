//! A lost database connection (PostgreSQL pass only: SQLite has no connection to lose). The
//! connection runs through a relay the test cuts, as when the database restarts or fails over:
//! once the sessions held in memory are no longer vouched for (a second), pages answer 503
//! "cannot reach its database" (never a 500, never "signed out"), the doctor names the cause,
//! and once the database is back the same session works without a restart. `serve` started
//! before its database waits for it instead of exiting.

use crate::helpers::tcp_cut::TcpCut;
use crate::helpers::*;
use portcullis::doctor::Severity;
use std::time::Duration;

/// A fresh PostgreSQL database reached through a relay, or `None` on the SQLite pass.
async fn database_via_relay() -> Option<(String, TcpCut)> {
    let Some(direct) = test_database_url().await else {
        eprintln!("SQLite pass: no database connection to lose; this test runs on PostgreSQL");
        return None;
    };
    let mut url = url::Url::parse(&direct).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let relay = TcpCut::start(upstream).await;
    url.set_port(Some(relay.port)).unwrap();
    Some((url.to_string(), relay))
}

#[tokio::test]
async fn a_lost_connection_is_a_503_the_doctor_names_it_and_the_session_survives_reconnection() {
    let Some((url, relay)) = database_via_relay().await else {
        return;
    };
    let app = spawn_with(|c| c.database.url = url).await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    assert_eq!(app.get("/clientarea").await.status(), 200);

    relay.cut();
    // The session is held in memory, which is believed for at most a second after the last
    // read of the change log; from then on every request needs the database.
    let started = std::time::Instant::now();
    while app.state.session_cache.stats().trusted {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "memory stays trusted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "memory stopped vouching {:?} after the cut",
        started.elapsed()
    );
    let page = app.get("/clientarea").await;
    assert_eq!(page.status(), 503);
    assert_eq!(page.headers()["retry-after"], "5");
    let body = page.text().await.unwrap();
    assert!(body.contains("cannot reach its database"), "{body}");
    assert!(body.contains("still signed in"), "{body}");
    let json = app
        .client
        .get(app.url("/clientarea"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 503);
    let json: serde_json::Value = json.json().await.unwrap();
    assert_eq!(json["error"], "database_unavailable", "{json}");
    let check = app.doctor_check("database.connection").await;
    assert_eq!(check.severity, Severity::Error, "{check:?}");
    assert!(!check.next_step.is_empty());

    relay.restore();
    // The pool replaces the dead connections by itself: no restart, and the cookie still works.
    let page = app.get("/clientarea").await;
    assert_eq!(page.status(), 200);
    let check = app.doctor_check("database.connection").await;
    assert_eq!(check.severity, Severity::Ok, "{check:?}");
    assert!(check.summary.contains("PostgreSQL"), "{check:?}");
}

#[tokio::test]
async fn serve_started_before_its_database_waits_for_it() {
    let Some((url, relay)) = database_via_relay().await else {
        return;
    };
    relay.cut();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", dir.path())
        .env("PORTCULLIS__DATABASE__URL", &url)
        .env("PORTCULLIS__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "PORTCULLIS__SERVER__SYSTEM_URL",
            format!("http://127.0.0.1:{port}/"),
        )
        .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve exited instead of waiting for the database"
    );
    relay.restore();
    let mut up = false;
    let browser = new_client();
    for _ in 0..150 {
        if browser
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(up, "serve did not start once the database was back: {log}");
    assert!(
        log.contains("database not reachable yet; retrying"),
        "{log}"
    );
    let password = url::Url::parse(&url)
        .unwrap()
        .password()
        .unwrap()
        .to_owned();
    assert!(
        !log.contains(&format!(":{password}@")),
        "the log shows the database password: {log}"
    );
}
