//! The rules of client accounts and "login as client" that the services hold: the company
//! name's length, switching only to one's own accounts, ownership only to a user of the account,
//! no impersonation of a disabled owner, "Return to admin" only from an impersonation, and what
//! the audit log says when sessions are ended from the sessions page.

use crate::helpers::*;

async fn client_id_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT c.id FROM clients c JOIN users u ON u.id = c.owner_user_id WHERE u.email = $1",
    )
    .bind(email.to_owned())
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

async fn user_id_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email.to_owned())
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT actor, subject, detail FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action.to_owned())
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_company_name_over_120_characters_is_refused_and_one_of_120_is_saved_trimmed() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.com").await;
    app.client_login(&ada).await;
    let (_, csrf) = app.form_page(&app.client, "/account/profile").await;
    let long = "x".repeat(121);
    let r = app
        .post_form(
            &app.client,
            "/account/profile",
            &[("company_name", &long), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("The company name can be at most 120 characters.")
    );
    let fits = format!("  {}  ", "y".repeat(120));
    let r = app
        .post_form(
            &app.client,
            "/account/profile",
            &[("company_name", &fits), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/profile?saved=1");
    let stored: String = sqlx::query_scalar("SELECT company_name FROM clients")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, "y".repeat(120));
}

#[tokio::test]
async fn a_user_cannot_switch_to_an_account_they_do_not_belong_to() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let bobs = client_id_of(&app, "bob@example.com").await;
    let page = app.client_login(&ada).await.text().await.unwrap();
    let csrf = csrf_from(&page);
    let r = app
        .post_form(
            &app.client,
            "/account/switch",
            &[("client_id", &bobs.to_string()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("You do not belong to that account. Ask its owner to invite you.")
    );
    let active: Option<i64> =
        sqlx::query_scalar("SELECT client_id FROM sessions WHERE realm = 'client'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(active, Some(client_id_of(&app, "ada@example.com").await));
}

#[tokio::test]
async fn ownership_goes_only_to_a_user_of_the_account_and_the_transfer_is_recorded() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let account = client_id_of(&app, "ada@example.com").await;
    let bob = user_id_of(&app, "bob@example.com").await;
    app.admin_login(&root).await;
    let page = format!("/admin/clients/{account}");
    let (_, csrf) = app.form_page(&app.client, &page).await;
    let transfer = format!("/admin/clients/{account}/transfer");

    let r = app
        .post_form(
            &app.client,
            &transfer,
            &[("user_id", &bob.to_string()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400, "Bob is not a user of Ada's account yet");
    assert!(r.text().await.unwrap().contains(
        "Ownership can only go to a user of this account. Have the owner invite them first."
    ));
    assert!(
        audit_details(&app, "account.ownership_transferred")
            .await
            .is_empty()
    );

    sqlx::query(
        "INSERT INTO client_users (client_id, user_id, permissions, created_at) VALUES ($1, $2, '', 0)",
    )
    .bind(account)
    .bind(bob)
    .execute(&app.state.db)
    .await
    .unwrap();
    let r = app
        .post_form(
            &app.client,
            &transfer,
            &[("user_id", &bob.to_string()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Ownership transferred."));
    let owner: i64 = sqlx::query_scalar("SELECT owner_user_id FROM clients WHERE id = $1")
        .bind(account)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(owner, bob);
    assert_eq!(
        audit_details(&app, "account.ownership_transferred").await,
        vec![(
            app.admin_actor("root").await,
            format!("client:{account}"),
            format!("new owner user:{bob}")
        )]
    );
}

#[tokio::test]
async fn an_admin_cannot_sign_in_as_a_disabled_owner_and_is_told_why() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    sqlx::query("UPDATE users SET disabled = 1")
        .execute(&app.state.db)
        .await
        .unwrap();
    let account = client_id_of(&app, "ada@example.com").await;
    app.admin_login(&root).await;
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/clients/{account}"))
        .await;
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/clients/{account}/login-as"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("ada@example.com is disabled; enable the user first.")
    );
    assert!(audit_details(&app, "impersonation.start").await.is_empty());
    let client_sessions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE realm = 'client'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(client_sessions, 0);
}

#[tokio::test]
async fn return_to_admin_from_a_clients_own_session_is_refused_and_ends_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.com").await;
    let page = app.client_login(&ada).await.text().await.unwrap();
    let r = app
        .post_form(
            &app.client,
            "/account/impersonation/end",
            &[("csrf_token", &csrf_from(&page))],
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("This is not an admin&#39;s session as a client.")
    );
    assert_eq!(app.get("/clientarea").await.status(), 200);
}

#[tokio::test]
async fn ending_sessions_from_the_sessions_page_records_what_was_ended_and_how_many() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.com").await;
    for _ in 0..2 {
        let other = new_client();
        let r = app
            .client_login_with(&other, &ada.email, &ada.password)
            .await;
        other.get(app.url(&location(&r))).send().await.unwrap();
    }
    app.client_login(&ada).await;
    crate::helpers::otp::step_up(&app, &app.client, "/account/sessions", &ada.password).await;
    let list = app.get("/account/sessions").await.text().await.unwrap();
    let other = list
        .split("name=\"session\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let csrf = csrf_from(&list);
    app.post_form(
        &app.client,
        "/account/sessions/end",
        &[("session", &other), ("csrf_token", &csrf)],
    )
    .await;
    // The same session again: nothing ends, so nothing is recorded.
    app.post_form(
        &app.client,
        "/account/sessions/end",
        &[("session", &other), ("csrf_token", &csrf)],
    )
    .await;
    app.post_form(
        &app.client,
        "/account/sessions/end-others",
        &[("csrf_token", &csrf)],
    )
    .await;
    let ada_actor = format!("client:{}", user_id_of(&app, "ada@example.com").await);
    assert_eq!(
        audit_details(&app, "session.ended").await,
        vec![
            (
                ada_actor.clone(),
                ada_actor.clone(),
                "revoked: one other session ended from the sessions page (1)".to_owned()
            ),
            (
                ada_actor.clone(),
                ada_actor,
                "revoked: every other session ended from the sessions page (1)".to_owned()
            ),
        ]
    );
}
