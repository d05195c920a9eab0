//! F06 · Login redirect loops / "Invalid csrf protection token".

use crate::helpers::*;
use portcullis::doctor::Severity;

#[tokio::test]
async fn f06_the_sign_in_form_works_without_any_prior_session_or_cookie() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let browser = cookieless_client();
    let r = app
        .client_login_with(&browser, &user.email, &user.password)
        .await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn f06_a_browser_that_drops_the_cookie_gets_the_cookie_loss_page_instead_of_a_loop() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let browser = cookieless_client();
    let r = app
        .client_login_with(&browser, &user.email, &user.password)
        .await;
    let landing = app.follow_sign_in(&browser, &r).await;
    assert_eq!(landing.status(), 400);
    assert!(
        landing.headers().get("location").is_none(),
        "never a redirect back to sign-in"
    );
    let body = landing.text().await.unwrap();
    assert!(
        body.contains("did not send the session cookie back"),
        "{body}"
    );
    assert!(body.contains("Cookies are blocked"), "{body}");

    let check = app.doctor_check("session.cookie_loss").await;
    assert_eq!(check.severity, Severity::Warning);
    assert!(check.summary.contains("1 sign-in(s)"), "{}", check.summary);
}

#[tokio::test]
async fn f06_a_browser_that_keeps_the_cookie_consumes_the_marker_and_the_doctor_is_calm() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let r = app
        .client_login_with(&app.client, &user.email, &user.password)
        .await;
    let next = location(&r);
    assert_eq!(app.get(&next).await.status(), 200);
    assert_eq!(
        app.doctor_check("session.cookie_loss").await.severity,
        Severity::Ok
    );
    let marker: Option<String> = sqlx::query_scalar("SELECT signin_marker_hash FROM sessions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(marker.is_none(), "the marker is single-use");
}

#[tokio::test]
async fn f06_a_form_without_a_token_is_refused_403_saying_the_token_is_missing() {
    let app = spawn_app().await;
    let r = app
        .post_form(
            &app.client,
            "/login",
            &[("email", "a@b.example"), ("password", "x")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("security token is missing")
    );
}

#[tokio::test]
async fn f06_a_token_from_an_ended_session_says_reload_because_the_session_expired() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let page = app.client_login(&user).await.text().await.unwrap();
    let token = csrf_from(&page);
    app.clock.advance(61 * 60);
    let r = app
        .post_form(
            &app.client,
            "/account/sessions/end-others",
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains("Your session expired"), "{body}");
    assert!(body.contains("Reload the page"), "{body}");
}

#[tokio::test]
async fn f06_a_token_of_another_session_is_a_mismatch() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let other = new_client();
    let other_page = app
        .sign_in_client(&other, &user.email)
        .await
        .text()
        .await
        .unwrap();
    app.client_login(&user).await;
    let r = app
        .post_form(
            &app.client,
            "/account/sessions/end-others",
            &[("csrf_token", &csrf_from(&other_page))],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("does not match your session")
    );
}

#[tokio::test]
async fn f06_a_cross_site_submission_is_refused_even_with_a_valid_token() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let (_, csrf) = app.form_page(&app.client, "/login").await;
    let r = app
        .client
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[
            ("email", user.email.as_str()),
            ("password", &user.password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("came from another website")
    );
}

#[tokio::test]
async fn f06_the_token_header_works_for_scripts() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let page = app.client_login(&user).await.text().await.unwrap();
    crate::helpers::otp::step_up(&app, &app.client, "/account/sessions", &user.password).await;
    let r = app
        .client
        .post(app.url("/account/sessions/end-others"))
        .header("x-csrf-token", csrf_from(&page))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn f06_csrf_failures_are_counted_by_kind_for_the_doctor() {
    let app = spawn_app().await;
    assert_eq!(
        app.doctor_check("csrf.failures").await.severity,
        Severity::Ok
    );
    for _ in 0..5 {
        app.post_form(
            &app.client,
            "/login",
            &[("email", "a@b.example"), ("csrf_token", "s.bogus")],
        )
        .await;
    }
    let check = app.doctor_check("csrf.failures").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(
        check.summary.contains("session_expired"),
        "{}",
        check.summary
    );
}

#[tokio::test]
async fn f06_a_read_only_database_gives_a_503_page_not_a_redirect_and_the_doctor_fails_the_probe() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    // A second server on the same database, connected read-only (SQLite: the file opened
    // read-only; PostgreSQL: every transaction read-only, as on a standby): sessions cannot be
    // written.
    let read_only = if portcullis::bootstrap::is_postgres(&app.state.db) {
        let mut url = url::Url::parse(&app.state.config.database_url).unwrap();
        url.query_pairs_mut()
            .append_pair("options", "-c default_transaction_read_only=on");
        url.to_string()
    } else {
        format!(
            "sqlite://{}?mode=ro",
            app.dir.path().join("portcullis.db").display()
        )
    };
    let ro = spawn_with(|c| {
        c.database.url = read_only;
        c.database.migrate_on_start = false;
        // A second node shares the installation key, which password hashes are keyed with.
        c.two_factor.key_file = app.dir.path().join("secret.key").display().to_string();
    })
    .await;
    let r = ro
        .client_login_with(&ro.client, &user.email, &user.password)
        .await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("location").is_none());
    assert!(r.headers().get("retry-after").is_some());
    let body = r.text().await.unwrap();
    assert!(
        body.contains("could not write to its session storage"),
        "{body}"
    );
    assert!(!body.contains("Login Details Incorrect"));

    let probe = ro.doctor_check("storage.session_write").await;
    assert_eq!(probe.severity, Severity::Error);
    assert!(
        probe.cause.contains("read-only") || probe.cause.contains("readonly"),
        "{}",
        probe.cause
    );
    assert_eq!(
        app.doctor_check("storage.session_write").await.severity,
        Severity::Ok
    );
}

#[tokio::test]
async fn f06_a_form_sent_from_plain_http_to_an_https_portal_gets_the_cookie_loss_page() {
    // A TLS-terminating proxy that also passes plain http through, and tells us https either
    // way: the browser is on http://, where it would not keep the Secure session cookie.
    let app = spawn_with(|c| {
        c.server.system_url = c.server.system_url.replace("http://", "https://");
    })
    .await;
    let user = app.create_user("ada@example.com").await;
    let page = app
        .client
        .get(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_from(&page.text().await.unwrap());
    let r = app
        .client
        .post(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .header("origin", format!("http://127.0.0.1:{}", app.port))
        .form(&[
            ("email", user.email.as_str()),
            ("password", user.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("did not keep the sign-in cookie"), "{body}");
    assert!(body.contains("plain http"), "{body}");
    assert!(!body.contains("another website"), "{body}");
    let check = app.doctor_check("session.cookie_loss").await;
    assert_eq!(
        check.severity,
        portcullis::doctor::Severity::Warning,
        "{check:?}"
    );
    assert!(check.cause.contains("plain http"), "{check:?}");
}
