//! TOTP and backup codes over HTTP, with codes from `oathtool` (an independent implementation)
//! and the mock clock moving between time steps.

use crate::helpers::otp::{backup_codes, enable_totp, oathtool, password_then_challenge, step_up};
use crate::helpers::{PASSWORD, TestApp, csrf_from, location, new_client, spawn_app, spawn_with};
use portcullis::clock::Clock as _;

async fn challenge(
    app: &TestApp,
    client: &reqwest::Client,
    csrf: &str,
    method: &str,
    code: &str,
) -> reqwest::Response {
    app.post_form(
        client,
        "/login/2fa",
        &[("method", method), ("code", code), ("csrf_token", csrf)],
    )
    .await
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_with_an_oathtool_code_rotates_into_a_session() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let client = app.signed_in_client("ada@example.com").await;
    let (secret, _) = enable_totp(&app, &client, "/account/security", PASSWORD).await;
    assert_eq!(secret.len(), 32, "a 160-bit seed in base32");

    // The seed is sealed at rest: neither the base32 text nor the raw bytes are in the row.
    let sealed: String = sqlx::query_scalar("SELECT secret_sealed FROM totp_secrets")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains(&secret));

    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    // The pending sign-in is not a session.
    let r = browser.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");

    let code = oathtool(&secret, app.clock.unix());
    let r = challenge(&app, &browser, &csrf, "totp", &code).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/clientarea?signed_in="));
    let session_cookie = crate::helpers::set_cookie(&r, "portcullis_client").unwrap();
    let pending_removed = crate::helpers::set_cookie_line(&r, "portcullis_client_2fa").unwrap();
    assert!(pending_removed.contains("Max-Age=0"), "{pending_removed}");
    assert_eq!(session_cookie.len(), 43);
    let r = app.follow_sign_in(&browser, &r).await;
    assert_eq!(r.status(), 200);

    // The same code again (same time step) is a replay, even for a fresh sign-in.
    let other = new_client();
    let csrf = password_then_challenge(&app, &other, "ada@example.com", PASSWORD).await;
    let r = challenge(&app, &other, &csrf, "totp", &code).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("already used"));
}

#[tokio::test]
async fn one_step_of_drift_is_accepted_and_two_are_not() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let client = app.signed_in_client("ada@example.com").await;
    let (secret, _) = enable_totp(&app, &client, "/account/security", PASSWORD).await;
    app.clock.advance(300);
    let now = app.clock.unix();

    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    let r = challenge(&app, &browser, &csrf, "totp", &oathtool(&secret, now - 60)).await;
    assert_eq!(r.status(), 401, "two steps behind");
    let r = challenge(&app, &browser, &csrf, "totp", &oathtool(&secret, now + 60)).await;
    assert_eq!(r.status(), 401, "two steps ahead");
    let r = challenge(&app, &browser, &csrf, "totp", &oathtool(&secret, now - 30)).await;
    assert_eq!(r.status(), 303, "one step behind");

    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    let r = challenge(&app, &browser, &csrf, "totp", &oathtool(&secret, now + 30)).await;
    assert_eq!(r.status(), 303, "one step ahead");
}

#[tokio::test]
async fn five_wrong_codes_cancel_the_sign_in_and_count_as_a_failed_sign_in() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let client = app.signed_in_client("ada@example.com").await;
    let (secret, _) = enable_totp(&app, &client, "/account/security", PASSWORD).await;

    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    for left in (1..=4).rev() {
        let r = challenge(&app, &browser, &csrf, "totp", "000000").await;
        assert_eq!(r.status(), 401);
        let body = r.text().await.unwrap();
        assert!(body.contains(&format!("{left} attempt")), "{body}");
    }
    let r = challenge(&app, &browser, &csrf, "totp", "000000").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?twofactor=cancelled");
    let page = browser
        .get(app.url("/login?twofactor=cancelled"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Too many wrong codes"), "{page}");
    let failures: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE account = 'ada@example.com'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(failures, 1);
    // The cancelled pending sign-in is gone: even the right code no longer completes it.
    let r = challenge(
        &app,
        &browser,
        &csrf,
        "totp",
        &oathtool(&secret, app.clock.unix()),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'signin.second_factor_failed'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn backup_codes_work_once_say_how_many_remain_and_regeneration_replaces_them() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let client = app.signed_in_client("ada@example.com").await;
    let (_, codes) = enable_totp(&app, &client, "/account/security", PASSWORD).await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM backup_codes")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| !stored.iter().any(|h| h.contains(c.as_str())))
    );

    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    // Typed in upper case with a space: still the code.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let r = challenge(&app, &browser, &csrf, "backup", &typed).await;
    assert_eq!(r.status(), 200);
    assert!(crate::helpers::set_cookie(&r, "portcullis_client").is_some());
    let body = r.text().await.unwrap();
    assert!(body.contains("You have 9 backup codes left"), "{body}");

    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    let r = challenge(&app, &browser, &csrf, "backup", &codes[0]).await;
    assert_eq!(r.status(), 401, "a used backup code is refused");

    // Regenerate: the old set stops working, the new set works.
    step_up(&app, &client, "/account/security", PASSWORD).await;
    let (_, csrf_sec) = app.form_page(&client, "/account/security").await;
    let r = app
        .post_form(
            &client,
            "/account/security/backup-codes",
            &[("csrf_token", &csrf_sec)],
        )
        .await;
    let fresh = backup_codes(&r.text().await.unwrap());
    assert_eq!(fresh.len(), 10);
    let r = challenge(&app, &browser, &csrf, "backup", &codes[1]).await;
    assert_eq!(r.status(), 401, "the old set no longer works");
    let r = challenge(&app, &browser, &csrf, "backup", &fresh[0]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("9 backup codes left"));
    let audit: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    for action in [
        "two_factor.totp_enabled",
        "two_factor.backup_code_used",
        "two_factor.backup_regenerated",
    ] {
        assert!(audit.iter().any(|a| a == action), "{action} in {audit:?}");
    }
}

#[tokio::test]
async fn changes_need_a_recent_step_up() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let client = app.signed_in_client("ada@example.com").await;
    let (_, csrf) = app.form_page(&client, "/account/security").await;
    let r = client
        .get(app.url("/account/security/totp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("first: enter your password")
    );
    let r = app
        .post_form(
            &client,
            "/account/security/confirm",
            &[("password", "wrong-password-here"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);
    enable_totp(&app, &client, "/account/security", PASSWORD).await;
    // Eleven minutes later the step-up has lapsed.
    app.clock.advance(660);
    let (_, csrf) = app.form_page(&client, "/account/security").await;
    let r = app
        .post_form(
            &client,
            "/account/security/totp/remove",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    let on: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM totp_secrets WHERE confirmed_at IS NOT NULL")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(on, 1);
}

#[tokio::test]
async fn a_required_policy_sends_people_without_a_factor_to_enrolment_and_keeps_their_last_factor()
{
    let app = spawn_with(|c| c.two_factor.client_policy = "required".into()).await;
    app.create_user("ada@example.com").await;
    let browser = new_client();
    let r = app
        .client_login_with(&browser, "ada@example.com", PASSWORD)
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/2fa/enrol");
    // Nothing else accepts the pending sign-in.
    for path in ["/clientarea", "/account/security", "/account/sessions"] {
        let r = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(location(&r), "/login", "{path}");
    }
    let r = browser.get(app.url("/login/2fa")).send().await.unwrap();
    assert_eq!(location(&r), "/login/2fa/enrol");
    let page = browser
        .get(app.url("/login/2fa/enrol"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = crate::helpers::otp::between(&page, "id=\"totp-secret\">", "<").to_owned();
    let csrf = csrf_from(&page);
    let r = app
        .post_form(
            &browser,
            "/login/2fa/enrol",
            &[("code", "123456"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 401);
    let code = oathtool(&secret, app.clock.unix());
    let r = app
        .post_form(
            &browser,
            "/login/2fa/enrol",
            &[("code", code.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert_eq!(backup_codes(&body).len(), 10);
    let next = crate::helpers::otp::between(&body, "class=\"button\" href=\"", "\"")
        .replace("&#x3d;", "=");
    let r = browser.get(app.url(&next)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{next}");

    // The only factor cannot be removed under "required".
    step_up(&app, &browser, "/account/security", PASSWORD).await;
    let (_, csrf) = app.form_page(&browser, "/account/security").await;
    let r = app
        .post_form(
            &browser,
            "/account/security/totp/remove",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("last second factor"));
}

#[tokio::test]
async fn policy_off_signs_in_with_the_password_alone() {
    let app = spawn_with(|c| c.two_factor.client_policy = "off".into()).await;
    app.create_user("ada@example.com").await;
    let client = app.signed_in_client("ada@example.com").await;
    // Enrolment is still possible (the policy may change later) but not asked for.
    enable_totp(&app, &client, "/account/security", PASSWORD).await;
    let r = app
        .client_login_with(&new_client(), "ada@example.com", PASSWORD)
        .await;
    assert!(location(&r).starts_with("/clientarea?signed_in="));
}

#[tokio::test]
async fn malformed_challenge_requests_get_clear_answers() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let client = app.signed_in_client("ada@example.com").await;
    enable_totp(&app, &client, "/account/security", PASSWORD).await;
    // No pending sign-in at all: back to the sign-in page.
    let r = new_client()
        .get(app.url("/login/2fa"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/login");
    // A garbage or stale pending cookie: the sign-in page says the second step expired.
    let r = app
        .get_with_cookie("/login/2fa", "portcullis_client_2fa=garbage")
        .await;
    assert_eq!(location(&r), "/login?twofactor=expired");
    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    let r = challenge(&app, &browser, &csrf, "carrier-pigeon", "123456").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("no verification method"));
    let r = app
        .post_form(
            &browser,
            "/login/2fa",
            &[("code", "123456"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = challenge(&app, &browser, &csrf, "totp", &"9".repeat(5000)).await;
    assert_eq!(r.status(), 401);
    // Without the CSRF token the form is refused before any code is checked.
    let r = app
        .post_form(
            &browser,
            "/login/2fa",
            &[("method", "totp"), ("code", "123456")],
        )
        .await;
    assert_eq!(r.status(), 403);
    // The pending sign-in lasts ten minutes.
    app.clock.advance(601);
    let r = browser.get(app.url("/login/2fa")).send().await.unwrap();
    assert_eq!(location(&r), "/login?twofactor=expired");
    let page = browser
        .get(app.url("/login?twofactor=expired"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("took longer than 10 minutes"), "{page}");
}
