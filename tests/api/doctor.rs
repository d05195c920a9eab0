//! The doctor's checks as the System Health page shows them.

use crate::helpers::*;
use portcullis::doctor::Severity;

#[tokio::test]
async fn system_health_needs_an_admin_and_lists_every_check() {
    let app = spawn_app().await;
    assert_eq!(app.get("/admin/health").await.status(), 303);
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let body = app.get("/admin/health").await.text().await.unwrap();
    for id in [
        "config",
        "system_url",
        "storage.disk",
        "storage.session_write",
        "session.timeout",
        "session.logouts",
        "session.cookie_loss",
        "csrf.failures",
    ] {
        assert!(
            body.contains(&format!("</span> {id}</h3>")),
            "{id} missing from the page"
        );
    }
}

#[tokio::test]
async fn a_client_session_does_not_open_system_health() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    let r = app.get("/admin/health").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/login");
}

#[tokio::test]
async fn the_config_check_says_where_each_value_came_from() {
    let app = spawn_app().await;
    let check = app.doctor_check("config").await;
    assert_eq!(check.severity, Severity::Ok);
    // The harness builds its configuration in code and says so; file and environment sources
    // are covered by the unit tests and the CLI tests.
    let listen = format!("server.listen = \"127.0.0.1:{}\" (set in code)", app.port);
    assert!(check.details.contains(&listen), "{:?}", check.details);
}

#[tokio::test]
async fn the_migrations_check_fails_when_the_schema_is_behind() {
    let app = spawn_app().await;
    assert_eq!(
        app.doctor_check("database.migrations").await.severity,
        Severity::Ok
    );
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&app.state.db)
        .await
        .unwrap();
    let check = app.doctor_check("database.migrations").await;
    assert_eq!(check.severity, Severity::Error);
    assert!(check.next_step.contains("portcullis migrate"));
}

#[tokio::test]
async fn an_http_system_url_on_a_public_host_is_a_warning() {
    let app = spawn_with(|c| c.server.system_url = "http://portal.example.com/".into()).await;
    let check = app.doctor_check("system_url").await;
    assert_eq!(check.severity, Severity::Warning);
    assert!(check.summary.contains("not https"));
}
