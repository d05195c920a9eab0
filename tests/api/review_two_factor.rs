//! Issue 18's second-factor findings on a running server: the admin's reset is bounded by the
//! actor's permissions and needs a fresh step-up (item 1); an authenticator seed being set up
//! belongs to its session, expires and does not survive a password reset (item 5); every
//! second-factor change is mailed to the person (item 9); Duo credentials that Duo refuses are
//! not saved, and refused Duo sign-ins and single wrong codes are audited (item 15).

use crate::helpers::fake_duo::{FakeDuo, TokenMode};
use crate::helpers::otp::{between, enable_totp, oathtool, step_up};
use crate::helpers::smtp::{SmtpPeer, link};
use crate::helpers::{
    PASSWORD, SUPPORT_OPERATOR, TestApp, cookieless_client, csrf_from, location, new_client,
    spawn_app, spawn_with,
};
use portcullis::clock::Clock as _;
use secrecy::ExposeSecret as _;

const ADMIN_SECURITY: &str = "/admin/account/security";
const CLIENT_SECURITY: &str = "/account/security";

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

/// Confirmed authenticator apps of admin `username`.
async fn admin_totp(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM totp_secrets WHERE realm = 'admin' AND confirmed_at IS NOT NULL \
         AND subject_id = (SELECT id FROM admins WHERE username = $1)",
    )
    .bind(username.to_owned())
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

/// Posts the reset form as `admin` for `login` of `realm`; returns the status and the page.
async fn reset(app: &TestApp, admin: &reqwest::Client, realm: &str, login: &str) -> (u16, String) {
    let (_, csrf) = app.form_page(admin, "/admin/two-factor").await;
    let r = app
        .post_form(
            admin,
            "/admin/two-factor/reset",
            &[("realm", realm), ("login", login), ("csrf_token", &csrf)],
        )
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn an_admin_holding_only_configure_two_factor_cannot_turn_off_a_full_administrators_factors()
{
    let app = spawn_app().await;
    app.create_admin("root").await;
    let desk = app
        .admin_with_role("desk", "Two-factor desk", &["configure_two_factor"])
        .await;
    let root = app.signed_in_admin("root").await;
    enable_totp(&app, &root, ADMIN_SECURITY, PASSWORD).await;
    assert_eq!(admin_totp(&app, "root").await, 1);

    // The case, even after a fresh step-up: refused, and root keeps the factor.
    step_up(&app, &desk, ADMIN_SECURITY, PASSWORD).await;
    let (status, page) = reset(&app, &desk, "admin", "root").await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("root holds permissions your role (Two-factor desk) does not"),
        "{page}"
    );
    assert!(page.contains("Their factors are unchanged"), "{page}");
    assert_eq!(admin_totp(&app, "root").await, 1, "root keeps the factor");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM mail_messages WHERE to_addr = 'root@example.com' AND subject LIKE 'Two-factor%'"
        )
        .await,
        0,
        "no notice of a reset that did not happen"
    );
    let refused: String = sqlx::query_scalar(
        "SELECT actor || ' ' || subject || ' ' || detail FROM audit_log WHERE action = 'two_factor.reset_refused'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(
        refused.starts_with(&format!("{} ", app.admin_actor("desk").await)),
        "{refused}"
    );

    // A client user's factors are still the desk's to reset, and that is audited.
    app.create_user("ada@example.com").await;
    let ada = app.signed_in_client("ada@example.com").await;
    enable_totp(&app, &ada, CLIENT_SECURITY, PASSWORD).await;
    let (status, page) = reset(&app, &desk, "client", "ada@example.com").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'two_factor.reset'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn turning_off_someones_factors_needs_a_fresh_step_up_and_a_full_administrator_may_then() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    app.create_admin_in_role("lesser", SUPPORT_OPERATOR).await;
    let lesser = app.signed_in_admin("lesser").await;
    enable_totp(&app, &lesser, ADMIN_SECURITY, PASSWORD).await;
    let root = app.signed_in_admin("root").await;

    // No step-up on this session: refused by the service, whatever the page's gate.
    let (status, page) = reset(&app, &root, "admin", "lesser").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Confirm it&#39;s you first"), "{page}");
    assert!(page.contains(ADMIN_SECURITY), "{page}");
    assert_eq!(admin_totp(&app, "lesser").await, 1);

    // A step-up of eleven minutes ago is not fresh.
    step_up(&app, &root, ADMIN_SECURITY, PASSWORD).await;
    app.clock.advance(11 * 60);
    let (status, _) = reset(&app, &root, "admin", "lesser").await;
    assert_eq!(status, 403);
    assert_eq!(admin_totp(&app, "lesser").await, 1);

    // After a fresh step-up the Full Administrator may reset a lesser admin.
    step_up(&app, &root, ADMIN_SECURITY, PASSWORD).await;
    let (status, page) = reset(&app, &root, "admin", "lesser").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("is off for lesser"), "{page}");
    assert_eq!(admin_totp(&app, "lesser").await, 0);
}

/// Opens the TOTP setup in `browser` (stepped up); returns the seed shown.
async fn start_setup(app: &TestApp, browser: &reqwest::Client) -> String {
    let page = app
        .text_with(browser, &format!("{CLIENT_SECURITY}/totp"))
        .await;
    between(&page, "id=\"totp-secret\">", "<").to_owned()
}

/// Posts the setup's confirmation code; returns the status and the page.
async fn confirm_setup(app: &TestApp, browser: &reqwest::Client, code: &str) -> (u16, String) {
    let (_, csrf) = app.form_page(browser, CLIENT_SECURITY).await;
    let r = app
        .post_form(
            browser,
            &format!("{CLIENT_SECURITY}/totp"),
            &[("code", code), ("csrf_token", &csrf)],
        )
        .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn confirmed_totp(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT COUNT(*) FROM totp_secrets WHERE confirmed_at IS NOT NULL",
    )
    .await
}

#[tokio::test]
async fn a_seed_being_set_up_in_one_session_cannot_be_seen_or_confirmed_from_another() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let a = app.signed_in_client("ada@example.com").await;
    let b = app.signed_in_client("ada@example.com").await;
    step_up(&app, &a, CLIENT_SECURITY, PASSWORD).await;
    step_up(&app, &b, CLIENT_SECURITY, PASSWORD).await;
    let seed_a = start_setup(&app, &a).await;

    // Session B presents a code of A's seed: there is no setup of B's to confirm.
    let (status, page) = confirm_setup(&app, &b, &oathtool(&seed_a, app.clock.unix())).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("no longer valid"), "{page}");
    assert_eq!(confirmed_totp(&app).await, 0);

    // B's own setup shows another seed, which replaces A's.
    let seed_b = start_setup(&app, &b).await;
    assert_ne!(seed_a, seed_b, "B never sees A's seed");
    let (status, _) = confirm_setup(&app, &a, &oathtool(&seed_a, app.clock.unix())).await;
    assert_eq!(status, 400, "A's replaced seed no longer confirms");
    let (status, page) = confirm_setup(&app, &b, &oathtool(&seed_b, app.clock.unix())).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(confirmed_totp(&app).await, 1);
}

#[tokio::test]
async fn a_seed_not_confirmed_within_fifteen_minutes_is_refused() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let a = app.signed_in_client("ada@example.com").await;
    step_up(&app, &a, CLIENT_SECURITY, PASSWORD).await;
    let seed = start_setup(&app, &a).await;
    app.clock.advance(15 * 60 + 1);
    step_up(&app, &a, CLIENT_SECURITY, PASSWORD).await;
    let (status, page) = confirm_setup(&app, &a, &oathtool(&seed, app.clock.unix())).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("expired after 15 minutes"), "{page}");
    assert_eq!(confirmed_totp(&app).await, 0);
}

#[tokio::test]
async fn a_password_reset_clears_a_seed_planted_before_it() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    // Someone who knew the old password starts a setup and leaves it unconfirmed.
    let intruder = app.signed_in_client("ada@example.com").await;
    step_up(&app, &intruder, CLIENT_SECURITY, PASSWORD).await;
    let planted = start_setup(&app, &intruder).await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM totp_secrets").await,
        1,
        "the planted seed is stored"
    );

    // The owner resets the password from the mailed link.
    let (_, csrf) = app.form_page(&cookieless_client(), "/password/reset").await;
    app.post_form(
        &cookieless_client(),
        "/password/reset",
        &[("email", "ada@example.com"), ("csrf_token", &csrf)],
    )
    .await;
    let mail: String =
        sqlx::query_scalar("SELECT text_body FROM mail_messages WHERE template = 'password_reset'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    let reset_link = link(&mail, &app.url("/password/reset/"));
    let browser = new_client();
    let page = browser
        .get(&reset_link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let new_password = "tidal-Quartz-lantern-91";
    let r = browser
        .post(&reset_link)
        .form(&[
            ("password", new_password),
            ("password_confirm", new_password),
            ("csrf_token", &csrf_from(&page)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM totp_secrets").await,
        0,
        "the reset cleared the planted seed"
    );

    // The owner's own setup shows a fresh seed, never the planted one.
    let owner = new_client();
    let r = app
        .client_login_with(&owner, "ada@example.com", new_password)
        .await;
    app.follow_sign_in(&owner, &r).await;
    step_up(&app, &owner, CLIENT_SECURITY, new_password).await;
    assert_ne!(start_setup(&app, &owner).await, planted);
}

#[tokio::test]
async fn an_authenticator_enrolment_and_an_admin_reset_are_mailed_to_the_person() {
    let peer = SmtpPeer::start("accept", None);
    let port = peer.port;
    let app = spawn_with(move |c| {
        c.mail.transport = "smtp".into();
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = port;
        c.mail.smtp_tls = "none".into();
        c.mail.smtp_timeout_seconds = 5;
    })
    .await;
    app.create_user("ada@example.com").await;
    let ada = app.signed_in_client("ada@example.com").await;
    enable_totp(&app, &ada, CLIENT_SECURITY, PASSWORD).await;
    portcullis::mail::sender::run_once(&app.state)
        .await
        .unwrap();
    let added = peer
        .messages()
        .into_iter()
        .find(|m| m.contains("Subject: An authenticator app was added to your account"))
        .unwrap_or_else(|| panic!("the enrolment notice arrived: {:?}", peer.messages()));
    assert!(added.contains("To: ada@example.com"), "{added}");
    assert!(added.contains("When: 2026-11-28"), "{added}");
    assert!(added.contains("From: address 127.0.0.1"), "{added}");
    assert!(added.contains("If it was not you"), "{added}");
    assert!(added.contains(&app.url("/password/reset")), "{added}");

    app.create_admin("root").await;
    let root = app.signed_in_admin("root").await;
    step_up(&app, &root, ADMIN_SECURITY, PASSWORD).await;
    let (status, _) = reset(&app, &root, "client", "ada@example.com").await;
    assert_eq!(status, 200);
    portcullis::mail::sender::run_once(&app.state)
        .await
        .unwrap();
    let off = peer
        .messages()
        .into_iter()
        .find(|m| m.contains("Two-factor authentication was turned off"))
        .unwrap_or_else(|| panic!("the reset notice arrived: {:?}", peer.messages()));
    assert!(off.contains("administrator root"), "{off}");
    assert!(off.contains("address 127.0.0.1"), "{off}");
    assert!(off.contains("If it was not you"), "{off}");
}

const CLIENT_ID: &str = "DIABCDEFGHIJ01234567";
const CLIENT_SECRET: &str = "abcdefghijABCDEFGHIJ0123456789abcdefghij";
const HOST: &str = "api-1234abcd.duosecurity.com";

/// An application with working Duo settings against a fake Duo.
async fn with_duo() -> (TestApp, FakeDuo) {
    let fake = FakeDuo::start(CLIENT_ID, CLIENT_SECRET).await;
    let url = fake.url.clone();
    let app = spawn_with(move |c| c.two_factor.duo_test_api_url = url).await;
    fake.set_now(app.clock.unix());
    let fields = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("api_hostname", HOST),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    portcullis::twofactor::duo::store::save(&app.state, fields)
        .await
        .unwrap()
        .unwrap();
    (app, fake)
}

#[tokio::test]
async fn credentials_duo_refuses_are_not_saved_the_working_ones_stay_and_the_page_says_they_are_wrong()
 {
    let (app, fake) = with_duo().await;
    app.create_admin("root").await;
    let root = app.signed_in_admin("root").await;
    for (client_id, secret) in [
        // Another application's Client ID, and the right one with a mistyped secret.
        (
            "DIZYXWVUTSRQ76543210",
            "zyxwvutsrqZYXWVUTSRQ9876543210zyxwvutsrq",
        ),
        (CLIENT_ID, "zyxwvutsrqZYXWVUTSRQ9876543210zyxwvutsrq"),
    ] {
        let (_, csrf) = app.form_page(&root, "/admin/two-factor").await;
        let r = app
            .post_form(
                &root,
                "/admin/two-factor/duo",
                &[
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("api_hostname", HOST),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("These Duo credentials are wrong"), "{page}");
        assert!(page.contains("invalid_client"), "{page}");
        assert!(page.contains("Protect an Application"), "{page}");
        assert!(page.contains("previous Duo settings were kept"), "{page}");
        assert!(!page.contains("Duo could not be reached"), "{page}");
        assert!(!page.contains(secret), "secrets are never echoed");
    }
    assert_eq!(fake.credentials_refused(), 2);
    let kept = portcullis::twofactor::TwoFactor::from(&app.state)
        .duo_credentials()
        .await
        .unwrap()
        .expect("the working settings are still stored");
    assert_eq!(kept.client_id, CLIENT_ID);
    assert_eq!(kept.client_secret.expose_secret(), CLIENT_SECRET);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'two_factor.duo_settings' AND detail LIKE '%not saved%'"
        )
        .await,
        2
    );
    assert_eq!(
        app.doctor_check("two_factor.duo").await.severity,
        portcullis::doctor::Severity::Ok,
        "Duo still works"
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn a_refused_duo_sign_in_writes_an_audit_row() {
    let (app, fake) = with_duo().await;
    app.create_user("ada@example.com").await;
    let ada = app.signed_in_client("ada@example.com").await;
    step_up(&app, &ada, CLIENT_SECURITY, PASSWORD).await;
    let (_, csrf) = app.form_page(&ada, CLIENT_SECURITY).await;
    app.post_form(
        &ada,
        "/account/security/duo",
        &[("enable", "1"), ("csrf_token", &csrf)],
    )
    .await;
    fake.set_token_mode(TokenMode::Deny);
    let browser = new_client();
    app.client_login_with(&browser, "ada@example.com", PASSWORD)
        .await;
    let (_, csrf) = app.form_page(&browser, "/login/2fa").await;
    let r = app
        .post_form(&browser, "/login/2fa/duo", &[("csrf_token", &csrf)])
        .await;
    let back = new_client().get(location(&r)).send().await.unwrap();
    let callback = location(&back);
    let r = browser.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let row: String = sqlx::query_scalar(
        "SELECT actor || ' ' || ip || ' ' || detail FROM audit_log WHERE action = 'two_factor.duo_refused'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(row.starts_with("client:1 127.0.0.1 "), "{row}");
    assert!(row.contains("Login denied"), "{row}");
}

#[tokio::test]
async fn a_single_wrong_totp_or_backup_code_at_sign_in_writes_an_audit_row() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let ada = app.signed_in_client("ada@example.com").await;
    let (secret, _) = enable_totp(&app, &ada, CLIENT_SECURITY, PASSWORD).await;
    let browser = new_client();
    app.client_login_with(&browser, "ada@example.com", PASSWORD)
        .await;
    let (_, csrf) = app.form_page(&browser, "/login/2fa").await;
    let right = oathtool(&secret, app.clock.unix());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for (method, code) in [("totp", wrong), ("backup", "aaaaa-bbbbb")] {
        let r = app
            .post_form(
                &browser,
                "/login/2fa",
                &[("method", method), ("code", code), ("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 401, "{method}");
    }
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT actor || ' ' || ip || ' ' || detail FROM audit_log WHERE action = 'two_factor.wrong_code' ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[0].starts_with("client:1 127.0.0.1 a wrong authenticator code"),
        "{rows:?}"
    );
    assert!(rows[1].contains("backup code"), "{rows:?}");
}
