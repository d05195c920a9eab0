//! Changing a password: the current one is checked, the policy applies, other sessions end.

use crate::helpers::*;

const NEW: &str = "amber-lighthouse-orbit-2044";

async fn change(
    app: &TestApp,
    path: &str,
    current: &str,
    new: &str,
    confirm: &str,
) -> reqwest::Response {
    let (_, csrf) = app.form_page(&app.client, path).await;
    app.post_form(
        &app.client,
        path,
        &[
            ("current_password", current),
            ("password", new),
            ("password_confirm", confirm),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

#[tokio::test]
async fn f02_a_password_change_signs_out_other_sessions_and_says_why() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let phone = app.signed_in_client(&user.email).await;
    app.client_login(&user).await;

    let r = change(&app, "/account/password", &user.password, NEW, NEW).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("1 other session(s) were signed out")
    );
    assert_eq!(
        app.get("/clientarea").await.status(),
        200,
        "this session stays"
    );
    assert_eq!(
        phone
            .get(app.url("/clientarea"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    let login = phone
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("Your password was changed"), "{login}");

    let old = app
        .client_login_with(&new_client(), &user.email, &user.password)
        .await;
    assert_eq!(old.status(), 401);
    let fresh = app.client_login_with(&new_client(), &user.email, NEW).await;
    assert_eq!(fresh.status(), 303);
}

#[tokio::test]
async fn a_wrong_current_password_or_weak_new_one_is_refused_by_field() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    let r = change(&app, "/account/password", "not-my-password-0", NEW, NEW).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"current_password-error\"")
    );
    let r = change(
        &app,
        "/account/password",
        &user.password,
        "password",
        "password",
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"password-error\""));
    let fresh = app
        .client_login_with(&new_client(), &user.email, &user.password)
        .await;
    assert_eq!(fresh.status(), 303, "nothing changed");
}

#[tokio::test]
async fn an_admin_changes_their_password_under_the_admin_policy() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    let r = change(
        &app,
        "/admin/account/password",
        &admin.password,
        "short-pass1",
        "short-pass1",
    )
    .await;
    assert_eq!(r.status(), 422, "admins need 12 characters");
    let r = change(&app, "/admin/account/password", &admin.password, NEW, NEW).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.admin_login_with(&new_client(), "alice", NEW)
            .await
            .status(),
        303
    );
}
