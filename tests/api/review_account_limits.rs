//! Issue 18 items 3, 10 and 13 on a running server: the limit per account (failed passwords
//! and second-factor answers counted across addresses, a growing delay during which nothing is
//! checked, reset by the owner's own sign-in), the owner's notice of a failed second factor,
//! wrong current passwords counting like failed sign-ins, and what the audit log keeps of an
//! identifier that named no account. The mock clock stands in for waiting out a delay.

use crate::helpers::otp::{enable_totp, oathtool};
use crate::helpers::smtp::SmtpPeer;
use crate::helpers::*;
use portcullis::clock::Clock as _;
use portcullis::mail::sender::run_once;

/// A password for accounts these tests create: long and not guessable.
const STRONG: &str = "tidal-Quartz-lantern-91";

/// A browser behind the trusted proxy on loopback, seen as `ip` (as f01_proxy.rs does).
fn browser_at(ip: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("portcullis-tests")
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The password step from `browser`; returns the response.
async fn password(
    app: &TestApp,
    browser: &reqwest::Client,
    who: &str,
    pw: &str,
) -> reqwest::Response {
    app.client_login_with(browser, who, pw).await
}

/// Posts a TOTP code to the challenge of `browser`'s pending sign-in (with the sign-in form's
/// token, which stays usable when the pending sign-in is gone).
async fn code(app: &TestApp, browser: &reqwest::Client, code: &str) -> reqwest::Response {
    let (_, csrf) = app.form_page(browser, "/login").await;
    app.post_form(
        browser,
        "/login/2fa",
        &[("method", "totp"), ("code", code), ("csrf_token", &csrf)],
    )
    .await
}

/// A code that is not the right one now.
fn wrong(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

async fn audit_subjects(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT subject, detail FROM audit_log WHERE action = 'signin.failure' ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn wrong_codes_from_twenty_addresses_are_delayed_per_account_and_the_owner_is_told() {
    let peer = SmtpPeer::start("accept", None);
    let app = spawn_with(|c| {
        c.proxy.trusted = vec!["loopback".into()];
        c.mail.transport = "smtp".into();
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = peer.port;
        c.mail.smtp_tls = "none".into();
        c.mail.smtp_timeout_seconds = 5;
    })
    .await;
    app.create_user("ada@example.com").await;
    let own = app.signed_in_client("ada@example.com").await;
    let (secret, _) = enable_totp(&app, &own, "/account/security", PASSWORD).await;
    // Earlier mails (none expected, but the count below must be about this attack only).
    run_once(&app.state).await.unwrap();
    let before = peer.messages().len();

    // The attacker knows the password and opens a pending sign-in from each of 20 addresses.
    let mut browsers = Vec::new();
    for i in 1..=20 {
        let b = browser_at(&format!("198.51.100.{i}"));
        let r = password(&app, &b, "ada@example.com", PASSWORD).await;
        assert_eq!(r.status(), 303, "address {i}: the password is right");
        assert_eq!(location(&r), "/login/2fa");
        browsers.push(b);
    }
    // Then 10 wrong codes from each, 200 in all, without the clock moving.
    let right = oathtool(&secret, app.clock.unix());
    let (mut checked, mut delayed, mut gone) = (0, 0, 0);
    for b in &browsers {
        for _ in 0..10 {
            let r = code(&app, b, wrong(&right)).await;
            match r.status().as_u16() {
                429 => {
                    assert!(r.headers().contains_key("retry-after"));
                    let body = r.text().await.unwrap();
                    assert!(body.contains("attempts are paused for"), "{body}");
                    assert!(body.contains("try again then"), "{body}");
                    delayed += 1;
                }
                401 => checked += 1,
                303 if location(&r) == "/login?twofactor=cancelled" => checked += 1,
                // The first pending sign-in was cancelled by its fifth wrong code.
                303 if location(&r) == "/login" => gone += 1,
                other => panic!("unexpected {other} {}", location(&r)),
            }
        }
    }
    assert_eq!(
        checked, 5,
        "five wrong codes are checked, then the account's delay runs"
    );
    assert_eq!((delayed, gone), (190, 5));

    // During the delay even the right code is refused, unchecked.
    let r = code(&app, &browsers[1], &right).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");

    // After it, one more wrong guess is checked and the next delay is twice as long.
    app.clock.advance(1);
    let r = code(&app, &browsers[2], wrong(&right)).await;
    assert_eq!(r.status(), 401);
    let r = code(&app, &browsers[3], &right).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");

    // The owner was told once, not once per wrong code or pending sign-in.
    run_once(&app.state).await.unwrap();
    let mails = peer.messages();
    assert_eq!(mails.len() - before, 1, "one notice: {mails:?}");
    let notice = mails.last().unwrap();
    assert!(notice.contains("ada@example.com"), "{notice}");
    assert!(
        notice.contains("Subject: Someone used your 127.0.0.1 password"),
        "{notice}"
    );
    assert!(
        notice.contains("from the address 198.51.100.1,"),
        "{notice}"
    );
    assert!(notice.contains("2026-11-28"), "the time is in it: {notice}");
    assert!(notice.contains("/account/password"), "what to do: {notice}");

    // Once the delay is over, the owner's right code signs in, and the count starts over.
    app.clock.advance(2);
    let owner = new_client();
    let r = password(&app, &owner, "ada@example.com", PASSWORD).await;
    assert_eq!(location(&r), "/login/2fa");
    let r = code(&app, &owner, &oathtool(&secret, app.clock.unix())).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/clientarea?signed_in="));
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_throttle WHERE failures > 0")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows, 0, "the owner's sign-in cleared the count");
    for _ in 0..4 {
        let r = code(&app, &browsers[4], wrong(&right)).await;
        assert_eq!(r.status(), 401, "free failures again after the reset");
    }
}

#[tokio::test]
async fn the_right_password_during_the_delay_is_refused_and_signs_in_once_it_is_over() {
    // Per-address bans off: eleven failures from loopback would ban it.
    let app = spawn_with(|c| c.bans.client_failures = 0).await;
    app.create_user("ada@example.com").await;
    for _ in 0..5 {
        let r = password(&app, &new_client(), "ada@example.com", "not-the-password-0").await;
        assert_eq!(r.status(), 401);
    }
    // The password is not even checked while the delay runs: the right one is refused too.
    let r = password(&app, &new_client(), "ada@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Too many failed attempts to sign in to this account. For its protection, attempts are paused for 1 second (until 2026-11-28 12:01 UTC at the latest); try again then. Nothing you enter before then is checked."),
        "{body}"
    );

    app.clock.advance(1);
    let r = password(&app, &new_client(), "ada@example.com", PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/clientarea?signed_in="));
    // The owner's sign-in reset the count: five free failures again.
    for _ in 0..5 {
        let r = password(&app, &new_client(), "ada@example.com", "not-the-password-0").await;
        assert_eq!(r.status(), 401);
    }
    let r = password(&app, &new_client(), "ada@example.com", "not-the-password-0").await;
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn an_unknown_identifier_is_delayed_exactly_like_an_account_that_exists() {
    // Per-address bans off: this is about the per-account answer alone.
    let app = spawn_with(|c| c.bans.client_failures = 0).await;
    app.create_user("known@example.com").await;
    let mut answers = Vec::new();
    for who in ["known@example.com", "nobody@example.com"] {
        let mut seen = Vec::new();
        for _ in 0..7 {
            let r = password(&app, &new_client(), who, "wrong-password-123").await;
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = r.text().await.unwrap().replace(who, "EMAIL");
            seen.push((status, retry, body));
        }
        answers.push(seen);
    }
    let statuses: Vec<u16> = answers[0].iter().map(|a| a.0).collect();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    assert_eq!(answers[0], answers[1], "the same answers, delays and pages");
}

#[tokio::test]
async fn wrong_current_passwords_on_the_password_form_count_like_failed_sign_ins() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let browser = app.signed_in_client("ada@example.com").await;
    for _ in 0..5 {
        let (_, csrf) = app.form_page(&browser, "/account/password").await;
        let r = app
            .post_form(
                &browser,
                "/account/password",
                &[
                    ("current_password", "not-the-password-0"),
                    ("password", STRONG),
                    ("password_confirm", STRONG),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert!(r.status().is_client_error(), "{}", r.status());
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("This is not your current password.")
        );
    }
    // Counted for the per-address bans, like a failed sign-in.
    let counted: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE ip = '127.0.0.1'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(counted, 5);
    // And for the account: the delay applies to sign-in and to the form itself.
    let r = password(&app, &new_client(), "ada@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    let (_, csrf) = app.form_page(&browser, "/account/password").await;
    let r = app
        .post_form(
            &browser,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", STRONG),
                ("password_confirm", STRONG),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let body = r.text().await.unwrap();
    assert!(body.contains("attempts are paused for"), "{body}");
    let unchanged: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'password.changed'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(unchanged, 0, "the right password was not even checked");

    // After the delay the right current password works and clears the count.
    app.clock.advance(1);
    let (_, csrf) = app.form_page(&browser, "/account/password").await;
    let r = app
        .post_form(
            &browser,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", STRONG),
                ("password_confirm", STRONG),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let r = password(&app, &new_client(), "ada@example.com", STRONG).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn the_audit_log_keeps_no_identifier_that_named_no_account() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    // A password typed into the email field, twice, and a known account's wrong password.
    let typed = "Hunter2-correct-horse-Battery";
    for _ in 0..2 {
        let r = password(&app, &new_client(), typed, "anything-at-all-0").await;
        assert_eq!(r.status(), 401);
    }
    let r = password(&app, &new_client(), &user.email, "anything-at-all-0").await;
    assert_eq!(r.status(), 401);

    let rows = audit_subjects(&app).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[2].0, "ada@example.com",
        "a known account keeps its name"
    );
    let masked = &rows[0].0;
    let hash = masked.strip_prefix("unknown:").expect(masked);
    assert_eq!(hash.len(), 12);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{masked}");
    assert_eq!(
        &rows[1].0, masked,
        "the same text, the same mark: attempts correlate"
    );
    assert_eq!(rows[0].1, "client sign-in: no account has this name");
    let everything: Vec<String> =
        sqlx::query_scalar("SELECT actor || subject || detail || ip || user_agent FROM audit_log")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    for row in &everything {
        assert!(!row.to_lowercase().contains("hunter2"), "{row}");
    }
    let failures: Vec<String> = sqlx::query_scalar("SELECT account FROM login_failures")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(
        failures.iter().all(|a| !a.contains("hunter2")),
        "{failures:?}"
    );

    // The admin's audit page shows the mark, and can filter on it.
    app.create_admin("root").await;
    let admin = app.signed_in_admin("root").await;
    let page = app
        .text_with(&admin, "/admin/audit?action=signin.failure")
        .await;
    assert!(page.contains(masked.as_str()), "{page}");
    assert!(!page.to_lowercase().contains("hunter2"), "{page}");
}
