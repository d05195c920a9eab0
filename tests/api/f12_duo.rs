//! F12 and the Duo Universal Prompt end to end: the real application, a fake Duo speaking the
//! protocol of duo.md (and checking every claim it receives), and a browser-like client that
//! follows the redirects by hand.

use crate::helpers::fake_duo::{FakeDuo, Health, TokenMode};
use crate::helpers::otp::{enable_totp, oathtool, step_up};
use crate::helpers::{PASSWORD, TestApp, csrf_from, location, new_client, spawn_with};
use portcullis::clock::Clock as _;

const CLIENT_ID: &str = "DIABCDEFGHIJ01234567";
const CLIENT_SECRET: &str = "abcdefghijABCDEFGHIJ0123456789abcdefghij";

struct Duo {
    app: TestApp,
    fake: FakeDuo,
}

async fn setup(outage: &str) -> Duo {
    let fake = FakeDuo::start(CLIENT_ID, CLIENT_SECRET).await;
    let url = fake.url.clone();
    let outage = outage.to_owned();
    let app = spawn_with(move |c| {
        c.two_factor.duo_test_api_url = url;
        c.two_factor.duo_outage = outage;
    })
    .await;
    fake.set_now(app.clock.unix());
    let fields = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("api_hostname", "api-1234abcd.duosecurity.com"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    portcullis::twofactor::duo::store::save(&app.state, fields)
        .await
        .unwrap()
        .unwrap();
    Duo { app, fake }
}

/// A signed-in user with Duo turned on; returns their client.
async fn duo_user(d: &Duo) -> reqwest::Client {
    let app = &d.app;
    app.create_user("ada@example.com").await;
    let client = app.signed_in_client("ada@example.com").await;
    step_up(app, &client, "/account/security", PASSWORD).await;
    let (_, csrf) = app.form_page(&client, "/account/security").await;
    let r = app
        .post_form(
            &client,
            "/account/security/duo",
            &[("enable", "1"), ("csrf_token", &csrf)],
        )
        .await;
    assert!(r.text().await.unwrap().contains("Duo is on"));
    client
}

/// Password, then "Continue with Duo": returns the browser and Duo's authorize URL.
async fn to_duo(d: &Duo) -> (reqwest::Client, reqwest::Response) {
    let app = &d.app;
    let browser = new_client();
    let r = app
        .client_login_with(&browser, "ada@example.com", PASSWORD)
        .await;
    assert_eq!(location(&r), "/login/2fa");
    let (page, csrf) = app.form_page(&browser, "/login/2fa").await;
    assert!(page.contains("Continue with Duo"), "{page}");
    let r = app
        .post_form(&browser, "/login/2fa/duo", &[("csrf_token", &csrf)])
        .await;
    (browser, r)
}

/// Follows the redirect to Duo and Duo's redirect back; returns the callback path and query.
async fn through_duo(d: &Duo, to_duo: &reqwest::Response) -> String {
    assert_eq!(to_duo.status(), 303);
    let authorize = location(to_duo);
    assert!(
        authorize.starts_with(&format!("{}/oauth/v1/authorize?", d.fake.url)),
        "{authorize}"
    );
    let back = new_client().get(&authorize).send().await.unwrap();
    assert_eq!(back.status(), 302, "{:?}", d.fake.violations());
    let callback = location(&back);
    let prefix = format!("{}/login/2fa/duo/callback?", d.app.address);
    assert!(callback.starts_with(&prefix), "{callback}");
    callback[d.app.address.len()..].to_owned()
}

#[tokio::test]
async fn the_second_factor_page_lets_its_duo_form_reach_duo_and_nothing_else() {
    // "Continue with Duo" is answered by a redirect to Duo's host; browsers check form-action
    // on that redirect, so the page allows Duo's origin (here the fake's), and pages without
    // the Duo form do not.
    let d = setup("fail_closed").await;
    duo_user(&d).await;
    let browser = new_client();
    let r = d
        .app
        .client_login_with(&browser, "ada@example.com", PASSWORD)
        .await;
    assert_eq!(location(&r), "/login/2fa");
    let r = browser.get(d.app.url("/login/2fa")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let origin = d.fake.url.trim_end_matches('/');
    assert!(
        csp.contains(&format!("form-action 'self' {origin};")),
        "{csp}"
    );
    let r = browser.get(d.app.url("/login")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action 'self';"), "{csp}");
}

#[tokio::test]
async fn duo_approves_and_the_sign_in_completes_with_every_claim_checked_by_the_fake() {
    let d = setup("fail_closed").await;
    duo_user(&d).await;
    let (browser, r) = to_duo(&d).await;
    let callback = through_duo(&d, &r).await;
    let r = browser.get(d.app.url(&callback)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/clientarea?signed_in="));
    let r = d.app.follow_sign_in(&browser, &r).await;
    assert_eq!(r.status(), 200);
    assert!(d.fake.violations().is_empty(), "{:?}", d.fake.violations());
    assert_eq!(
        (d.fake.authorize_requests(), d.fake.token_requests()),
        (1, 1)
    );

    // The same callback again (a replayed state) is refused, even on a fresh pending sign-in.
    let (other, _) = to_duo(&d).await;
    let r = other.get(d.app.url(&callback)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("does not belong to this sign-in")
    );
}

#[tokio::test]
async fn a_forged_state_or_one_from_another_browser_is_refused() {
    let d = setup("fail_closed").await;
    duo_user(&d).await;
    let (browser, r) = to_duo(&d).await;
    let callback = through_duo(&d, &r).await;
    let forged = format!(
        "/login/2fa/duo/callback?state={}&duo_code=abc",
        "x".repeat(36)
    );
    let r = browser.get(d.app.url(&forged)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // Another browser with its own pending sign-in presents this browser's genuine callback.
    let (thief, _) = to_duo(&d).await;
    let r = thief.get(d.app.url(&callback)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(crate::helpers::set_cookie(&r, "portcullis_client").is_none());
    // A genuine state more than five minutes old is refused too.
    let (slow, r) = to_duo(&d).await;
    let late = through_duo(&d, &r).await;
    d.app.clock.advance(301);
    d.fake.set_now(d.app.clock.unix());
    let r = slow.get(d.app.url(&late)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("more than 5 minutes old"));
    let refused: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'signin.duo_state_refused'",
    )
    .fetch_one(&d.app.state.db)
    .await
    .unwrap();
    assert_eq!(refused, 3);
}

#[tokio::test]
async fn a_denied_auth_result_refuses_the_sign_in() {
    let d = setup("fail_closed").await;
    duo_user(&d).await;
    d.fake.set_token_mode(TokenMode::Deny);
    let (browser, r) = to_duo(&d).await;
    let callback = through_duo(&d, &r).await;
    let r = browser.get(d.app.url(&callback)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(crate::helpers::set_cookie(&r, "portcullis_client").is_none());
    assert!(r.text().await.unwrap().contains("Duo denied the sign-in"));
}

#[tokio::test]
async fn id_tokens_with_a_wrong_nonce_aud_iss_signature_or_age_are_refused() {
    let d = setup("fail_closed").await;
    duo_user(&d).await;
    for mode in [
        TokenMode::WrongNonce,
        TokenMode::WrongAud,
        TokenMode::WrongIss,
        TokenMode::Expired,
        TokenMode::BadSignature,
    ] {
        d.fake.set_token_mode(mode);
        let (browser, r) = to_duo(&d).await;
        let callback = through_duo(&d, &r).await;
        let r = browser.get(d.app.url(&callback)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{mode:?}");
        assert!(
            crate::helpers::set_cookie(&r, "portcullis_client").is_none(),
            "{mode:?}"
        );
        let body = r.text().await.unwrap();
        assert!(body.contains("could not be verified"), "{mode:?}: {body}");
    }
    assert!(d.fake.violations().is_empty(), "{:?}", d.fake.violations());
}

#[tokio::test]
async fn f12_invalid_client_from_duo_is_explained_with_the_steps_to_a_web_sdk_application() {
    let d = setup("fail_closed").await;
    duo_user(&d).await;
    d.fake.set_token_mode(TokenMode::InvalidClient);
    let (browser, r) = to_duo(&d).await;
    let callback = through_duo(&d, &r).await;
    let r = browser.get(d.app.url(&callback)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("frameless access"), "{body}");
    assert!(body.contains("Protect an Application"), "{body}");
    assert!(body.contains("Web SDK"), "{body}");
}

#[tokio::test]
async fn f12_an_error_on_the_callback_url_is_translated() {
    let d = setup("fail_closed").await;
    duo_user(&d).await;
    let (browser, r) = to_duo(&d).await;
    let callback = through_duo(&d, &r).await;
    let state = callback
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let with_error = format!(
        "/login/2fa/duo/callback?state={state}&error=invalid_client&error_description=Integration%20type%20does%20not%20support%20frameless%20access"
    );
    let r = browser.get(d.app.url(&with_error)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("Protect an Application"), "{body}");
}

#[tokio::test]
async fn f12_legacy_credentials_are_refused_when_saved_with_the_steps() {
    let d = setup("fail_closed").await;
    let admin = d.app.create_admin("root").await;
    d.app.admin_login(&admin).await;
    let (_, csrf) = d.app.form_page(&d.app.client, "/admin/two-factor").await;
    let r = d
        .app
        .post_form(
            &d.app.client,
            "/admin/two-factor/duo",
            &[
                ("ikey", "DIWJ8X6AEYOR5OMC6TQ1"),
                ("skey", "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"),
                ("akey", "useacustomerprovidedapplicationsecretkey"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("legacy Duo credentials"), "{body}");
    assert!(body.contains("Protect an Application"), "{body}");
    assert!(
        !body.contains("Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"),
        "secrets are never echoed"
    );
    let stored: String = sqlx::query_scalar("SELECT client_id FROM duo_settings")
        .fetch_one(&d.app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, CLIENT_ID, "the working settings were kept");

    // A malformed hostname names the field; valid settings save and are checked against Duo.
    let r = d
        .app
        .post_form(
            &d.app.client,
            "/admin/two-factor/duo",
            &[
                ("client_id", CLIENT_ID),
                ("client_secret", ""),
                ("api_hostname", "https://api-1234abcd.duosecurity.com/"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("api_hostname"));
    let r = d
        .app
        .post_form(
            &d.app.client,
            "/admin/two-factor/duo",
            &[
                ("client_id", CLIENT_ID),
                ("client_secret", ""),
                ("api_hostname", "api-1234abcd.duosecurity.com"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("Duo answered the health check"), "{body}");
    // The secret is sealed at rest.
    let sealed: String = sqlx::query_scalar("SELECT client_secret_sealed FROM duo_settings")
        .fetch_one(&d.app.state.db)
        .await
        .unwrap();
    assert!(!sealed.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn duo_down_under_fail_closed_allows_only_a_backup_code() {
    let d = setup("fail_closed").await;
    let client = duo_user(&d).await;
    let (secret, codes) = enable_totp(&d.app, &client, "/account/security", PASSWORD).await;
    d.fake.set_health(Health::Fail);
    let (browser, r) = to_duo(&d).await;
    assert_eq!(r.status(), 503, "no redirect to a Duo that is down");
    let body = r.text().await.unwrap();
    assert!(body.contains("accepts only a backup code"), "{body}");
    assert!(!body.contains("Code from your authenticator app"), "{body}");
    let csrf = csrf_from(&body);
    let code = oathtool(&secret, d.app.clock.unix());
    let r = d
        .app
        .post_form(
            &browser,
            "/login/2fa",
            &[
                ("method", "totp"),
                ("code", code.as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = d
        .app
        .post_form(
            &browser,
            "/login/2fa",
            &[
                ("method", "backup"),
                ("code", codes[0].as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(crate::helpers::set_cookie(&r, "portcullis_client").is_some());
    assert_eq!(d.fake.authorize_requests(), 0);
}

#[tokio::test]
async fn duo_down_under_other_factor_allows_another_enrolled_factor() {
    let d = setup("other_factor").await;
    let client = duo_user(&d).await;
    let (secret, _) = enable_totp(&d.app, &client, "/account/security", PASSWORD).await;
    d.fake.set_health(Health::Garbage);
    let (browser, r) = to_duo(&d).await;
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(body.contains("another of your factors"), "{body}");
    let csrf = csrf_from(&body);
    let code = oathtool(&secret, d.app.clock.unix());
    let r = d
        .app
        .post_form(
            &browser,
            "/login/2fa",
            &[
                ("method", "totp"),
                ("code", code.as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/clientarea?signed_in="));
}

#[tokio::test]
async fn the_doctor_reports_duo_health_and_clock_skew() {
    let d = setup("fail_closed").await;
    let check = d.app.doctor_check("two_factor.duo").await;
    assert_eq!(
        check.severity,
        portcullis::doctor::Severity::Ok,
        "{check:?}"
    );
    assert!(check.summary.contains("clock difference 0 s"), "{check:?}");
    d.fake.set_now(d.app.clock.unix() + 120);
    let check = d.app.doctor_check("two_factor.duo").await;
    assert_eq!(
        check.severity,
        portcullis::doctor::Severity::Warning,
        "{check:?}"
    );
    assert!(check.summary.contains("120 s"), "{check:?}");
    d.fake.set_health(Health::Fail);
    let check = d.app.doctor_check("two_factor.duo").await;
    assert_eq!(
        check.severity,
        portcullis::doctor::Severity::Error,
        "{check:?}"
    );
    assert!(!check.next_step.is_empty());
}
