//! Issue 18, item 16 (F07) on running processes: the installation's own licence keeps its
//! offline grace across processes (the last signed answer lives in the data directory, not in a
//! per-process temporary file), a licence whose domain AND address moved names both, and a
//! licensing server's 429 reads as a rate limit (with its Retry-After), not maintenance.

use crate::helpers::*;
use std::process::Command;

/// A licensing server (a test app, on the real clock) with one product and one licence of
/// `client`'s, preset to `domains`/`ips` (empty: bound at the first check). Returns the key and
/// the pins (`KEY_ID=KEY`).
async fn licence_on(app: &TestApp, domains: &[&str], ips: &[&str]) -> (String, Vec<String>) {
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
    let (_, key) = portcullis::license::issue(
        &app.state,
        &portcullis::license::IssueRequest {
            product_id: product,
            client_id: client,
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            ips: ips.iter().map(|d| (*d).to_owned()).collect(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let keys: license_verifier::protocol::KeyList = reqwest::get(app.url("/api/license/v1/keys"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pins = keys
        .keys
        .iter()
        .map(|k| format!("{}={}", k.key_id, k.public_key))
        .collect();
    (key, pins)
}

/// A configuration file for an installation holding `key` from `server`, with its data
/// directory `dir`.
fn installation_config(dir: &std::path::Path, server: &str, key: &str, pins: &[String]) {
    let pins: Vec<String> = pins.iter().map(|p| format!("{p:?}")).collect();
    let toml = format!(
        "data_dir = {data:?}\n\n[license]\nserver_url = {server:?}\nkey = {key:?}\n\
         domain = \"shop.example.com\"\nip = \"203.0.113.10\"\ndirectory = \"/srv/shop\"\n\
         public_keys = [{}]\n",
        pins.join(", "),
        data = dir.display().to_string(),
    );
    std::fs::write(dir.join("portcullis.toml"), toml).unwrap();
}

/// `portcullis ARGS` as a new process of the installation in `dir`.
async fn installation(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env_remove("PORTCULLIS_CONFIG")
            .env("RUST_LOG", "warn")
            .arg("--config")
            .arg(dir.join("portcullis.toml"))
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// `portcullis doctor --json` as a new process of the installation in `dir`; returns the
/// `license.connection` check.
async fn doctor_license_check(dir: &std::path::Path) -> serde_json::Value {
    let out = installation(dir, &["doctor", "--json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed JSON ({e}): {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "license.connection")
        .cloned()
        .unwrap_or_else(|| panic!("the doctor ran license.connection: {json}"))
}

/// `portcullis license check` with a fresh data directory; returns the verdict line.
async fn cli_verdict(server: &str, key: &str, identity: &[&str], pins: &[String]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.args(["license", "check", "--server", server, "--key", key])
        .args(identity)
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", dir.path())
        .env("RUST_LOG", "warn");
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
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("verdict: "))
        .unwrap_or_else(|| panic!("no verdict in {stdout}"))
        .to_owned()
}

#[tokio::test]
async fn after_the_licensing_server_stops_a_new_doctor_process_still_finds_the_licence_valid_within_its_grace()
 {
    let (server, stop) = spawn_stoppable().await;
    let (key, pins) = licence_on(&server, &[], &[]).await;
    let install = tempfile::tempdir().unwrap();
    installation_config(install.path(), &server.address, &key, &pins);
    assert!(
        installation(install.path(), &["migrate"])
            .await
            .status
            .success()
    );

    let online = doctor_license_check(install.path()).await;
    assert_eq!(online["severity"], "ok", "{online}");

    stop.send(()).unwrap();
    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(closed, "the licensing server stopped");

    let offline = doctor_license_check(install.path()).await;
    assert_eq!(
        offline["severity"], "warning",
        "usable, not an error: {offline}"
    );
    let summary = offline["summary"].as_str().unwrap();
    assert!(
        summary.contains("stays valid offline until"),
        "the grace is honoured by a new process: {offline}"
    );
    assert!(
        offline["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().contains("connect")),
        "the failing step is listed: {offline}"
    );

    // The answer is kept in the data directory, owner-only, not in a temporary file.
    let saved: Vec<_> = std::fs::read_dir(install.path().join("license"))
        .expect("the local key's directory is in the data directory")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1, "one local key: {saved:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&saved[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by the owner only: {mode:o}");
    }
}

#[tokio::test]
async fn a_licence_whose_domain_and_address_both_moved_names_both() {
    let server = spawn_app().await;
    let (key, pins) = licence_on(&server, &["shop.example.com"], &["203.0.113.10"]).await;
    let verdict = cli_verdict(
        &server.address,
        &key,
        &[
            "--domain",
            "new.example.org",
            "--ip",
            "198.51.100.7",
            "--directory",
            "/srv/shop",
        ],
        &pins,
    )
    .await;
    assert!(
        verdict.starts_with(
            "This licence is bound to the domain shop.example.com, but this installation is \
             new.example.org; and to the IP address 203.0.113.10, but this installation is \
             198.51.100.7. If you moved it"
        ),
        "{verdict}"
    );
}

#[tokio::test]
async fn a_rate_limited_check_is_explained_as_a_rate_limit_with_its_retry_after() {
    let server = spawn_with(|c| c.license_server.per_key_per_minute = 1).await;
    let (key, pins) = licence_on(&server, &[], &[]).await;
    let identity = [
        "--domain",
        "shop.example.com",
        "--ip",
        "203.0.113.10",
        "--directory",
        "/srv/shop",
    ];
    let first = cli_verdict(&server.address, &key, &identity, &pins).await;
    assert_eq!(first, "The licence is valid.");
    let limited = cli_verdict(&server.address, &key, &identity, &pins).await;
    assert!(limited.contains("HTTP 429"), "{limited}");
    assert!(limited.contains("Retry-After: 60 seconds"), "{limited}");
    assert!(limited.contains("rate limit"), "{limited}");
    assert!(!limited.contains("down for maintenance"), "{limited}");

    // The doctor of an installation with a fresh data directory says the same.
    let install = spawn_with(|c| {
        c.license.server_url = server.address.clone();
        c.license.key = key.clone();
        c.license.domain = "shop.example.com".into();
        c.license.ip = "203.0.113.10".into();
        c.license.directory = "/srv/shop".into();
        c.license.public_keys = pins.clone();
    })
    .await;
    install.use_real_time();
    let check = install.doctor_check("license.connection").await;
    assert_eq!(check.severity.as_str(), "error", "{check:?}");
    assert!(check.cause.contains("rate limit"), "{}", check.cause);
    assert!(check.summary.contains("Retry-After"), "{}", check.summary);
}

/// Issue 18, item 8: an account whose address is not confirmed gets no licence (the admin's
/// issue is refused, saying why) and sees no keys (the page says to confirm the address first
/// and offers a new link); once the link is followed, both work.
#[tokio::test]
async fn an_unconfirmed_account_gets_no_licence_until_its_address_is_confirmed() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let password = "tidal-Quartz-lantern-91";
    let (_, csrf) = app.form_page(&app.client, "/register").await;
    let r = app
        .post_form(
            &app.client,
            "/register",
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("email", "grace@example.com"),
                ("password", password),
                ("password_confirm", password),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    // Registering signs nobody in (it must not reveal a taken address); Grace signs in before
    // confirming her address.
    assert_eq!(r.status(), 200, "registered");
    let signed_in = app
        .client_login_with(&app.client, "grace@example.com", password)
        .await;
    assert_eq!(signed_in.status(), 303, "an unconfirmed account signs in");
    app.follow_sign_in(&app.client, &signed_in).await;
    let account: i64 = sqlx::query_scalar(
        "SELECT c.id FROM clients c JOIN users u ON u.id = c.owner_user_id WHERE u.email = $1",
    )
    .bind("grace@example.com")
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let product = portcullis::license::Licenses::from(&app.state)
        .create_product(
            portcullis::domain::AdminId(1),
            &portcullis::license::ProductDraft {
                name: "Acme Panel",
                key_prefix: "ACME",
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let admin = app.signed_in_admin("root").await;
    let issue = || async {
        let (_, csrf) = app.form_page(&admin, "/admin/licenses").await;
        app.post_form(
            &admin,
            "/admin/licenses",
            &[
                ("product_id", product.to_string().as_str()),
                ("client_id", account.to_string().as_str()),
                ("expires", ""),
                ("domains", ""),
                ("ips", ""),
                ("directories", ""),
                ("csrf_token", &csrf),
            ],
        )
        .await
    };
    let refused = issue().await;
    assert_ne!(refused.status(), 303, "not issued");
    let body = refused.text().await.unwrap();
    assert!(
        body.contains(&format!(
            "Client account {account}: its owner grace@example.com has not confirmed their email \
             address yet"
        )),
        "{body}"
    );
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM licenses")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);

    let page = app.get("/account/licenses").await.text().await.unwrap();
    assert!(
        page.contains("Confirm your email address first")
            && page.contains("grace@example.com")
            && page.contains("action=\"/account/verify-email/resend\""),
        "{page}"
    );

    // Confirmed through the link: the licence is issued and its key shown.
    let bodies: Vec<String> = sqlx::query_scalar("SELECT text_body FROM mail_messages ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    let verify = crate::helpers::smtp::link(&bodies[0], &app.url("/verify-email/"))
        .replace(&app.address, "");
    assert_eq!(app.get(&verify).await.status(), 200);
    assert_eq!(issue().await.status(), 303, "issued once confirmed");
    let page = app.get("/account/licenses").await.text().await.unwrap();
    assert!(page.contains("Key: <code>ACME-"), "{page}");
    assert!(!page.contains("Confirm your email address first"), "{page}");
}
