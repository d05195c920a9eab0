//! Checking a licence from this side: `portcullis license check` and code serving a web request
//! give the same verdict because the identity comes from configuration (F03); the doctor's
//! `license.connection` names the step where the connection fails (F07).

use crate::helpers::*;
use license_verifier::protocol::KeyList;
use std::process::Command;

/// Issues a licence of `product` to `client` and fetches the server's published keys.
async fn issue_with_keys(app: &TestApp, product: i64, client: i64) -> (String, KeyList) {
    let (_, key) = portcullis::license::issue(
        &app.state,
        &portcullis::license::IssueRequest {
            product_id: product,
            client_id: client,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let keys = reqwest::get(app.url("/api/license/v1/keys"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (key, keys)
}

/// A licensing server (the test app) with one licence; returns it, the key and the pins.
async fn licensing_server() -> (TestApp, String, Vec<String>) {
    let app = spawn_app().await;
    app.use_real_time();
    app.create_user("ada@example.com").await;
    let client: i64 = sqlx::query_scalar("SELECT id FROM clients LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let product = portcullis::license::Licenses::from(&app.state)
        .create_product(
            portcullis::domain::AdminId(1),
            &portcullis::license::ProductDraft {
                name: "Acme Panel",
                key_prefix: "ACME",
                check_interval_days: "7",
                grace_days: "3",
                max_reissues: "3",
            },
        )
        .await
        .unwrap();
    let (key, keys) = issue_with_keys(&app, product, client).await;
    let pins = keys
        .keys
        .iter()
        .map(|k| format!("{}={}", k.key_id, k.public_key))
        .collect();
    (app, key, pins)
}

/// Runs `portcullis license check` off the test's runtime (which also serves the licensing
/// server, so waiting on the process in place would block the server).
async fn cli_check(
    server: &str,
    key: &str,
    identity: &[(&str, &str)],
    pins: &[String],
) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    let dir = tempfile::tempdir().unwrap();
    cmd.args(["license", "check", "--server", server, "--key", key])
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", dir.path())
        .env("RUST_LOG", "warn");
    for (flag, value) in identity {
        cmd.args([*flag, *value]);
    }
    for pin in pins {
        cmd.args(["--public-key", pin]);
    }
    let out = tokio::task::spawn_blocking(move || {
        let out = cmd.output().unwrap();
        drop(dir);
        out
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn verdict_line(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix("verdict: "))
        .unwrap_or_else(|| panic!("no verdict in {output}"))
        .to_owned()
}

#[tokio::test]
async fn f03_the_cli_and_code_serving_a_web_request_give_the_same_verdict() {
    let (app, key, pins) = licensing_server().await;
    let identity = [
        ("--domain", "shop.example.com"),
        ("--ip", "203.0.113.10"),
        ("--directory", "/srv/shop"),
    ];
    let (ok, cli) = cli_check(&app.address, &key, &identity, &pins).await;
    assert!(ok, "{cli}");
    for step in ["DNS", "connect", "HTTP: 200", "signature"] {
        assert!(cli.contains(step), "the CLI prints the {step} step: {cli}");
    }

    // A web application that checks its licence while serving a request: the request's Host
    // and forwarding headers are an attacker's, the identity is the configured one.
    let server = app.address.clone();
    let pinned = portcullis::license::client::parse_pins(&pins).unwrap();
    let licence_key = key.clone();
    let web = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let target = portcullis::license::client::Target {
                server_url: server.clone(),
                key: licence_key.clone(),
                domain: "shop.example.com".into(),
                ip: "203.0.113.10".into(),
                directory: "/srv/shop".into(),
                pins: pinned.clone(),
                ..Default::default()
            };
            async move {
                let now = jiff::Timestamp::now().as_second();
                portcullis::license::client::check_online(target, now)
                    .await
                    .0
                    .to_string()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, web).await });
    let from_web = reqwest::Client::new()
        .get(format!("http://{addr}/"))
        .header("host", "evil.example")
        .header("x-forwarded-for", "198.51.100.66")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(from_web, verdict_line(&cli));

    // Both checks presented the same identity to the server.
    let presented: Vec<(String, String, String)> =
        sqlx::query_as("SELECT domain, ip, directory FROM license_checks ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(presented.len(), 2);
    assert_eq!(presented[0], presented[1]);
    assert_eq!(presented[0].0, "shop.example.com");
}

#[tokio::test]
async fn f03_a_missing_identity_is_named_with_where_to_set_it() {
    let (app, key, pins) = licensing_server().await;
    let (ok, out) = cli_check(
        &app.address,
        &key,
        &[("--domain", "shop.example.com"), ("--directory", "/srv")],
        &pins,
    )
    .await;
    assert!(!ok);
    let verdict = verdict_line(&out);
    assert!(
        verdict.contains("IP address") || verdict.contains("ip"),
        "{verdict}"
    );
    assert!(verdict.contains("--ip"), "{verdict}");
    let checks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM license_checks")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(checks, 0, "nothing is sent with an incomplete identity");
}

/// A server that answers every request with HTTP 500.
async fn broken_server() -> String {
    let router = axum::Router::new()
        .fallback(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn f07_license_connection_names_the_failing_step() {
    let (server, key, pins) = licensing_server().await;
    let with = |url: String, pins: Vec<String>| {
        let key = key.clone();
        move |c: &mut portcullis::config::RawConfig| {
            c.license.server_url = url;
            c.license.key = key;
            c.license.domain = "shop.example.com".into();
            c.license.ip = "203.0.113.10".into();
            c.license.directory = "/srv/shop".into();
            c.license.public_keys = pins;
        }
    };
    let good = spawn_with(with(server.address.clone(), pins.clone())).await;
    good.use_real_time();
    let ok = good.doctor_check("license.connection").await;
    assert_eq!(ok.severity.as_str(), "ok", "{ok:?}");
    assert!(
        ok.details.iter().any(|d| d.contains("signature")),
        "{:?}",
        ok.details
    );

    let cases = [
        (
            "http://licensing.invalid".to_owned(),
            pins.clone(),
            "Cannot resolve",
            "DNS resolver",
        ),
        (
            "http://127.0.0.1:9".to_owned(),
            pins.clone(),
            "",
            "firewall",
        ),
        (broken_server().await, pins.clone(), "500", "HTTP error"),
        // The real server, but pinned to a key it does not sign with.
        (
            server.address.clone(),
            vec![format!(
                "{}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                pins[0].split('=').next().unwrap()
            )],
            "",
            "pinned key",
        ),
    ];
    for (url, pins, summary_has, cause_has) in cases {
        let app = spawn_with(with(url.clone(), pins)).await;
        app.use_real_time();
        let check = app.doctor_check("license.connection").await;
        assert_eq!(check.severity.as_str(), "error", "{url}: {check:?}");
        assert!(
            check.summary.contains(summary_has),
            "{url}: {}",
            check.summary
        );
        assert!(
            check.cause.contains(cause_has) || check.next_step.contains(cause_has),
            "{url}: {} / {}",
            check.cause,
            check.next_step
        );
        assert!(!check.details.is_empty(), "{url}: the steps are listed");
    }

    // Not configured: nothing to check.
    let none = spawn_app().await;
    assert_eq!(
        none.doctor_check("license.connection")
            .await
            .severity
            .as_str(),
        "ok"
    );
}

#[tokio::test]
async fn the_scheduler_rechecks_the_installations_licence_daily() {
    let (server, key, pins) = licensing_server().await;
    let app = spawn_with(|c| {
        c.proxy.cloudflare_refresh_hours = 0;
        c.license.server_url = server.address.clone();
        c.license.key = key.clone();
        c.license.domain = "portal.example.com".into();
        c.license.ip = "203.0.113.20".into();
        c.license.directory = "/opt/portcullis".into();
        c.license.public_keys = pins.clone();
    })
    .await;
    app.use_real_time();
    let report = portcullis::scheduler::run_due(&app.state, portcullis::scheduler::Process::Serve)
        .await
        .unwrap();
    let recheck = report
        .tasks
        .iter()
        .find(|t| t.task == "license.recheck")
        .expect("the licence is re-checked");
    assert!(recheck.ok, "{recheck:?}");
    let bound: String = sqlx::query_scalar("SELECT domains FROM licenses")
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(
        bound, "portal.example.com",
        "the configured identity was presented"
    );
}

#[tokio::test]
async fn f07_a_product_with_default_interval_and_grace_keeps_the_verifier_valid_offline_three_days_past_due()
 {
    let (app, stop) = spawn_stoppable().await;
    let admin = app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    app.admin_login(&admin).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/licenses").await;
    // Name and prefix only: the interval and grace are not entered.
    let r = app
        .post_form(
            &app.client,
            "/admin/licenses/products",
            &[
                ("name", "Acme Panel"),
                ("key_prefix", "ACME"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (product, interval, grace): (i64, i64, i64) =
        sqlx::query_as("SELECT id, check_interval_days, grace_days FROM license_products")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((interval, grace), (7, 3), "the defaults");
    let client: i64 = sqlx::query_scalar("SELECT id FROM clients LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let (key, keys) = issue_with_keys(&app, product, client).await;

    // The vendor's software: the crate as a library, on the server's (mock) time.
    let dir = tempfile::tempdir().unwrap();
    let mut config = license_verifier::Config::new(
        app.address.clone(),
        keys.keys,
        key,
        dir.path().join("licence.json"),
    );
    config.domain = Some("shop.example.com".into());
    config.ip = Some("203.0.113.10".into());
    config.directory = Some("/srv/shop".into());
    let verifier = std::sync::Arc::new(license_verifier::Verifier::new(config));
    let check_at = |now: i64| {
        let verifier = verifier.clone();
        async move {
            tokio::task::spawn_blocking(move || verifier.check_with_steps(now))
                .await
                .unwrap()
        }
    };
    let t0 = app.state.clock.unix();
    let (verdict, steps) = check_at(t0).await;
    assert_eq!(verdict, license_verifier::Verdict::Valid, "{steps:#?}");

    stop.send(()).unwrap();
    let port = app.port;
    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(closed, "the server stopped");

    let day = 86_400;
    let grace_until = t0 + 10 * day;
    let (verdict, steps) = check_at(t0 + 8 * day).await;
    assert_eq!(
        verdict,
        license_verifier::Verdict::ValidOffline { grace_until },
        "past the 7-day check, inside the 3 days' grace: {steps:#?}"
    );
    let (verdict, steps) = check_at(grace_until + 1).await;
    match verdict {
        license_verifier::Verdict::NoConnection {
            step: license_verifier::StepKind::Connect,
            grace_until: Some(g),
            ..
        } => assert_eq!(g, grace_until),
        other => panic!("{other:?} {steps:#?}"),
    }
}

/// A TLS server on 127.0.0.1 with a fresh self-signed certificate for `localhost` that answers
/// every request with HTTP 500; returns its URL and the certificate as PEM.
fn self_signed_tls_server() -> (String, String) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::io::{Read as _, Write as _};
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = ck.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(ck.cert.der().to_vec())], key)
        .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            // A client that refuses the certificate ends the handshake here: that connection only.
            let mut buf = [0u8; 4096];
            if tls.read(&mut buf).is_ok_and(|n| n > 0) {
                let _ = tls.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    });
    (format!("https://localhost:{port}"), pem)
}

#[tokio::test]
async fn f07_license_connection_names_the_tls_step_for_an_untrusted_certificate_and_ca_file_trusts_it()
 {
    let (_server, key, pins) = licensing_server().await;
    let (url, pem) = self_signed_tls_server();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &pem).unwrap();
    let configure = |ca_file: String| {
        let (url, key, pins) = (url.clone(), key.clone(), pins.clone());
        move |c: &mut portcullis::config::RawConfig| {
            c.license.server_url = url;
            c.license.key = key;
            c.license.ip = "203.0.113.10".into();
            c.license.directory = "/srv/shop".into();
            c.license.public_keys = pins;
            c.license.ca_file = ca_file;
        }
    };
    let untrusted = spawn_with(configure(String::new())).await;
    untrusted.use_real_time();
    let check = untrusted.doctor_check("license.connection").await;
    assert_eq!(check.severity.as_str(), "error", "{check:?}");
    assert!(check.cause.contains("TLS handshake failed"), "{check:?}");
    assert!(check.next_step.contains("license.ca_file"), "{check:?}");
    assert!(
        check.details.iter().any(|d| d.starts_with("TLS: FAILED")),
        "{:?}",
        check.details
    );

    // Trusting the certificate with license.ca_file: TLS passes, and the HTTP step is next.
    let trusted = spawn_with(configure(ca.path().display().to_string())).await;
    trusted.use_real_time();
    let check = trusted.doctor_check("license.connection").await;
    assert_eq!(check.severity.as_str(), "error", "{check:?}");
    assert!(check.summary.contains("500"), "{check:?}");
    assert!(check.cause.contains("HTTP error"), "{check:?}");

    // An unreadable ca_file is named.
    let missing = spawn_with(configure("/nonexistent/ca.pem".into())).await;
    let check = missing.doctor_check("license.connection").await;
    assert_eq!(check.severity.as_str(), "error");
    assert!(
        check
            .summary
            .contains("license.ca_file /nonexistent/ca.pem"),
        "{check:?}"
    );
}

#[tokio::test]
async fn f03_the_licence_domain_defaults_to_the_system_urls_host() {
    let (server, key, pins) = licensing_server().await;
    let app = spawn_with(|c| {
        c.server.system_url = "https://portal.example.com/".into();
        c.license.server_url = server.address.clone();
        c.license.key = key.clone();
        c.license.ip = "203.0.113.20".into();
        c.license.directory = "/opt/portcullis".into();
        c.license.public_keys = pins.clone();
    })
    .await;
    app.use_real_time();
    let license = app.state.config.license.as_ref().unwrap();
    assert_eq!(license.domain, "portal.example.com");
    assert!(license.domain_from_system_url);
    let check = app.doctor_check("license.connection").await;
    assert_eq!(check.severity.as_str(), "ok", "{check:?}");
    let presented: String = sqlx::query_scalar("SELECT domain FROM license_checks")
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(
        presented, "portal.example.com",
        "the server saw the System URL's host"
    );

    // A configured domain wins.
    let explicit = spawn_with(|c| {
        c.server.system_url = "https://portal.example.com/".into();
        c.license.server_url = server.address.clone();
        c.license.key = key.clone();
        c.license.domain = "licensed.example.net".into();
        c.license.public_keys = pins.clone();
    })
    .await;
    let license = explicit.state.config.license.as_ref().unwrap();
    assert_eq!(license.domain, "licensed.example.net");
    assert!(!license.domain_from_system_url);
}

#[tokio::test]
async fn the_cli_fetches_the_keys_without_public_key_and_prints_a_human_failure() {
    let (app, key, _) = licensing_server().await;
    let identity = [
        ("--domain", "shop.example.com"),
        ("--ip", "203.0.113.10"),
        ("--directory", "/srv/shop"),
    ];
    let (ok, out) = cli_check(&app.address, &key, &identity, &[]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("trusting the 1 key(s) the server published"),
        "{out}"
    );
    assert!(out.contains("signature: ok"), "{out}");

    // Nothing listens: the key download fails at connect, said as the verdict's message.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (ok, out) = cli_check(&url, &key, &identity, &[]).await;
    assert!(!ok);
    let verdict = verdict_line(&out);
    assert!(verdict.contains("firewall"), "{verdict}");
    assert!(
        !verdict.contains("Connect step"),
        "no debug text: {verdict}"
    );
}
