//! F01 · Behind Cloudflare or another proxy: the client address, its diagnosis and the fix.

use crate::helpers::*;
use portcullis::doctor::Severity;

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_with(|c| c.proxy.trusted = vec![]).await;
    let user = app.create_user("ada@example.com").await;
    let r = app
        .client_login_via(&user, PASSWORD, &[("x-forwarded-for", "198.51.100.7")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.last_session_ip().await, "127.0.0.1");
}

#[tokio::test]
async fn behind_trusted_proxies_the_chain_is_read_right_to_left() {
    let app = spawn_with(|c| c.proxy.trusted = vec!["loopback".into(), "10.0.0.0/8".into()]).await;
    let user = app.create_user("ada@example.com").await;
    let r = app
        .client_login_via(
            &user,
            PASSWORD,
            &[(
                "x-forwarded-for",
                "1.1.1.1, 198.51.100.7, 10.0.0.2, 10.0.0.3",
            )],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.last_session_ip().await,
        "198.51.100.7",
        "the forged leftmost entry is not believed"
    );
}

#[tokio::test]
async fn the_rfc7239_forwarded_header_can_be_selected() {
    let app = spawn_with(|c| c.proxy.header = "Forwarded".into()).await;
    let user = app.create_user("ada@example.com").await;
    app.client_login_via(
        &user,
        PASSWORD,
        &[("forwarded", "for=\"[2001:db8::5]:4711\";proto=https")],
    )
    .await;
    assert_eq!(app.last_session_ip().await, "2001:db8::5");
}

#[tokio::test]
async fn hostile_forwarding_headers_resolve_to_something_sane_and_are_reported() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let huge = "garbage, ".repeat(7000);
    let r = app
        .client_login_via(&user, PASSWORD, &[("x-forwarded-for", huge.as_str())])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.last_session_ip().await, "127.0.0.1");
    let check = app.doctor_check("proxy.sanity").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(
        check.summary.contains("unreadable entries"),
        "{}",
        check.summary
    );
}

pub(crate) async fn behind_unconfigured_cloudflare() -> TestApp {
    // Cloudflare's list is served by a local stand-in that says loopback is Cloudflare, so the
    // test's own connections arrive "from Cloudflare"; loopback is deliberately not trusted.
    let url = fake_cloudflare("127.0.0.0/8\n", "::1/128\n").await;
    let app = spawn_with(move |c| {
        c.proxy.trusted = vec![];
        c.proxy.cloudflare_url = url;
    })
    .await;
    portcullis::proxy::refresh_cloudflare(&app.state)
        .await
        .expect("the stand-in list is accepted");
    app
}

#[tokio::test]
async fn f01_cloudflare_traffic_with_untrusted_ranges_fails_the_doctor_and_the_button_fixes_it() {
    let app = behind_unconfigured_cloudflare().await;
    let user = app.create_user("ada@example.com").await;
    let admin = app.create_admin("alice").await;
    assert_eq!(
        app.doctor_check("proxy.cloudflare").await.severity,
        Severity::Ok
    );

    app.client_login_via(
        &user,
        PASSWORD,
        &[
            ("cf-connecting-ip", "198.51.100.20"),
            ("cf-ray", "8a1b2c3d4e5f-AMS"),
        ],
    )
    .await;
    assert_eq!(
        app.last_session_ip().await,
        "127.0.0.1",
        "every visitor looks like the Cloudflare edge"
    );
    let check = app.doctor_check("proxy.cloudflare").await;
    assert_eq!(check.severity, Severity::Error);
    assert!(check.fixable);
    assert!(
        check.summary.contains("sample peer 127.0.0.1"),
        "{}",
        check.summary
    );

    app.admin_login(&admin).await;
    let health = app.get("/admin/health").await.text().await.unwrap();
    assert!(health.contains("ranges now</button>"));
    let r = app
        .post_form(
            &app.client,
            "/admin/health/fix",
            &[
                ("id", "proxy.cloudflare"),
                ("csrf_token", &csrf_from(&health)),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/health?fixed=proxy.cloudflare");
    let after = app.get(&location(&r)).await.text().await.unwrap();
    assert!(after.contains("Applied the fix for proxy.cloudflare"));

    assert_eq!(
        app.doctor_check("proxy.cloudflare").await.severity,
        Severity::Ok
    );
    app.client_login_via(&user, PASSWORD, &[("cf-connecting-ip", "198.51.100.20")])
        .await;
    assert_eq!(
        app.last_session_ip().await,
        "198.51.100.20",
        "the resolved address changed"
    );
    let audit: Vec<(String, String)> = sqlx::query_as("SELECT actor, action FROM audit_log")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(
        audit.contains(&(app.admin_actor("alice").await, "doctor.fix".into())),
        "{audit:?}"
    );
}

#[tokio::test]
async fn f01_the_fix_needs_a_valid_csrf_token() {
    let app = behind_unconfigured_cloudflare().await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let r = app
        .post_form(
            &app.client,
            "/admin/health/fix",
            &[("id", "proxy.cloudflare")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        !portcullis::settings::current(&app.state)
            .await
            .cloudflare_trusted
    );
}

#[tokio::test]
async fn f01_the_cli_fix_reaches_a_running_server_within_the_refresh_bound() {
    let app = behind_unconfigured_cloudflare().await;
    let user = app.create_user("ada@example.com").await;
    app.use_real_time();
    app.get("/login").await;
    let dir = app.dir.path().to_owned();
    let db_url = app.state.config.database_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env("PORTCULLIS__DATA_DIR", &dir)
            .env("PORTCULLIS__DATABASE__URL", &db_url)
            .args(["doctor", "--fix", "proxy.cloudflare"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("CF-Connecting-IP"));
    app.clock.advance(portcullis::settings::REFRESH_SECONDS);
    app.client_login_via(&user, PASSWORD, &[("cf-connecting-ip", "198.51.100.21")])
        .await;
    assert_eq!(app.last_session_ip().await, "198.51.100.21");
}

#[tokio::test]
async fn a_cloudflare_refresh_refuses_empty_or_garbage_lists_and_keeps_the_old_one() {
    for (v4, v6, expected) in [
        ("", "2400:cb00::/32\n", "IPv4 list is empty"),
        (
            "<html>Service unavailable</html>",
            "2400:cb00::/32",
            "not a CIDR range",
        ),
    ] {
        let url = fake_cloudflare(v4, v6).await;
        let app = spawn_with(move |c| c.proxy.cloudflare_url = url).await;
        let err = portcullis::proxy::refresh_cloudflare(&app.state)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expected) && err.contains("previous list stays in force"),
            "{err}"
        );
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM network_lists")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(stored, 0);
        assert_eq!(
            portcullis::settings::current(&app.state)
                .await
                .cloudflare_source,
            "built in"
        );
    }
}

#[tokio::test]
async fn a_good_cloudflare_list_is_stored_with_its_date_and_source() {
    let url = fake_cloudflare("173.245.48.0/20\n103.21.244.0/22\n", "2400:cb00::/32\n").await;
    let source = url.clone();
    let app = spawn_with(move |c| c.proxy.cloudflare_url = url).await;
    let done = portcullis::proxy::refresh_cloudflare(&app.state)
        .await
        .unwrap();
    assert_eq!((done.v4, done.v6), (2, 1));
    let settings = portcullis::settings::current(&app.state).await;
    assert_eq!(settings.cloudflare_source, source);
    assert_eq!(settings.cloudflare_taken, "2026-11-28 12:00 UTC");
    assert!(
        settings
            .cloudflare
            .contains("173.245.48.1".parse().unwrap())
    );
}

#[tokio::test]
async fn the_why_this_address_page_shows_each_hop_and_the_choice() {
    // Admin sessions are bound to a subnet by default; this test varies the forwarded address.
    let app = spawn_with(|c| c.session.admin_ip_binding = "off".into()).await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let body = app
        .client
        .get(app.url("/admin/proxy"))
        .header("x-forwarded-for", "203.0.113.50, 127.0.0.1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("chose <strong>203.0.113.50</strong>"),
        "{body}"
    );
    assert!(body.contains("trusted proxy, keep walking"));
    assert!(body.contains("not trusted: this is the client"));
    assert!(body.contains("x-forwarded-for: 203.0.113.50, 127.0.0.1"));
}

#[tokio::test]
async fn settings_refuse_a_bad_cidr_next_to_its_field_and_save_good_values_with_their_source() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let (page, csrf) = app.form_page(&app.client, "/admin/settings").await;
    assert!(page.contains("Now from: set in code"), "{page}");
    let current = portcullis::settings::current(&app.state).await;
    let mut form: Vec<(&str, String)> = portcullis::settings::KEYS
        .iter()
        .map(|k| (*k, current.values.text(k)))
        .collect();
    form.push(("csrf_token", csrf.clone()));
    let set = |form: &mut Vec<(&str, String)>, key: &str, value: &str| {
        form.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.to_owned();
    };
    set(&mut form, "proxy.trusted", "loopback\n10.0.0.0/33");
    let r = app
        .client
        .post(app.url("/admin/settings"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("id=\"proxy-trusted-error\""), "{body}");
    assert!(body.contains("10.0.0.0/33"));
    set(&mut form, "proxy.trusted", "loopback\n10.0.0.0/8");
    set(&mut form, "proxy.header", "X-Real-IP");
    let r = app
        .client
        .post(app.url("/admin/settings"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("Settings saved."));
    assert!(
        body.contains(&format!(
            "Now from: database (set by {}",
            app.admin_actor("alice").await
        )),
        "{body}"
    );
    let settings = portcullis::settings::current(&app.state).await;
    assert_eq!(settings.values.proxy_header.name(), "X-Real-IP");
    let check = app.doctor_check("config").await;
    assert_eq!(check.severity, Severity::Ok);
}

#[tokio::test]
async fn f02_sessions_ended_by_a_changing_address_are_blamed_on_the_proxy_set_up() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    for i in 0..5 {
        let client = new_client();
        let ip = format!("198.51.{i}.7");
        let page = client
            .get(app.url("/admin/login"))
            .header("x-forwarded-for", &ip)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let r = client
            .post(app.url("/admin/login"))
            .header("x-forwarded-for", &ip)
            .form(&[
                ("username", "alice"),
                ("password", admin.password.as_str()),
                ("csrf_token", &csrf_from(&page)),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        // The next request arrives from another /24: the admin realm binds sessions to a subnet.
        let moved = client
            .get(app.url("/admin"))
            .header("x-forwarded-for", format!("203.0.{i}.9"))
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), 303);
    }
    let check = app.doctor_check("session.logouts").await;
    assert_eq!(check.severity, Severity::Warning);
    assert!(check.summary.contains("ip_changed"), "{}", check.summary);
    assert!(
        check.next_step.contains("trusted proxies"),
        "{}",
        check.next_step
    );
}

#[tokio::test]
async fn proxy_sanity_warns_when_most_sign_ins_come_from_one_proxy_address() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    assert_eq!(
        app.doctor_check("proxy.sanity").await.severity,
        Severity::Ok
    );
    for _ in 0..10 {
        assert_eq!(
            app.client_login_via(&user, PASSWORD, &[]).await.status(),
            303
        );
    }
    let check = app.doctor_check("proxy.sanity").await;
    assert_eq!(check.severity, Severity::Warning);
    assert!(
        check.summary.contains("10 of 10 sign-ins"),
        "{}",
        check.summary
    );
}

#[tokio::test]
async fn the_refresh_command_stores_a_good_list_and_refuses_a_bad_one_with_exit_code_2() {
    let good = fake_cloudflare("173.245.48.0/20\n", "2400:cb00::/32\n").await;
    let bad = fake_cloudflare("", "2400:cb00::/32\n").await;
    let app = spawn_app().await;
    let dir = app.dir.path().to_owned();
    let db_url = app.state.config.database_url.clone();
    let run = move |url: String| {
        let dir = dir.clone();
        let db_url = db_url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
                .env("PORTCULLIS__DATA_DIR", &dir)
                .env("PORTCULLIS__DATABASE__URL", &db_url)
                .env("PORTCULLIS__PROXY__CLOUDFLARE_URL", url)
                .args(["proxy", "refresh-cloudflare"])
                .output()
                .unwrap()
        })
    };
    let ok = run(good).await.unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("1 IPv4 and 1 IPv6"));
    let refused = run(bad).await.unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("IPv4 list is empty"));
    let v4: String = sqlx::query_scalar("SELECT v4 FROM network_lists")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(v4, "173.245.48.0/20", "the good list stays");
}
