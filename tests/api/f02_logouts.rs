//! F02 · Frequent logouts: every end reason is recorded and explained, and the doctor names the
//! dominant cause.

use crate::helpers::*;
use portcullis::doctor::Severity;

#[tokio::test]
async fn f02_idle_timeout_ends_the_session_and_the_sign_in_page_says_why() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    app.clock.advance(61 * 60);
    let area = app.get("/clientarea").await;
    assert_eq!(area.status(), 303);
    assert_eq!(location(&area), "/login");
    let login = app.get("/login").await.text().await.unwrap();
    assert!(
        login.contains("Your session ended after 30 minutes without activity."),
        "{login}"
    );
    let reason: String = sqlx::query_scalar("SELECT end_reason FROM sessions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(reason, "idle_timeout");
}

#[tokio::test]
async fn f02_activity_keeps_a_session_alive_until_its_absolute_lifetime() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    // Steps under the 30-minute idle timeout: 28 x 25 minutes is 11 h 40 min, the next one
    // passes 12 hours.
    for _ in 0..28 {
        app.clock.advance(25 * 60);
        assert_eq!(app.get("/clientarea").await.status(), 200);
    }
    app.clock.advance(25 * 60);
    assert_eq!(app.get("/clientarea").await.status(), 303);
    let login = app.get("/login").await.text().await.unwrap();
    assert!(login.contains("maximum length of 12 hours"), "{login}");
}

#[tokio::test]
async fn f02_remember_me_survives_the_idle_timeout() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let (_, csrf) = app.form_page(&app.client, "/login").await;
    let r = app
        .post_form(
            &app.client,
            "/login",
            &[
                ("email", &user.email),
                ("password", &user.password),
                ("remember", "1"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let line = set_cookie_line(&r, "portcullis_client").unwrap();
    assert!(
        line.contains("Max-Age=2592000"),
        "30-day persistent cookie: {line}"
    );
    app.clock.advance(3 * 3600);
    assert_eq!(app.get("/clientarea").await.status(), 200);
}

#[tokio::test]
async fn f02_an_address_change_under_exact_binding_ends_the_session() {
    let app = spawn_with(|c| c.session.client_ip_binding = "exact".into()).await;
    let user = app.create_user("ada@example.com").await;
    let r = app
        .client_login_with(&app.client, &user.email, &user.password)
        .await;
    let cookie = format!(
        "portcullis_client={}",
        set_cookie(&r, "portcullis_client").unwrap()
    );
    let moved = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let area = moved
        .get(app.url("/clientarea"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(area.status(), 303);
    let login = moved
        .get(app.url("/login"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("network address changed"), "{login}");
}

#[tokio::test]
async fn f02_with_binding_off_an_address_change_keeps_the_session() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let r = app
        .client_login_with(&app.client, &user.email, &user.password)
        .await;
    let cookie = format!(
        "portcullis_client={}",
        set_cookie(&r, "portcullis_client").unwrap()
    );
    let moved = reqwest::Client::builder()
        .local_address("127.0.0.3".parse::<std::net::IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let area = moved
        .get(app.url("/clientarea"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(area.status(), 200);
}

#[tokio::test]
async fn f02_the_doctor_names_idle_timeouts_as_the_dominant_cause() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    assert_eq!(
        app.doctor_check("session.logouts").await.severity,
        Severity::Ok
    );
    for _ in 0..5 {
        let client = new_client();
        let r = app
            .client_login_with(&client, &user.email, &user.password)
            .await;
        assert_eq!(r.status(), 303);
        app.clock.advance(61 * 60);
        client.get(app.url("/clientarea")).send().await.unwrap();
    }
    let check = app.doctor_check("session.logouts").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(check.summary.contains("idle_timeout"), "{}", check.summary);
    assert!(
        check.next_step.contains("idle_minutes"),
        "{}",
        check.next_step
    );
}

#[tokio::test]
async fn f02_sessions_ended_by_signing_out_do_not_worry_the_doctor() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    for _ in 0..5 {
        let page = app.client_login(&user).await.text().await.unwrap();
        app.post_form(&app.client, "/logout", &[("csrf_token", &csrf_from(&page))])
            .await;
    }
    let check = app.doctor_check("session.logouts").await;
    assert_eq!(check.severity, Severity::Ok, "{check:?}");
    assert!(
        check.summary.contains("5 session(s) ended"),
        "{}",
        check.summary
    );
}

#[tokio::test]
async fn f02_the_doctor_warns_about_an_idle_timeout_under_15_minutes() {
    let short = spawn_with(|c| c.session.admin_idle_minutes = 5).await;
    let check = short.doctor_check("session.timeout").await;
    assert_eq!(check.severity, Severity::Warning);
    assert!(
        check.summary.contains("session.admin_idle_minutes = 5"),
        "{}",
        check.summary
    );
    let fine = spawn_app().await;
    assert_eq!(
        fine.doctor_check("session.timeout").await.severity,
        Severity::Ok
    );
}

#[tokio::test]
async fn f02_the_doctor_fails_when_the_disk_is_nearly_full() {
    let app = spawn_with(|c| c.storage.min_free_mb = 1 << 40).await;
    let check = app.doctor_check("storage.disk").await;
    assert_eq!(check.severity, Severity::Error);
    assert!(
        check.cause.contains("sessions cannot be written"),
        "{}",
        check.cause
    );
    let fine = spawn_with(|c| c.storage.min_free_mb = 1).await;
    assert_eq!(
        fine.doctor_check("storage.disk").await.severity,
        Severity::Ok
    );
}
