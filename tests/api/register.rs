//! Self-registration.

use crate::helpers::*;

async fn register(app: &TestApp, email: &str, password: &str, confirm: &str) -> reqwest::Response {
    let (_, csrf) = app.form_page(&app.client, "/register").await;
    app.post_form(
        &app.client,
        "/register",
        &[
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("email", email),
            ("password", password),
            ("password_confirm", confirm),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

#[tokio::test]
async fn registering_creates_a_user_who_owns_a_client_account_and_may_then_sign_in() {
    let app = spawn_app().await;
    let r = register(&app, "grace@example.com", PASSWORD, PASSWORD).await;
    // No session here (issue 18, item 11: a session for a new address only would tell a taken
    // one apart); the page says to confirm the address and sign in.
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    let home = app
        .sign_in_client(&app.client, "grace@example.com")
        .await
        .text()
        .await
        .unwrap();
    assert!(home.contains("Welcome, Grace"), "{home}");
    let owners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients c JOIN users u ON u.id = c.owner_user_id WHERE u.email = 'grace@example.com'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn a_weak_password_is_refused_next_to_its_field() {
    let app = spawn_app().await;
    let r = register(&app, "grace@example.com", "password", "password").await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("id=\"password-error\""), "{body}");
    assert!(
        body.contains("value=\"grace@example.com\""),
        "keeps what was typed"
    );
}

#[tokio::test]
async fn mismatched_passwords_and_a_bad_email_are_reported_by_field() {
    let app = spawn_app().await;
    let r = register(
        &app,
        "grace@example.com",
        PASSWORD,
        "something-else-entirely",
    )
    .await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"password_confirm-error\"")
    );
    let r = register(&app, "not-an-email", PASSWORD, PASSWORD).await;
    assert!(r.text().await.unwrap().contains("id=\"email-error\""));
}

#[tokio::test]
async fn registering_an_existing_email_creates_no_second_account() {
    let app = spawn_app().await;
    app.create_user("grace@example.com").await;
    let r = register(&app, "Grace@Example.com", PASSWORD, PASSWORD).await;
    // Answered as for a new address (review_reset_email.rs compares the two pages).
    assert_eq!(r.status(), 200);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn registration_can_be_switched_off() {
    let app = spawn_with(|c| c.client.registration = false).await;
    assert_eq!(app.get("/register").await.status(), 404);
    assert!(
        !app.get("/login")
            .await
            .text()
            .await
            .unwrap()
            .contains("/register")
    );
}
