//! Sign-in and sign-out for both realms, enumeration resistance, legacy hash upgrade.

use crate::helpers::*;
use md5::Digest as _;

#[tokio::test]
async fn client_sign_in_sets_a_host_only_httponly_lax_cookie_and_redirects_with_a_marker() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let response = app
        .client_login_with(&app.client, &user.email, &user.password)
        .await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/clientarea?signed_in="));
    let line = set_cookie_line(&response, "portcullis_client").expect("session cookie set");
    assert!(line.contains("HttpOnly"), "{line}");
    assert!(line.contains("SameSite=Lax"), "{line}");
    assert!(line.contains("Path=/"), "{line}");
    assert!(
        !line.to_lowercase().contains("domain="),
        "host-only: {line}"
    );
    assert!(!line.contains("Secure"), "http System URL: {line}");
}

#[tokio::test]
async fn the_client_area_greets_the_signed_in_user() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let page = app.client_login(&user).await;
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("Welcome, Ada"), "{body}");
    assert!(body.contains("ada@example.com"));
}

#[tokio::test]
async fn a_wrong_password_says_login_details_incorrect() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let response = app
        .client_login_with(&app.client, &user.email, "not-the-password-at-all")
        .await;
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Login Details Incorrect. Please try again.")
    );
}

#[tokio::test]
async fn unknown_account_and_wrong_password_get_the_same_status_and_body() {
    let app = spawn_app().await;
    app.create_user("known@example.com").await;
    let wrong = app
        .client_login_with(&app.client, "known@example.com", "wrong-password-123")
        .await;
    let unknown = app
        .client_login_with(&app.client, "nobody@example.com", "wrong-password-123")
        .await;
    assert_eq!(wrong.status(), unknown.status());
    let a = wrong
        .text()
        .await
        .unwrap()
        .replace("known@example.com", "EMAIL");
    let b = unknown
        .text()
        .await
        .unwrap()
        .replace("nobody@example.com", "EMAIL");
    assert_eq!(a, b);
}

#[tokio::test]
async fn a_disabled_user_gets_the_same_message_as_a_wrong_password() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    // Raw SQL: no page or command disables a client user (an account imported disabled).
    sqlx::query("UPDATE users SET disabled = 1")
        .execute(&app.state.db)
        .await
        .unwrap();
    let response = app
        .client_login_with(&app.client, &user.email, &user.password)
        .await;
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Login Details Incorrect")
    );
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_the_sign_in_page_of_their_realm() {
    let app = spawn_app().await;
    let client = app.get("/clientarea").await;
    assert_eq!(client.status(), 303);
    assert_eq!(location(&client), "/login");
    let admin = app.get("/admin").await;
    assert_eq!(admin.status(), 303);
    assert_eq!(location(&admin), "/admin/login");
}

#[tokio::test]
async fn an_admin_signs_in_by_username_and_sees_the_dashboard() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    let page = app.admin_login(&admin).await;
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(
        body.contains("Signed in as alice (Full Administrator)"),
        "{body}"
    );
}

#[tokio::test]
async fn an_admin_with_a_wrong_password_or_unknown_name_gets_the_same_answer() {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    let wrong = app
        .admin_login_with(&app.client, "alice", "wrong-password-123")
        .await;
    let unknown = app
        .admin_login_with(&app.client, "mallory", "wrong-password-123")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let a = wrong.text().await.unwrap().replace("alice", "NAME");
    let b = unknown.text().await.unwrap().replace("mallory", "NAME");
    assert_eq!(a, b);
    assert!(a.contains("Login Details Incorrect"));
}

#[tokio::test]
async fn an_admin_and_a_client_session_do_not_open_each_others_realm() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    let admin_area = app.get("/admin").await;
    assert_eq!(admin_area.status(), 303);
    assert_eq!(location(&admin_area), "/admin/login");
}

#[tokio::test]
async fn signing_out_ends_the_session_and_the_sign_in_page_says_so() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let page = app.client_login(&user).await.text().await.unwrap();
    let csrf = csrf_from(&page);
    let out = app
        .post_form(&app.client, "/logout", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/login");
    let login = app.get("/login").await.text().await.unwrap();
    assert!(login.contains("You have signed out."), "{login}");
    assert_eq!(app.get("/clientarea").await.status(), 303);
}

async fn stored_hash(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_legacy_php_bcrypt_hash_signs_in_and_is_upgraded_to_argon2id() {
    let app = spawn_app().await;
    let user = app.create_user("legacy@example.com").await;
    // PHP's password_hash() writes $2y$; the algorithm is the same as $2b$.
    let php = bcrypt::hash(&user.password, 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    // Raw SQL: a hash imported from the old system; this one only writes Argon2id.
    sqlx::query("UPDATE users SET password_hash = $1")
        .bind(&php)
        .execute(&app.state.db)
        .await
        .unwrap();
    let page = app.client_login(&user).await;
    assert_eq!(page.status(), 200);
    assert!(
        stored_hash(&app, &user.email)
            .await
            .starts_with("$argon2id$")
    );
}

#[tokio::test]
async fn a_legacy_whmcs_md5_salt_hash_signs_in_and_is_upgraded() {
    let app = spawn_app().await;
    let user = app.create_user("old@example.com").await;
    let salt = "x9:Q";
    let digest = md5::Md5::digest(format!("{salt}{}", user.password).as_bytes());
    let legacy = format!("{}:{salt}", portcullis::token::hex(&digest));
    // Raw SQL: a hash imported from the old system; this one only writes Argon2id.
    sqlx::query("UPDATE users SET password_hash = $1")
        .bind(&legacy)
        .execute(&app.state.db)
        .await
        .unwrap();
    let wrong = app
        .client_login_with(&app.client, &user.email, "not-it-at-all-99")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        stored_hash(&app, &user.email).await,
        legacy,
        "no upgrade on a failed sign-in"
    );
    assert_eq!(app.client_login(&user).await.status(), 200);
    assert!(
        stored_hash(&app, &user.email)
            .await
            .starts_with("$argon2id$")
    );
}

#[tokio::test]
async fn a_database_outage_during_sign_in_is_an_error_page_not_login_details_incorrect() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let (_, csrf) = app.form_page(&app.client, "/login").await;
    sqlx::query("ALTER TABLE users RENAME TO users_lost")
        .execute(&app.state.db)
        .await
        .unwrap();
    let response = app
        .post_form(
            &app.client,
            "/login",
            &[
                ("email", &user.email),
                ("password", &user.password),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(response.status(), 500);
    assert!(
        !response
            .text()
            .await
            .unwrap()
            .contains("Login Details Incorrect")
    );
}

#[tokio::test]
async fn a_hash_made_by_php_password_hash_signs_in() {
    let app = spawn_app().await;
    let user = app.create_user("php@example.com").await;
    let out = std::process::Command::new("php")
        .args([
            "-r",
            "echo password_hash($argv[1], PASSWORD_DEFAULT);",
            "--",
            &user.password,
        ])
        .output()
        .expect("php is installed by scripts/test (Debian package php8.2-cli)");
    let php_hash = String::from_utf8(out.stdout).unwrap();
    assert!(php_hash.starts_with("$2y$"), "{php_hash}");
    // Raw SQL: a hash imported from the old system; this one only writes Argon2id.
    sqlx::query("UPDATE users SET password_hash = $1")
        .bind(&php_hash)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(app.client_login(&user).await.status(), 200);
    assert!(
        stored_hash(&app, &user.email)
            .await
            .starts_with("$argon2id$")
    );
}

#[tokio::test]
async fn a_disabled_admin_cannot_sign_in_and_a_live_session_ends_when_disabled() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    app.admin_login(&admin).await;
    // Raw SQL: disabled behind the live session's back (the admin page would refuse the last
    // Full Administrator, and it ends the sessions itself).
    sqlx::query("UPDATE admins SET disabled = 1")
        .execute(&app.state.db)
        .await
        .unwrap();
    let r = app.get("/admin").await;
    assert_eq!(
        r.status(),
        303,
        "the live session no longer opens the admin area"
    );
    let again = app
        .admin_login_with(&new_client(), &admin.username, &admin.password)
        .await;
    assert_eq!(again.status(), 401);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("Login Details Incorrect")
    );
}

#[tokio::test]
async fn an_admins_legacy_bcrypt_hash_signs_in_and_is_upgraded_but_not_after_a_wrong_password() {
    let app = spawn_app().await;
    let admin = app.create_admin("oldroot").await;
    let php = bcrypt::hash(&admin.password, 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    // Raw SQL: a hash imported from the old system; this one only writes Argon2id.
    sqlx::query("UPDATE admins SET password_hash = $1")
        .bind(&php)
        .execute(&app.state.db)
        .await
        .unwrap();
    let stored = || async {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM admins WHERE username = $1")
            .bind("oldroot")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    let wrong = app
        .admin_login_with(&new_client(), &admin.username, "not-it-at-all-99")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(stored().await, php, "no upgrade on a failed sign-in");
    assert_eq!(app.admin_login(&admin).await.status(), 200);
    assert!(stored().await.starts_with("$argon2id$"));
}
