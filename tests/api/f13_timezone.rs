//! F13, timezone issues: one configured zone for display and daily tasks in every process.
//! A cron process whose own local zone is Tokyo while London is configured is noticed (and
//! ignored); a cron process configured with another zone is an error until the zone is set in
//! the database; hosts with different tz databases are caught; daily tasks start at the
//! configured hour across both daylight-saving changes; the database clock is compared.

use crate::helpers::*;
use portcullis::scheduler::{Process, run_due};
use std::process::Command;

fn london(c: &mut portcullis::config::RawConfig) {
    c.timezone = "Europe/London".into();
    c.proxy.cloudflare_refresh_hours = 0;
}

/// `portcullis cron` against the app's database with extra environment.
fn cron(app: &TestApp, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.arg("cron")
        .env_remove("PORTCULLIS_CONFIG")
        .env_remove("TZ")
        .env("PORTCULLIS__DATA_DIR", app.dir.path())
        .env("PORTCULLIS__DATABASE__URL", &app.state.config.database_url)
        .env("PORTCULLIS__PROXY__CLOUDFLARE_REFRESH_HOURS", "0")
        .env("PORTCULLIS__MAIL__TRANSPORT", "file")
        .env("RUST_LOG", "warn")
        .current_dir(app.dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What the web server records at start (see `scheduler::run_forever`).
async fn record_web_view(app: &TestApp) {
    let view = portcullis::scheduler::view(&app.state, "web");
    portcullis::scheduler::record_view(&app.state, &view)
        .await
        .unwrap();
}

#[tokio::test]
async fn f13_a_cron_run_under_tokyo_local_time_with_london_configured_is_detected() {
    let app = spawn_with(london).await;
    app.use_real_time();
    record_web_view(&app).await;
    cron(
        &app,
        &[
            ("TZ", "Asia/Tokyo"),
            ("PORTCULLIS__TIMEZONE", "Europe/London"),
        ],
    );
    let (local, offset, zone): (String, i64, String) = sqlx::query_as(
        "SELECT local_zone, local_offset_seconds, zone FROM scheduler_runs WHERE process = 'cron'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!((local.as_str(), offset), ("Asia/Tokyo", 9 * 3600));
    assert_eq!(
        zone, "Europe/London",
        "the run used the configured zone, not TZ"
    );

    let check = app.doctor_check("time.zone").await;
    assert_eq!(check.severity.as_str(), "info", "{check:?}");
    assert!(
        check.summary.contains("last `portcullis cron` run on")
            && check.summary.contains("runs with local zone Asia/Tokyo"),
        "{}",
        check.summary
    );
    assert!(
        check.details.iter().any(|d| d.contains("TZ=Asia/Tokyo")),
        "{:?}",
        check.details
    );
}

#[tokio::test]
async fn f13_a_cron_configured_with_another_zone_is_an_error_until_the_zone_is_stored() {
    let app = spawn_with(london).await;
    app.use_real_time();
    record_web_view(&app).await;
    cron(&app, &[("PORTCULLIS__TIMEZONE", "Asia/Tokyo")]);
    let check = app.doctor_check("time.zone").await;
    assert_eq!(check.severity.as_str(), "error", "{check:?}");
    assert!(
        check
            .summary
            .contains("this installation uses Europe/London")
            && check.summary.contains("used Asia/Tokyo"),
        "{}",
        check.summary
    );
    assert!(check.next_step.contains("/admin/settings"));

    // The admin stores the zone; every process now reads it from the database.
    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    let (html, csrf) = app.form_page(&app.client, "/admin/settings").await;
    assert!(html.contains("name=\"timezone\""));
    let mut form: Vec<(&str, String)> = vec![
        ("csrf_token", csrf.clone()),
        ("timezone", "Europe/London".into()),
    ];
    for key in portcullis::settings::KEYS
        .iter()
        .filter(|k| **k != "timezone")
    {
        let current = portcullis::settings::current(&app.state)
            .await
            .values
            .text(key);
        form.push((key, current));
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.post_form(&app.client, "/admin/settings", &pairs).await;
    assert_eq!(r.status(), 200);
    app.clock.advance(1);
    record_web_view(&app).await;
    // The same cron command, still with Tokyo in its environment, now uses London.
    cron(&app, &[("PORTCULLIS__TIMEZONE", "Asia/Tokyo")]);
    let check = app.doctor_check("time.zone").await;
    // "info" when this host's own zone is not London (it is noted, and ignored).
    assert!(
        matches!(check.severity.as_str(), "ok" | "info"),
        "{check:?}"
    );
    assert!(
        check.summary.contains("use Europe/London"),
        "{}",
        check.summary
    );
}

#[tokio::test]
async fn f13_hosts_with_different_tz_databases_are_caught() {
    let app = spawn_with(london).await;
    app.use_real_time();
    // A host whose tz database has wrong rules for London (Tokyo's, +09:00).
    let tzdir = tempfile::tempdir().unwrap();
    std::fs::create_dir(tzdir.path().join("Europe")).unwrap();
    std::fs::copy(
        "/usr/share/zoneinfo/Asia/Tokyo",
        tzdir.path().join("Europe/London"),
    )
    .unwrap();
    cron(
        &app,
        &[
            ("TZDIR", tzdir.path().to_str().unwrap()),
            ("PORTCULLIS__TIMEZONE", "Europe/London"),
        ],
    );
    let check = app.doctor_check("time.zone").await;
    assert_eq!(check.severity.as_str(), "warning", "{check:?}");
    assert!(
        check.summary.contains("computed +09:00"),
        "{}",
        check.summary
    );
    assert!(check.next_step.contains("tzdata"));
}

#[tokio::test]
async fn f13_the_database_clock_is_compared_with_ours() {
    let app = spawn_with(london).await;
    // The mock clock is at 2026-11-28 12:00; the database (SQLite, this host) says now.
    let behind = app.doctor_check("time.zone").await;
    assert_eq!(behind.severity.as_str(), "warning", "{behind:?}");
    assert!(behind.summary.contains("seconds off"), "{}", behind.summary);
    app.use_real_time();
    let check = app.doctor_check("time.zone").await;
    assert!(
        matches!(check.severity.as_str(), "ok" | "info"),
        "{check:?}"
    );
    assert!(
        check.summary.contains("use Europe/London"),
        "{}",
        check.summary
    );
    assert!(check.details.iter().any(|d| {
        d.contains("database clock minus this process's clock: 0 s")
            || d.contains("clock: 1 s")
            || d.contains("clock: -1 s")
    }));
}

async fn ran_daily(app: &TestApp) -> bool {
    run_due(&app.state, Process::Serve)
        .await
        .unwrap()
        .tasks
        .iter()
        .any(|t| t.task == "audit.retention")
}

#[tokio::test]
async fn f13_daily_tasks_start_at_the_configured_hour_across_daylight_saving_changes() {
    let app = spawn_with(london).await;
    let at = |t: &str| app.clock.set(t.parse().unwrap());
    at("2027-03-26T12:00:00Z");
    assert!(
        ran_daily(&app).await,
        "the first run does the daily tasks at once"
    );
    at("2027-03-27T02:59:00Z");
    assert!(!ran_daily(&app).await, "02:59 GMT is before 03:00");
    at("2027-03-27T03:00:00Z");
    assert!(ran_daily(&app).await, "03:00 GMT");
    at("2027-03-27T23:00:00Z");
    assert!(!ran_daily(&app).await, "once a day");
    // Clocks go forward at 01:00 UTC on 28 March: 03:00 BST is 02:00 UTC.
    at("2027-03-28T01:59:00Z");
    assert!(!ran_daily(&app).await, "02:59 BST");
    at("2027-03-28T02:00:00Z");
    assert!(ran_daily(&app).await, "03:00 BST");
    // Clocks go back at 01:00 UTC on 31 October: 03:00 GMT is 03:00 UTC again.
    at("2027-10-30T02:00:00Z");
    assert!(ran_daily(&app).await, "03:00 BST on the 30th");
    at("2027-10-31T02:30:00Z");
    assert!(
        !ran_daily(&app).await,
        "02:30 GMT, the day after the change"
    );
    at("2027-10-31T03:00:00Z");
    assert!(ran_daily(&app).await, "03:00 GMT");

    // Times people see are in the zone, with its abbreviation.
    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    let html = app.get("/admin/scheduler").await.text().await.unwrap();
    assert!(html.contains("2027-10-31 03:00 GMT"), "{html}");
    assert!(html.contains("daily from 03:00 Europe/London"));
    assert!(html.contains("2027-10-30 03:00 BST"));
}

#[tokio::test]
async fn f13_a_zone_that_does_not_exist_is_refused_at_start_and_on_the_settings_page() {
    let mut raw = portcullis::config::RawConfig {
        timezone: "Europe/Atlantis".into(),
        ..Default::default()
    };
    raw.data_dir = tempfile::tempdir().unwrap().path().display().to_string();
    let err = raw.validate().expect_err("unknown zone");
    assert_eq!(err.key, "timezone");
    assert_eq!(err.value, "Europe/Atlantis");
    assert!(err.allowed.contains("IANA"));

    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/settings").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/settings",
            &[("csrf_token", &csrf), ("timezone", "+09:00")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"timezone-error\""), "{html}");
    assert!(html.contains("Europe/London"));
}

#[tokio::test]
async fn f13_a_stored_zone_this_host_does_not_know_is_an_error_and_utc_is_used() {
    let app = spawn_with(london).await;
    // Stored by a node whose tz database knows a zone this one does not (or by hand).
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('timezone', 'America/Ciudad_Juarez_Old', $1, 'admin:root')",
    )
    .bind(app.state.clock.unix())
    .execute(&app.state.db)
    .await
    .unwrap();
    let check = app.doctor_check("time.zone").await;
    assert_eq!(check.severity.as_str(), "error", "{check:?}");
    assert!(
        check.summary.contains("Europe/London is used instead"),
        "the boot value stays in force: {}",
        check.summary
    );
    assert!(
        check.cause.contains("America/Ciudad_Juarez_Old"),
        "{}",
        check.cause
    );
    assert!(check.next_step.contains("/admin/settings"));
}

/// This host's own local zone, read the way every process records it
/// (`clock::local_view`), when the time zone database knows it by name.
fn host_zone() -> String {
    let local = portcullis::clock::local_view(jiff::Timestamp::now());
    if portcullis::clock::Zone::parse(&local.zone).is_ok() {
        local.zone
    } else {
        // No named zone: the doctor counts a nameless local zone at offset 0 as UTC.
        assert_eq!(
            local.offset_seconds, 0,
            "this host's local zone has no name and is not UTC: {local:?}"
        );
        "UTC".to_owned()
    }
}

/// The app configured with the host's own zone, so nothing differs from it.
async fn spawn_in_host_zone(zone: &str) -> TestApp {
    let zone = zone.to_owned();
    spawn_with(move |c| {
        c.timezone = zone;
        c.proxy.cloudflare_refresh_hours = 0;
    })
    .await
}

/// The mock clock set `seconds` ahead of the real time.
fn ahead_of_real_time(app: &TestApp, seconds: i64) {
    app.clock.set(
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap(),
    );
}

#[tokio::test]
async fn f13_time_zone_is_ok_when_every_process_and_the_host_use_the_configured_zone() {
    let zone = host_zone();
    let app = spawn_in_host_zone(&zone).await;
    app.use_real_time();
    record_web_view(&app).await;
    // The cron process gets this process's TZ (if any), so its local zone is the host's too.
    let tz = std::env::var("TZ").unwrap_or_default();
    let mut env = vec![("PORTCULLIS__TIMEZONE", zone.as_str())];
    if !tz.is_empty() {
        env.push(("TZ", tz.as_str()));
    }
    cron(&app, &env);
    let check = app.doctor_check("time.zone").await;
    assert_eq!(check.severity.as_str(), "ok", "{check:?}");
    assert!(
        check
            .summary
            .starts_with(&format!("All processes use {zone} "))
            && check.summary.ends_with("and the database's clock agrees."),
        "{}",
        check.summary
    );
    // The web server, the cron run and this doctor run were all compared.
    assert!(
        check.details.iter().any(|d| d.starts_with("web server on"))
            && check
                .details
                .iter()
                .any(|d| d.starts_with("last `portcullis cron` run on")),
        "{:?}",
        check.details
    );
}

#[tokio::test]
async fn f13_a_database_clock_3_seconds_off_is_fine_and_10_seconds_off_is_a_warning() {
    let zone = host_zone();
    let app = spawn_in_host_zone(&zone).await;
    ahead_of_real_time(&app, 3);
    let close = app.doctor_check("time.zone").await;
    assert_eq!(close.severity.as_str(), "ok", "{close:?}");
    assert!(!close.summary.contains("seconds off"), "{}", close.summary);

    ahead_of_real_time(&app, 10);
    let far = app.doctor_check("time.zone").await;
    assert_eq!(far.severity.as_str(), "warning", "{far:?}");
    // The database is behind this process's (mock) clock; a second may tick meanwhile.
    assert!(
        ["-9", "-10", "-11"]
            .iter()
            .any(|n| far.summary.contains(&format!("clock is {n} seconds off"))),
        "{}",
        far.summary
    );
    assert!(far.next_step.contains("NTP"), "{}", far.next_step);
}

#[tokio::test]
async fn f13_who_set_a_stored_setting_and_when_is_shown_in_the_configured_zone() {
    // Booted with UTC; the database sets Tokyo, so every label is in Tokyo time, including the
    // one of the timezone setting itself.
    let app = spawn_app().await;
    // Changed through the settings service by an actor named admin:root.
    portcullis::settings::Settings::from(&app.state)
        .change(
            &[
                ("timezone", "Asia/Tokyo".to_owned()),
                ("proxy.header", "X-Real-IP".to_owned()),
            ],
            &portcullis::domain::audit::Actor::Named("admin:root".to_owned()),
            "",
        )
        .await
        .unwrap();
    let settings = portcullis::settings::reload(&app.state).await.unwrap();
    for key in ["timezone", "proxy.header"] {
        let (_, source) = settings.sources.iter().find(|(k, _)| k == key).unwrap();
        // 2026-11-28 12:00 UTC is 21:00 in Tokyo.
        assert_eq!(
            source, "database (set by admin:root at 2026-11-28 21:00 JST)",
            "{key}"
        );
    }
}
