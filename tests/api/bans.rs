//! Failed-login bans: thresholds, expiry, whitelist, the banned page, lifting.

use crate::helpers::*;

async fn fail_admin(app: &TestApp, times: usize, headers: &[(&str, &str)]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..times {
        let client = new_client();
        let with =
            |rb: reqwest::RequestBuilder| headers.iter().fold(rb, |rb, (k, v)| rb.header(*k, *v));
        let page = with(client.get(app.url("/admin/login")))
            .send()
            .await
            .unwrap();
        if page.status() != 200 {
            statuses.push(page.status().as_u16());
            continue;
        }
        let csrf = csrf_from(&page.text().await.unwrap());
        let r = with(client.post(app.url("/admin/login")))
            .form(&[
                ("username", "alice"),
                ("password", "wrong-password-123"),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    statuses
}

async fn failures_recorded(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM login_failures")
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn three_failed_admin_sign_ins_ban_the_address_with_a_page_that_says_why_and_until_when() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    // A sign-in form loaded before the ban, submitted after it with the right password.
    let browser = new_client();
    let (_, csrf) = app.form_page(&browser, "/admin/login").await;
    assert_eq!(fail_admin(&app, 3, &[]).await, [401, 401, 401]);
    let r = app
        .post_form(
            &browser,
            "/admin/login",
            &[
                ("username", &admin.username),
                ("password", &admin.password),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 403, "even the right password is refused");
    let body = r.text().await.unwrap();
    assert!(body.contains("Your address is banned"));
    assert!(body.contains("Address: 127.0.0.1"));
    assert!(body.contains("3 failed admin sign-ins in 15 minutes"));
    assert!(body.contains("Until: 2026-11-28 12:15 UTC"), "{body}");
    assert!(
        !body.contains("name=\"password\""),
        "no sign-in form on the ban page"
    );
    assert_eq!(
        failures_recorded(&app).await,
        3,
        "a banned request reaches no password check"
    );
}

#[tokio::test]
async fn a_ban_expires_with_time() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    fail_admin(&app, 3, &[]).await;
    assert_eq!(app.get("/admin/login").await.status(), 403);
    app.clock.advance(15 * 60 + 1);
    assert_eq!(app.admin_login(&admin).await.status(), 200);
}

#[tokio::test]
async fn the_ban_falls_on_the_resolved_client_not_on_the_proxy() {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    let attacker = [("x-forwarded-for", "198.51.100.66")];
    assert_eq!(fail_admin(&app, 4, &attacker).await, [401, 401, 401, 403]);
    let neighbour = new_client()
        .get(app.url("/admin/login"))
        .header("x-forwarded-for", "198.51.100.67")
        .send()
        .await
        .unwrap();
    assert_eq!(
        neighbour.status(),
        200,
        "another customer behind the same proxy is not banned"
    );
    let bans: Vec<String> = sqlx::query_scalar("SELECT ip FROM bans")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(bans, ["198.51.100.66"]);
}

#[tokio::test]
async fn whitelisted_addresses_are_never_banned() {
    let app = spawn_with(|c| c.bans.whitelist = vec!["198.51.100.0/24".into()]).await;
    app.create_admin("alice").await;
    assert_eq!(
        fail_admin(&app, 5, &[("x-forwarded-for", "198.51.100.66")]).await,
        [401; 5]
    );
}

#[tokio::test]
async fn the_client_area_has_its_own_threshold() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    for _ in 0..9 {
        // Past the account's own growing delay (crate::throttle): this counts the address.
        app.clock.advance(20);
        assert_eq!(
            app.client_login_via(&user, "wrong-password-123", &[])
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        app.get("/login").await.status(),
        200,
        "9 failures are under the client threshold of 10"
    );
    app.clock.advance(20);
    assert_eq!(
        app.client_login_via(&user, "wrong-password-123", &[])
            .await
            .status(),
        401
    );
    assert_eq!(app.get("/login").await.status(), 403);
}

#[tokio::test]
async fn a_threshold_of_zero_disables_banning() {
    let app = spawn_with(|c| c.bans.admin_failures = 0).await;
    app.create_admin("alice").await;
    assert_eq!(fail_admin(&app, 5, &[]).await, [401; 5]);
}

#[tokio::test]
async fn the_cli_lists_and_lifts_a_ban_for_a_locked_out_admin() {
    let app = spawn_app().await;
    app.use_real_time();
    let admin = app.create_admin("alice").await;
    fail_admin(&app, 3, &[]).await;
    let dir = app.dir.path().to_owned();
    let db_url = app.state.config.database_url.clone();
    let run = move |args: &'static [&'static str]| {
        let dir = dir.clone();
        let db_url = db_url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
                .env("PORTCULLIS__DATA_DIR", &dir)
                .env("PORTCULLIS__DATABASE__URL", &db_url)
                .args(args)
                .output()
                .unwrap()
        })
    };
    let bans_shown = run(&["ban", "list"]).await.unwrap();
    let text = String::from_utf8_lossy(&bans_shown.stdout).into_owned();
    assert!(
        text.contains("127.0.0.1") && text.contains("automatic"),
        "{text}"
    );
    let unban = run(&["ban", "lift", "127.0.0.1"]).await.unwrap();
    assert!(String::from_utf8_lossy(&unban.stdout).contains("Lifted the ban on 127.0.0.1"));
    // Lifted by another process: the server sees it once its last answer is older than the
    // ban cache's bound.
    tokio::time::sleep(portcullis::ban::CACHE_FOR).await;
    assert_eq!(
        app.admin_login(&admin).await.status(),
        200,
        "the server sees the lift within the bound"
    );
    let bad = run(&["ban", "lift", "not-an-address"]).await.unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn admins_add_and_lift_bans_in_the_admin_area() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/bans").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/bans",
            &[
                ("ip", "999.1.1.1"),
                ("reason", "spam"),
                ("minutes", ""),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"ip-error\""));
    let r = app
        .post_form(
            &app.client,
            "/admin/bans",
            &[
                ("ip", "203.0.113.9"),
                ("reason", "card testing"),
                ("minutes", "60"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = app.get(&location(&r)).await.text().await.unwrap();
    assert!(
        page.contains("203.0.113.9")
            && page.contains("card testing")
            && page.contains(&app.admin_actor("alice").await),
        "{page}"
    );
    let banned = new_client()
        .get(app.url("/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(banned.status(), 403);
    let r = app
        .post_form(
            &app.client,
            "/admin/bans/lift",
            &[("ip", "203.0.113.9"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(location(&r), "/admin/bans?done=lifted");
    let free = new_client()
        .get(app.url("/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(free.status(), 200);
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE action LIKE 'ban.%' ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(actions, ["ban.add", "ban.lift"]);
}

#[tokio::test]
async fn healthz_answers_even_for_a_banned_address() {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    fail_admin(&app, 3, &[]).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_ban_by_hand_needs_one_address_a_reason_of_at_most_200_characters_and_whole_minutes_up_to_ten_years()
 {
    use portcullis::ban::{BanError, Bans, NewBan};
    let app = spawn_app().await;
    let bans = Bans::from(&app.state);
    let admin = portcullis::domain::Actor::Admin(portcullis::domain::AdminId(1));
    let long = "x".repeat(201);
    for (ip, reason, minutes, field) in [
        ("203.0.113.0/24", "spam", "", "ip"),
        ("203.0.113.9", " ", "", "reason"),
        ("203.0.113.9", long.as_str(), "", "reason"),
        ("203.0.113.9", "spam", "0", "minutes"),
        ("203.0.113.9", "spam", "5256001", "minutes"),
        ("203.0.113.9", "spam", "1.5", "minutes"),
    ] {
        let new = NewBan {
            ip,
            reason,
            minutes,
            scope: "",
        };
        match bans.add(&new, &admin).await {
            Err(BanError::Invalid(errors)) => assert_eq!(
                errors.iter().map(|e| e.field).collect::<Vec<_>>(),
                [field],
                "{new:?}"
            ),
            other => panic!("{new:?} was not refused: {other:?}"),
        }
    }
    assert!(bans.list().await.unwrap().is_empty(), "nothing was banned");
    let timed = NewBan {
        ip: "203.0.113.9",
        reason: " card testing ",
        minutes: "5256000",
        scope: "",
    };
    bans.add(&timed, &admin).await.unwrap();
    let forever = NewBan {
        ip: "2001:db8::1",
        reason: "spam",
        minutes: "",
        scope: "",
    };
    bans.add(&forever, &admin).await.unwrap();
    let listed = bans.list().await.unwrap();
    let timed = listed.iter().find(|b| b.ip == "203.0.113.9").unwrap();
    assert_eq!(
        (timed.reason.as_str(), timed.by.as_str()),
        ("card testing", "admin:1")
    );
    assert!(timed.until().starts_with("2036-"), "{timed:?}");
    assert_eq!(timed.until_phrase(), format!("until {}", timed.until()));
    // An IPv6 address is banned as its /64 (issue 18 item 3).
    let forever = listed.iter().find(|b| b.ip == "2001:db8::/64").unwrap();
    assert_eq!(
        (forever.until(), forever.until_phrase()),
        ("until lifted".into(), "until lifted".into())
    );
}

#[tokio::test]
async fn lifting_says_whether_the_text_was_no_address_or_the_address_was_not_banned() {
    use portcullis::ban::{Bans, LiftError};
    let app = spawn_app().await;
    let bans = Bans::from(&app.state);
    let cli = portcullis::domain::Actor::Named("cli".into());
    assert!(matches!(
        bans.lift("not-an-address", &cli, Some("local")).await,
        Err(LiftError::NotAnAddress(text)) if text == "not-an-address"
    ));
    assert!(matches!(
        bans.lift("203.0.113.9", &cli, Some("local")).await,
        Err(LiftError::NotBanned(ip)) if ip == "203.0.113.9"
    ));
    let lifts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ban.lift'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(lifts, 0, "nothing lifted, nothing audited");
}
