//! A licence's status is one of three (`domain::LicenseStatus`): the admin's form accepts only
//! those, and a stored value that is none of them (a row edited by hand) is never read as a
//! status, so it cannot slip through a check as if it were active.

use crate::helpers::*;
use license_verifier::protocol::{VERIFY_PATH, VerifyRequest};

/// Root signed in with the app's client, and a licence of Ada's account; returns its id and key.
async fn licence(app: &TestApp) -> (i64, String) {
    let admin = app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    app.admin_login(&admin).await;
    let account: i64 = sqlx::query_scalar("SELECT id FROM clients LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    app.issue_acme_licence(account).await
}

async fn stored_status(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM licenses WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_status_form_refuses_a_status_it_does_not_offer_and_keeps_the_stored_one() {
    let app = spawn_app().await;
    let (id, _) = licence(&app).await;
    let page = format!("/admin/licenses/{id}");
    let (_, csrf) = app.form_page(&app.client, &page).await;
    let r = app
        .post_form(
            &app.client,
            &page,
            &[("status", "Suspended"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Status: choose active, suspended or expired."),
        "{html}"
    );
    assert_eq!(stored_status(&app, id).await, "active");
    let entries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'license.status'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(entries, 0, "a refused change is not audited");

    let (_, csrf) = app.form_page(&app.client, &page).await;
    let r = app
        .post_form(
            &app.client,
            &page,
            &[("status", "suspended"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        stored_status(&app, id).await,
        "suspended",
        "the stored form"
    );
}

#[tokio::test]
async fn a_licence_whose_stored_status_is_damaged_is_never_answered_active() {
    let app = spawn_app().await;
    let (id, key) = licence(&app).await;
    sqlx::query("UPDATE licenses SET status = 'revoked' WHERE id = $1")
        .bind(id)
        .execute(&app.state.db)
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(app.url(VERIFY_PATH))
        .json(&VerifyRequest {
            key,
            domain: "shop.example.com".into(),
            ip: "203.0.113.10".into(),
            directory: "/var/www".into(),
            nonce: "n-1".into(),
            verifier_version: "test/1".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "no signed answer for a status nobody set");
}
