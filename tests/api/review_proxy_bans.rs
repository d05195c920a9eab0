//! Issue 18, items 2, 3 (IPv6 /64), 12 and 18: client addresses behind proxies, ban scopes, and
//! when `serve` asks Cloudflare for its ranges. Each test runs against a running server and
//! fails without its fix.

use crate::helpers::*;
use portcullis::domain::Actor;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Fails the admin sign-in for `alice` `times` times from fresh browsers sending `headers`;
/// returns each answer's status (the sign-in page's, when that was already refused).
async fn fail_admin(base: &str, times: usize, headers: &[(&str, &str)]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..times {
        let browser = new_client();
        let with =
            |rb: reqwest::RequestBuilder| headers.iter().fold(rb, |rb, (k, v)| rb.header(*k, *v));
        let page = with(browser.get(format!("{base}/admin/login")))
            .send()
            .await
            .unwrap();
        if page.status() != 200 {
            statuses.push(page.status().as_u16());
            continue;
        }
        let csrf = csrf_from(&page.text().await.unwrap());
        let r = with(browser.post(format!("{base}/admin/login")))
            .form(&[
                ("username", "alice"),
                ("password", "wrong-Password-for-alice-77"),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    statuses
}

/// The status of `path` for a fresh browser sending `headers`.
async fn status_of(base: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    headers
        .iter()
        .fold(new_client().get(format!("{base}{path}")), |rb, (k, v)| {
            rb.header(*k, *v)
        })
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn banned_keys(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT ip, scope FROM bans ORDER BY ip, scope")
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

// ---- Item 2: forged client addresses behind a proxy ----

#[tokio::test]
async fn after_the_doctors_cloudflare_fix_a_chosen_cf_connecting_ip_from_a_non_cloudflare_peer_neither_bans_that_address_nor_escapes_the_ban()
 {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    portcullis::proxy::trust_cloudflare(&app.state, &Actor::System, "")
        .await
        .expect("the fix applies");
    let base = app.url("");
    let base = base.trim_end_matches('/');
    // Straight to the origin (the peer is loopback, not Cloudflare), choosing the header.
    let chosen = [("cf-connecting-ip", "203.0.113.5")];
    assert_eq!(fail_admin(base, 3, &chosen).await, [401, 401, 401]);
    assert_eq!(
        banned_keys(&app).await,
        [("127.0.0.1".to_owned(), "admin".to_owned())],
        "the ban falls on the real peer, not on the chosen address"
    );
    assert_eq!(
        status_of(base, "/admin/login", &[("cf-connecting-ip", "203.0.113.6")]).await,
        403,
        "changing the header does not escape the ban"
    );
}

#[tokio::test]
async fn through_nginx_a_chosen_cf_connecting_ip_is_ignored_and_the_address_nginx_saw_is_banned() {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    portcullis::proxy::trust_cloudflare(&app.state, &Actor::System, "")
        .await
        .unwrap();
    let base = app.url("");
    let base = base.trim_end_matches('/');
    // nginx on loopback appended the address that connected to it; the visitor also forged a
    // Cloudflare edge address further left.
    let forged = [
        ("cf-connecting-ip", "203.0.113.5"),
        ("x-forwarded-for", "173.245.48.1, 198.51.100.9"),
    ];
    assert_eq!(fail_admin(base, 3, &forged).await, [401, 401, 401]);
    assert_eq!(
        banned_keys(&app).await,
        [("198.51.100.9".to_owned(), "admin".to_owned())]
    );
    let other_header = [
        ("cf-connecting-ip", "203.0.113.77"),
        ("x-forwarded-for", "198.51.100.9"),
    ];
    assert_eq!(status_of(base, "/admin/login", &other_header).await, 403);
}

#[tokio::test]
async fn the_legitimate_cloudflare_path_through_nginx_still_reads_cf_connecting_ip() {
    // The stand-in list makes 192.0.2.0/24 Cloudflare's edge.
    let url = fake_cloudflare("192.0.2.0/24\n", "2400:cb00::/32\n").await;
    let app = spawn_with(move |c| c.proxy.cloudflare_url = url).await;
    portcullis::proxy::refresh_cloudflare(&app.state)
        .await
        .unwrap();
    portcullis::proxy::trust_cloudflare(&app.state, &Actor::System, "")
        .await
        .unwrap();
    let user = app.create_user("ada@example.com").await;
    // Cloudflare's edge 192.0.2.10 connected to nginx, which appended it.
    let r = app
        .client_login_via(
            &user,
            PASSWORD,
            &[
                ("cf-connecting-ip", "203.0.113.44"),
                ("x-forwarded-for", "203.0.113.44, 192.0.2.10"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.last_session_ip().await, "203.0.113.44");
}

#[tokio::test]
async fn x_real_ip_that_x_forwarded_for_contradicts_is_not_believed() {
    let app = spawn_with(|c| {
        c.proxy.header = "X-Real-IP".into();
        c.proxy.trusted = vec!["loopback".into()];
    })
    .await;
    let user = app.create_user("ada@example.com").await;
    // nginx appended the address it saw but passed the visitor's own X-Real-IP through.
    app.client_login_via(
        &user,
        PASSWORD,
        &[
            ("x-real-ip", "203.0.113.5"),
            ("x-forwarded-for", "198.51.100.9"),
        ],
    )
    .await;
    assert_eq!(app.last_session_ip().await, "198.51.100.9");
    // A proxy that sets both writes the same address into both: believed.
    app.client_login_via(
        &user,
        PASSWORD,
        &[
            ("x-real-ip", "198.51.100.10"),
            ("x-forwarded-for", "198.51.100.10"),
        ],
    )
    .await;
    assert_eq!(app.last_session_ip().await, "198.51.100.10");
}

/// A `portcullis serve` on a fresh data directory with the built-in defaults and `env`.
fn serve(dir: &std::path::Path, port: u16, env: &[(&str, String)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", dir)
        .env("PORTCULLIS__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "PORTCULLIS__SERVER__SYSTEM_URL",
            format!("http://127.0.0.1:{port}/"),
        )
        .env("PORTCULLIS__PROXY__CLOUDFLARE_URL", NO_CLOUDFLARE)
        .env("PORTCULLIS__MAIL__TRANSPORT", "file")
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_until_up(base: &str) {
    for _ in 0..300 {
        if let Ok(r) = new_client().get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("serve did not come up at {base}");
}

#[tokio::test]
async fn with_the_default_trusted_loopback_a_chosen_x_real_ip_neither_bans_that_address_nor_escapes_the_ban()
 {
    // A real server whose proxy.trusted is the built-in default: only the header is chosen, as
    // an operator following a tutorial would, with a same-host nginx that passes X-Real-IP on.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(
        dir.path(),
        port,
        &[("PORTCULLIS__PROXY__HEADER", "X-Real-IP".into())],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&base).await;
    let statuses = fail_admin(&base, 3, &[("x-real-ip", "203.0.113.5")]).await;
    let escaped = status_of(&base, "/admin/login", &[("x-real-ip", "203.0.113.6")]).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(statuses, [401, 401, 401]);
    assert_eq!(escaped, 403, "changing X-Real-IP does not escape the ban");
}

// ---- Item 12: ban scope ----

#[tokio::test]
async fn failed_admin_sign_ins_ban_the_admin_area_only_and_customers_behind_that_address_keep_the_client_area()
 {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    let user = app.create_user("ada@example.com").await;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let office = [("x-forwarded-for", "198.51.100.66")];
    assert_eq!(fail_admin(base, 4, &office).await, [401, 401, 401, 403]);
    assert_eq!(status_of(base, "/admin/login", &office).await, 403);
    assert_eq!(status_of(base, "/login", &office).await, 200);
    let r = app.client_login_via(&user, PASSWORD, &office).await;
    assert_eq!(
        r.status(),
        303,
        "a customer behind the same NAT signs in to the client area"
    );
    assert_eq!(
        banned_keys(&app).await,
        [("198.51.100.66".to_owned(), "admin".to_owned())]
    );
}

#[tokio::test]
async fn failed_client_sign_ins_ban_the_client_area_only() {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    let user = app.create_user("ada@example.com").await;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let from = [("x-forwarded-for", "198.51.100.70")];
    for _ in 0..10 {
        // Past the account's own growing delay (crate::throttle), so each attempt is checked
        // and counts for the address.
        app.clock.advance(40);
        app.client_login_via(&user, "wrong-Password-for-ada-77", &from)
            .await;
    }
    assert_eq!(status_of(base, "/login", &from).await, 403);
    assert_eq!(status_of(base, "/admin/login", &from).await, 200);
}

#[tokio::test]
async fn a_ban_by_hand_covers_both_areas_by_default_or_the_one_chosen_and_the_page_says_which() {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    let admin = app.signed_in_admin("alice").await;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let (page, csrf) = app.form_page(&admin, "/admin/bans").await;
    assert!(
        page.contains("failed admin sign-ins ban the address from the admin area only"),
        "the page explains the scopes"
    );
    for (ip, scope) in [("203.0.113.9", ""), ("203.0.113.10", "admin")] {
        let r = app
            .post_form(
                &admin,
                "/admin/bans",
                &[
                    ("ip", ip),
                    ("reason", "card testing"),
                    ("minutes", "60"),
                    ("scope", scope),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
    }
    let both = [("x-forwarded-for", "203.0.113.9")];
    let admin_only = [("x-forwarded-for", "203.0.113.10")];
    assert_eq!(status_of(base, "/login", &both).await, 403);
    assert_eq!(status_of(base, "/admin/login", &both).await, 403);
    assert_eq!(status_of(base, "/login", &admin_only).await, 200);
    assert_eq!(status_of(base, "/admin/login", &admin_only).await, 403);
    let listed = admin
        .get(app.url("/admin/bans"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains("admin and client areas"), "{listed}");
    assert!(listed.contains("<td>admin area</td>"), "{listed}");
    let r = app
        .post_form(
            &admin,
            "/admin/bans",
            &[
                ("ip", "203.0.113.11"),
                ("reason", "spam"),
                ("minutes", ""),
                ("scope", "everywhere"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"scope-error\""));
}

// ---- Item 3 (part): IPv6 per /64 ----

#[tokio::test]
async fn failures_from_one_ipv6_64_count_together_and_the_ban_covers_the_whole_64() {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let mut statuses = Vec::new();
    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        statuses.extend(fail_admin(base, 1, &[("x-forwarded-for", host)]).await);
    }
    assert_eq!(statuses, [401, 401, 401]);
    assert_eq!(
        status_of(
            base,
            "/admin/login",
            &[("x-forwarded-for", "2001:db8:1:2::99")]
        )
        .await,
        403,
        "another address in the same /64 is banned too"
    );
    assert_eq!(
        status_of(
            base,
            "/admin/login",
            &[("x-forwarded-for", "2001:db8:1:3::1")]
        )
        .await,
        200,
        "the neighbouring /64 is not"
    );
    assert_eq!(
        banned_keys(&app).await,
        [("2001:db8:1:2::/64".to_owned(), "admin".to_owned())]
    );
    // IPv4 stays per address.
    for _ in 0..3 {
        fail_admin(base, 1, &[("x-forwarded-for", "198.51.100.1")]).await;
    }
    assert_eq!(
        status_of(base, "/admin/login", &[("x-forwarded-for", "198.51.100.2")]).await,
        200
    );
    // Lifting by one address of the /64 lifts the /64.
    let bans = portcullis::ban::Bans::from(&app.state);
    let lifted = bans
        .lift(
            "2001:db8:1:2::1234",
            &Actor::Named("cli".into()),
            Some("local"),
        )
        .await
        .unwrap();
    assert_eq!(lifted, "2001:db8:1:2::/64");
    assert_eq!(
        status_of(
            base,
            "/admin/login",
            &[("x-forwarded-for", "2001:db8:1:2::99")]
        )
        .await,
        200
    );
}

// ---- Item 18: when Cloudflare is asked ----

/// A stand-in for Cloudflare's list endpoints that counts the requests it gets.
async fn counting_cloudflare() -> (String, Arc<AtomicUsize>) {
    use axum::routing::get;
    let hits = Arc::new(AtomicUsize::new(0));
    let (h4, h6) = (hits.clone(), hits.clone());
    let router = axum::Router::new()
        .route(
            "/ips-v4",
            get(move || async move {
                h4.fetch_add(1, Ordering::SeqCst);
                "173.245.48.0/20\n"
            }),
        )
        .route(
            "/ips-v6",
            get(move || async move {
                h6.fetch_add(1, Ordering::SeqCst);
                "2400:cb00::/32\n"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}"), hits)
}

#[tokio::test]
async fn test_servers_never_point_at_cloudflares_real_host() {
    let app = spawn_app().await;
    assert_eq!(app.state.config.cloudflare_url, NO_CLOUDFLARE);
}

#[tokio::test]
async fn the_scheduled_refresh_asks_cloudflare_only_while_cloudflare_is_configured() {
    use portcullis::scheduler::{Process, run_due};
    let (url, hits) = counting_cloudflare().await;
    let app = spawn_with(move |c| c.proxy.cloudflare_url = url).await;
    let report = run_due(&app.state, Process::Cron).await.unwrap();
    assert!(
        report.tasks.iter().all(|t| t.task != "cloudflare.refresh"),
        "{:?}",
        report.tasks
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    portcullis::proxy::trust_cloudflare(&app.state, &Actor::System, "")
        .await
        .unwrap();
    let report = run_due(&app.state, Process::Cron).await.unwrap();
    assert!(
        report
            .tasks
            .iter()
            .any(|t| t.task == "cloudflare.refresh" && t.ok),
        "{:?}",
        report.tasks
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one request per family");
}

#[tokio::test]
async fn serve_does_not_ask_cloudflare_at_start_even_with_cloudflare_configured() {
    let (url, hits) = counting_cloudflare().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(
        dir.path(),
        port,
        &[
            ("PORTCULLIS__PROXY__HEADER", "CF-Connecting-IP".into()),
            ("PORTCULLIS__PROXY__CLOUDFLARE_URL", url),
            ("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "24".into()),
        ],
    );
    // Wait for the scheduler's first run at start to finish (every task it took is recorded).
    let db = format!(
        "sqlite://{}?mode=ro",
        dir.path().join("portcullis.db").display()
    );
    let mut tasks: Option<Vec<String>> = None;
    for _ in 0..300 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let Ok(pool) = portcullis::bootstrap::connect(&db, 1).await else {
            continue;
        };
        let finished: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM scheduler_runs WHERE process = 'serve' AND finished_at > 0",
        )
        .fetch_optional(&pool)
        .await
        .ok()
        .flatten();
        if let Some(id) = finished {
            tasks = sqlx::query_scalar("SELECT task FROM scheduler_task_runs WHERE run_id = $1")
                .bind(id)
                .fetch_all(&pool)
                .await
                .ok();
        }
        pool.close().await;
        if tasks.is_some() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let tasks = tasks.expect("serve finished its first scheduler run");
    assert!(tasks.iter().any(|t| t == "sessions.cleanup"), "{tasks:?}");
    assert!(
        !tasks.iter().any(|t| t == "cloudflare.refresh"),
        "{tasks:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the built-in list is used until the first refresh, a minute after start"
    );
}
