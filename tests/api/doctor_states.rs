//! The doctor's remaining states and how System Health presents them: every check documented in
//! docs/checks.md, severities not reproduced elsewhere, the page grouped by area with fix buttons
//! only where a fix exists, and the same JSON as `portcullis doctor --json`.

use crate::f01_proxy::behind_unconfigured_cloudflare;
use crate::helpers::*;
use portcullis::doctor::{Area, Severity};
use serde_json::Value;

/// The check reference, compiled in so the test depends on nothing outside the repository.
const CHECKS_MD: &str = include_str!("../../docs/checks.md");

#[tokio::test]
async fn every_check_the_doctor_runs_has_a_row_in_docs_checks_md_with_its_area() {
    let app = spawn_app().await;
    let checks = portcullis::doctor::run_all(&app.state).await;
    let ids: Vec<&str> = checks.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        portcullis::doctor::CHECK_IDS,
        "doctor::CHECK_IDS (which --fix looks ids up in) lists every check in order"
    );
    for check in checks {
        let row = format!("| `{}` | {} |", check.id, check.area().title());
        assert!(
            CHECKS_MD.contains(&row),
            "docs/checks.md has no row starting {row:?}; add the check there"
        );
    }
}

#[tokio::test]
async fn the_disk_check_warns_when_free_space_is_under_twice_the_minimum() {
    // Free space is measured, not assumed: a first run reports it, a second run sets the minimum
    // to two thirds of it, which leaves the disk between the minimum and twice the minimum.
    let probe = spawn_with(|c| c.storage.min_free_mb = 1).await;
    let summary = probe.doctor_check("storage.disk").await.summary;
    let free_mib: u64 = summary
        .split(" MiB free")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("free space in {summary:?}"));
    assert!(free_mib >= 30, "too little space to test with: {summary}");
    let app = spawn_with(|c| c.storage.min_free_mb = free_mib * 2 / 3).await;
    let check = app.doctor_check("storage.disk").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(check.summary.contains("close to the minimum"), "{check:?}");
}

#[tokio::test]
async fn with_the_database_unavailable_every_check_that_reads_it_reports_an_error_and_the_rest_still_run()
 {
    let app = spawn_app().await;
    // The pool shut down under the running server, as when the database goes away: every query
    // from here on fails with a real driver error.
    app.state.db.close().await;
    let results = portcullis::doctor::run_all(&app.state).await;
    for id in [
        "system_url",
        "proxy.cloudflare",
        "proxy.sanity",
        "storage.session_write",
        "database.connection",
        "database.migrations",
        "session.logouts",
        "session.cookie_loss",
        "session.changes",
        "csrf.failures",
        "mail.queue",
        "admin.roles",
        "client.owners",
        "api.credentials",
        "two_factor.duo",
        "time.zone",
        "session.gc",
        "cron.heartbeat",
    ] {
        let check = results.iter().find(|c| c.id == id).unwrap();
        assert_eq!(check.severity, Severity::Error, "{check:?}");
        assert!(!check.next_step.is_empty(), "{check:?}");
    }
    // The scheduler's and time checks say that they could not read, not that a finding holds
    // (no sessions overdue, no run, no zone disagreement).
    for id in ["time.zone", "session.gc", "cron.heartbeat"] {
        let check = results.iter().find(|c| c.id == id).unwrap();
        assert_eq!(
            check.summary, "This check could not read the database.",
            "{check:?}"
        );
    }
    for id in [
        "config",
        "storage.disk",
        "session.timeout",
        "two_factor.key",
    ] {
        let check = results.iter().find(|c| c.id == id).unwrap();
        assert_eq!(check.severity, Severity::Ok, "{check:?}");
    }
}

#[tokio::test]
async fn a_migration_newer_than_the_binary_is_a_warning_naming_its_version() {
    let app = spawn_app().await;
    // A newer node migrated the database during a rolling upgrade: its row is copied from the
    // newest one this binary applied, under a later version.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         SELECT 29991231000000, 'from a newer binary', success, checksum, execution_time \
         FROM _sqlx_migrations ORDER BY version DESC LIMIT 1",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    let check = app.doctor_check("database.migrations").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(
        check
            .summary
            .contains("1 migration(s) this binary does not know (29991231000000)"),
        "{}",
        check.summary
    );
    assert!(check.next_step.contains("Upgrade this node"), "{check:?}");
}

#[tokio::test]
async fn a_session_ended_by_a_storage_error_makes_session_logouts_an_error() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    let id_hash: String = sqlx::query_scalar("SELECT id_hash FROM sessions WHERE realm = 'client'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let ended = portcullis::session::end(
        &app.state,
        &id_hash,
        portcullis::session::EndReason::StorageError,
    )
    .await
    .unwrap();
    assert!(ended);
    let check = app.doctor_check("session.logouts").await;
    assert_eq!(check.severity, Severity::Error, "{check:?}");
    assert!(
        check
            .summary
            .contains("1 session(s) ended because of storage errors"),
        "{}",
        check.summary
    );
    assert!(
        check.next_step.contains("storage.session_write"),
        "{}",
        check.next_step
    );
    assert!(check.details.contains(&"storage_error: 1".to_owned()));
}

/// The HTML between `<section class="area"` openings, each with its `<h2>` heading text.
fn area_sections(html: &str) -> Vec<(String, &str)> {
    html.split("<section class=\"area\"")
        .skip(1)
        .map(|section| {
            let start = section.find("<h2").unwrap();
            let start = start + section[start..].find('>').unwrap() + 1;
            let end = start + section[start..].find(" <span").unwrap();
            (section[start..end].to_owned(), section)
        })
        .collect()
}

#[tokio::test]
async fn system_health_groups_checks_under_their_area_with_each_areas_worst_result_and_counts() {
    let app = spawn_with(|c| c.session.admin_idle_minutes = 5).await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let checks = portcullis::doctor::run_all(&app.state).await;

    let body = app.get("/admin/health").await.text().await.unwrap();

    let sections = area_sections(&body);
    let headings: Vec<&str> = sections.iter().map(|(h, _)| h.as_str()).collect();
    let order = [
        "Configuration",
        "Proxy and addresses",
        "Storage",
        "Sessions and CSRF",
        "Mail",
        "Accounts and roles",
        "Two-step verification",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|t| headings.iter().position(|h| h == t).unwrap())
        .collect();
    assert!(positions.is_sorted(), "areas out of order: {headings:?}");
    for check in &checks {
        let (heading, _) = sections
            .iter()
            .find(|(_, s)| s.contains(&format!("</span> {}</h3>", check.id)))
            .unwrap_or_else(|| panic!("{} is not on the page", check.id));
        assert_eq!(heading, check.area().title(), "{}", check.id);
    }
    let (_, sessions) = sections
        .iter()
        .find(|(h, _)| h == "Sessions and CSRF")
        .unwrap();
    assert!(
        sessions.contains("<span class=\"badge sev-warning\"><span class=\"visually-hidden\">worst result: </span>warning</span></h2>"),
        "the short idle timeout makes the area a warning"
    );
    let count = |s: Severity| checks.iter().filter(|c| c.severity == s).count();
    assert!(body.contains(&format!(
        "<strong>{}</strong> warning(s)",
        count(Severity::Warning)
    )));
    assert!(body.contains(&format!("<strong>{}</strong> ok", count(Severity::Ok))));
    assert!(body.contains(&format!(
        "<strong>{}</strong> error(s)",
        count(Severity::Error)
    )));
}

#[tokio::test]
async fn system_health_offers_a_fix_button_only_on_fixable_checks_labelled_with_what_it_does() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let calm = app.get("/admin/health").await.text().await.unwrap();
    assert!(
        !calm.contains("action=\"/admin/health/fix\""),
        "nothing to fix yet"
    );

    let app = behind_unconfigured_cloudflare().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login_via(&user, PASSWORD, &[("cf-ray", "8a1b2c3d4e5f-AMS")])
        .await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let body = app.get("/admin/health").await.text().await.unwrap();
    let fixable: Vec<_> = portcullis::doctor::run_all(&app.state)
        .await
        .into_iter()
        .filter(|c| c.fixable)
        .map(|c| c.id)
        .collect();
    assert_eq!(fixable, ["proxy.cloudflare"]);
    let forms: Vec<&str> = body
        .split("<form method=\"post\" action=\"/admin/health/fix\"")
        .skip(1)
        .collect();
    assert_eq!(forms.len(), 1, "one button for one fixable check");
    assert!(
        forms[0].contains("name=\"id\" value=\"proxy.cloudflare\""),
        "{}",
        forms[0]
    );
    let open = "<button type=\"submit\">";
    let label_start = forms[0].find(open).unwrap() + open.len();
    let label_end = forms[0].find("</button>").unwrap();
    let label = forms[0][label_start..label_end]
        .replace("&#x27;", "'")
        .replace("&#39;", "'");
    assert_eq!(label, "Trust Cloudflare's ranges now");
}

#[tokio::test]
async fn an_admin_who_may_see_health_but_not_change_settings_gets_the_cli_hint_instead_of_a_button()
{
    let app = behind_unconfigured_cloudflare().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login_via(&user, PASSWORD, &[("cf-ray", "8a1b2c3d4e5f-AMS")])
        .await;
    app.create_admin("root").await;
    let viewer = app
        .admin_with_role("vic", "Monitoring", &["view_system_health"])
        .await;
    let body = app.text_with(&viewer, "/admin/health").await;
    assert!(body.contains("</span> proxy.cloudflare</h3>"));
    assert!(!body.contains("action=\"/admin/health/fix\""));
    assert!(body.contains("portcullis doctor --fix proxy.cloudflare"));
}

#[tokio::test]
async fn an_admin_without_view_system_health_gets_403_for_the_page_and_the_json() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let helpdesk = app
        .admin_with_role("sam", "Helpdesk", &["main_homepage"])
        .await;
    let page = helpdesk.get(app.url("/admin/health")).send().await.unwrap();
    assert_eq!(page.status(), 403);
    assert!(page.text().await.unwrap().contains("view_system_health"));
    let json = helpdesk
        .get(app.url("/admin/health"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 403);
    let body: Value = json.json().await.unwrap();
    assert!(body.get("checks").is_none(), "{body}");
}

#[tokio::test]
async fn system_health_as_json_is_the_report_portcullis_doctor_json_prints() {
    let app = spawn_app().await;
    app.use_real_time();
    // Something to report: refused forms make csrf.failures a warning in both.
    for _ in 0..5 {
        app.post_form(&app.client, "/login", &[("email", "a@b.example")])
            .await;
    }
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;

    let response = app
        .client
        .get(app.url("/admin/health"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let web: Value = response.json().await.unwrap();

    let dir = app.dir.path().to_owned();
    let db_url = app.state.config.database_url.clone();
    let (listen, system_url) = (
        format!("127.0.0.1:{}", app.port),
        format!("{}/", app.address),
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env_remove("PORTCULLIS_CONFIG")
            .env("PORTCULLIS__DATA_DIR", &dir)
            .env("PORTCULLIS__DATABASE__URL", &db_url)
            .env("PORTCULLIS__SERVER__LISTEN", listen)
            .env("PORTCULLIS__SERVER__SYSTEM_URL", system_url)
            .env("RUST_LOG", "warn")
            .current_dir(&dir)
            .args(["doctor", "--json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let cli: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));

    let keys = |v: &Value| -> Vec<Vec<String>> {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_object().unwrap().keys().cloned().collect())
            .collect()
    };
    let facts = |v: &Value| -> Vec<(String, String, String, bool)> {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_owned(),
                    c["area"].as_str().unwrap().to_owned(),
                    c["severity"].as_str().unwrap().to_owned(),
                    c["fixable"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(web.as_object().unwrap().len(), 1, "only \"checks\": {web}");
    assert_eq!(facts(&web), facts(&cli));
    assert_eq!(keys(&web), keys(&cli));
    for (id, area, _, _) in facts(&web) {
        assert_eq!(area, Area::of(&id).title(), "{id}");
    }
    let csrf = facts(&web)
        .into_iter()
        .find(|f| f.0 == "csrf.failures")
        .unwrap();
    assert_eq!(csrf.2, "warning");
}
