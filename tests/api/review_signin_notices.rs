//! Issue 18, ASVS 2.1.7 and 2.2.3 at sign-in: a correct password on the common-password list
//! starts no session (a reset link is mailed instead), and a sign-in from a network none of the
//! person's recent sign-ins came from is told to them by mail.

use crate::helpers::*;

async fn mails(app: &TestApp, template: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT text_body || html_body FROM mail_messages WHERE template = $1 ORDER BY id",
    )
    .bind(template)
    .fetch_all(&app.state.db)
    .await
    .unwrap()
}

/// A user whose stored password is a common one, set past the policy as an imported account's
/// would be.
async fn user_with_password(app: &TestApp, email: &str, password: &str) -> TestUser {
    let user = app.create_user(email).await;
    let pepper = portcullis::auth::password::Pepper::derive(&app.state.sealing);
    let hash = portcullis::auth::password::hash_password(password, &pepper).unwrap();
    // Raw SQL: an account imported from the old system, whose password predates the policy.
    sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
        .bind(&hash)
        .bind(email)
        .execute(&app.state.db)
        .await
        .unwrap();
    TestUser {
        email: user.email,
        password: password.to_owned(),
    }
}

#[tokio::test]
async fn a_correct_but_common_password_starts_no_session_and_mails_a_reset_link() {
    let app = spawn_app().await;
    let user = user_with_password(&app, "common@example.com", "password1").await;
    let response = app
        .client_login_with(&app.client, &user.email, &user.password)
        .await;
    assert_eq!(response.status(), 403);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Your password is on a list of common passwords"),
        "{page}"
    );
    assert!(
        page.contains("We have sent a link to choose a new one"),
        "{page}"
    );
    // No session: the client area still sends the browser to the sign-in page.
    let area = app.get("/clientarea").await;
    assert_eq!(area.status(), 303);
    assert_eq!(location(&area), "/login");
    let resets = mails(&app, "password_reset").await;
    assert_eq!(resets.len(), 1, "one reset link is mailed");
    assert!(resets[0].contains("/password/reset/"), "{}", resets[0]);
    let success: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'signin.success'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(success, 0);
}

#[tokio::test]
async fn a_wrong_password_for_an_account_with_a_common_one_says_nothing_about_it() {
    let app = spawn_app().await;
    let user = user_with_password(&app, "common2@example.com", "password1").await;
    let response = app
        .client_login_with(&app.client, &user.email, "tidal-Quartz-lantern-91")
        .await;
    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(!page.contains("common passwords"), "{page}");
    assert!(mails(&app, "password_reset").await.is_empty());
}

#[tokio::test]
async fn a_sign_in_from_a_new_network_is_told_by_mail_and_a_known_one_is_not() {
    let app = spawn_with(|c| c.proxy.trusted = vec!["loopback".into()]).await;
    let user = app.create_user("places@example.com").await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];

    // The very first sign-in is not news.
    let first = app
        .client_login_via(&user, PASSWORD, &from("203.0.113.7"))
        .await;
    assert_eq!(first.status(), 303);
    assert!(mails(&app, "new_place_signin").await.is_empty());

    // The same address, and another in its /24: known places.
    for ip in ["203.0.113.7", "203.0.113.200"] {
        let again = app.client_login_via(&user, PASSWORD, &from(ip)).await;
        assert_eq!(again.status(), 303);
    }
    assert!(mails(&app, "new_place_signin").await.is_empty());

    // Another network: one notice, with when, where and the sessions page, and no secret.
    let elsewhere = app
        .client_login_via(&user, PASSWORD, &from("198.51.100.9"))
        .await;
    assert_eq!(elsewhere.status(), 303);
    let notices = mails(&app, "new_place_signin").await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    let notice = &notices[0];
    assert!(notice.contains("198.51.100.9"), "{notice}");
    assert!(notice.contains("/account/sessions"), "{notice}");
    assert!(notice.contains("Device:"), "{notice}");
    assert!(!notice.contains(PASSWORD), "{notice}");
    let to: String =
        sqlx::query_scalar("SELECT to_addr FROM mail_messages WHERE template = 'new_place_signin'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(to, "places@example.com");

    // That network is now known too.
    let back = app
        .client_login_via(&user, PASSWORD, &from("198.51.100.10"))
        .await;
    assert_eq!(back.status(), 303);
    assert_eq!(mails(&app, "new_place_signin").await.len(), 1);
}
