//! F08 "Login as Owner": an admin with `login_as_client` signs in as a client whose owner has no
//! password and an unconfirmed address; the banner, the pages that stay out of reach, the
//! return to the admin area, the client's own sessions, and the audit entries. It works just
//! the same for an owner whose own sign-in needs a second factor, one with only an unconfirmed
//! address and one with only no password.

use crate::helpers::{
    PASSWORD, SALES_OPERATOR, SUPPORT_OPERATOR, csrf_from, location, new_client, set_cookie_line,
    spawn_app,
};

#[tokio::test]
async fn f08_login_as_an_owner_without_a_password_with_banner_limits_and_return() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let owner = app.create_user("ada@example.com").await;
    // Ada is signed in on her own laptop.
    let laptop = app.signed_in_client(&owner.email).await;
    // Then her password is gone (never set, say, for an imported account) and her email
    // unconfirmed: raw SQL, as no page or command does either to an existing user.
    sqlx::query("UPDATE users SET password_hash = NULL, email_verified_at = NULL")
        .execute(&app.state.db)
        .await
        .unwrap();
    let client_id: i64 = sqlx::query_scalar("SELECT id FROM clients")
        .fetch_one(&app.state.db)
        .await
        .unwrap();

    // Support Operator (role 3) has login_as_client; Sales Operator (role 2) does not.
    app.create_admin_in_role("sally", SALES_OPERATOR).await;
    let sales = app.signed_in_admin("sally").await;
    let (_, csrf) = app
        .form_page(&sales, &format!("/admin/clients/{client_id}"))
        .await;
    let r = app
        .post_form(
            &sales,
            &format!("/admin/clients/{client_id}/login-as"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("login_as_client"));

    app.create_admin_in_role("sam", SUPPORT_OPERATOR).await;
    let support = app.signed_in_admin("sam").await;
    // Signing in as a client needs a fresh step-up (tests/api/review_impersonation_sessions.rs).
    crate::helpers::otp::step_up(&app, &support, "/admin/account/security", PASSWORD).await;
    let (page, csrf) = app
        .form_page(&support, &format!("/admin/clients/{client_id}"))
        .await;
    assert!(
        page.contains("has no password yet") && page.contains("email not confirmed"),
        "{page}"
    );
    let r = app
        .post_form(
            &support,
            &format!("/admin/clients/{client_id}/login-as"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/clientarea?signed_in="));
    let home = app.follow_sign_in(&support, &r).await.text().await.unwrap();
    assert!(home.contains("id=\"impersonation-banner\""), "{home}");
    assert!(home.contains("You (sam) are signed in as"), "{home}");
    assert!(home.contains("Return to admin"));
    // Her address is unconfirmed, but confirming it is hers to do: the page offers no resend
    // and no link to her sessions, and a resend posted anyway is refused and sends nothing.
    assert!(home.contains("Please confirm your email address"), "{home}");
    assert!(!home.contains("Send the link again"), "{home}");
    assert!(!home.contains("href=\"/account/sessions\""), "{home}");
    let r = app
        .post_form(
            &support,
            "/account/verify-email/resend",
            &[("csrf_token", &csrf_from(&home))],
        )
        .await;
    assert_eq!(r.status(), 403);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(queued, 0, "no confirmation link was queued");
    let users = app.text_with(&support, "/account/users").await;
    assert!(
        users.contains("impersonation-banner"),
        "the banner is on every page"
    );

    // Credentials, second factors and the client's sessions are out of reach.
    for path in [
        "/account/password",
        "/account/email",
        "/account/security",
        "/account/security/totp",
    ] {
        let r = support.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let (sessions, csrf) = app.form_page(&support, "/account/sessions").await;
    assert!(sessions.contains("impersonation-banner"));
    let r = app
        .post_form(
            &support,
            "/account/sessions/end-others",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .post_form(
            &support,
            "/account/password",
            &[
                ("current_password", "x"),
                ("password", "y"),
                ("password_confirm", "y"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);

    // Return to admin: the impersonation ends, the admin is back where they started.
    let r = app
        .post_form(
            &support,
            "/account/impersonation/end",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/admin/clients/{client_id}"));
    assert!(
        set_cookie_line(&r, "portcullis_client")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(app.status_with(&support, "/clientarea").await, 303);
    assert_eq!(
        app.status_with(&support, &format!("/admin/clients/{client_id}"))
            .await,
        200
    );

    // Ada's own session on her laptop was never touched.
    assert_eq!(app.status_with(&laptop, "/clientarea").await, 200);
    let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE realm = 'client' AND impersonator_admin_id IS NULL AND ended_at IS NULL")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(live, 1);
    let audit: Vec<(String, String, String)> = sqlx::query_as("SELECT actor, action, subject FROM audit_log WHERE action LIKE 'impersonation.%' ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].1, "impersonation.start");
    assert_eq!(audit[1].1, "impersonation.end");
    assert!(
        audit
            .iter()
            .all(|(actor, _, subject)| actor.starts_with("admin:")
                && subject.starts_with(&format!("client:{client_id}")))
    );
}

#[tokio::test]
async fn f08_login_as_works_for_an_owner_locked_by_two_factor_unconfirmed_or_without_a_password() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    // The second owner never confirmed the address; the third has no password.
    app.create_user("locked@example.com").await;
    app.create_unconfirmed_user("unconfirmed@example.com").await;
    app.create_user("nopassword@example.com").await;
    // The first owner turns TOTP on: their own sign-in now stops at the second step.
    let own = app.signed_in_client("locked@example.com").await;
    crate::helpers::otp::enable_totp(&app, &own, "/account/security", PASSWORD).await;
    let r = app
        .client_login_with(&new_client(), "locked@example.com", PASSWORD)
        .await;
    assert_eq!(location(&r), "/login/2fa", "a password alone is not enough");
    // Raw SQL: no page or command removes a password (an account imported without one).
    sqlx::query("UPDATE users SET password_hash = NULL WHERE email = 'nopassword@example.com'")
        .execute(&app.state.db)
        .await
        .unwrap();

    app.create_admin_in_role("sam", SUPPORT_OPERATOR).await;
    let support = app.signed_in_admin("sam").await;
    // Signing in as a client needs a fresh step-up (tests/api/review_impersonation_sessions.rs).
    crate::helpers::otp::step_up(&app, &support, "/admin/account/security", PASSWORD).await;
    let sam: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'sam'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    for (email, state) in [
        ("locked@example.com", "two-step verification on"),
        (
            "unconfirmed@example.com",
            "has a password, email not confirmed",
        ),
        (
            "nopassword@example.com",
            "has no password yet, email confirmed",
        ),
    ] {
        let (client_id, user_id): (i64, i64) = sqlx::query_as(
            "SELECT c.id, u.id FROM clients c JOIN users u ON u.id = c.owner_user_id WHERE u.email = $1",
        )
        .bind(email)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let (page, csrf) = app
            .form_page(&support, &format!("/admin/clients/{client_id}"))
            .await;
        assert!(page.contains(state), "{email}: {page}");
        let r = app
            .post_form(
                &support,
                &format!("/admin/clients/{client_id}/login-as"),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 303, "{email}");
        assert!(
            location(&r).starts_with("/clientarea?signed_in="),
            "{email}"
        );
        let r = app.follow_sign_in(&support, &r).await;
        assert_eq!(r.status(), 200, "{email}");
        let home = r.text().await.unwrap();
        let banner = crate::helpers::otp::between(&home, "id=\"impersonation-banner\">", "</div>");
        assert!(
            banner.contains("You (sam) are signed in as") && banner.contains(email),
            "{email}: {banner}"
        );
        let (subject, impersonator): (i64, Option<i64>) = sqlx::query_as(
            "SELECT subject_id, impersonator_admin_id FROM sessions WHERE realm = 'client' AND ended_at IS NULL AND impersonator_admin_id IS NOT NULL",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!((subject, impersonator), (user_id, Some(sam)), "{email}");
        let csrf = crate::helpers::csrf_from(&home);
        let r = app
            .post_form(
                &support,
                "/account/impersonation/end",
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(location(&r), format!("/admin/clients/{client_id}"));
    }
    // The locked owner's second factor is untouched: their own sign-in still asks for it.
    let r = app
        .client_login_with(&new_client(), "locked@example.com", PASSWORD)
        .await;
    assert_eq!(location(&r), "/login/2fa");
    let started: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'impersonation.start' AND actor = $1",
    )
    .bind(format!("admin:{sam}"))
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(started, 3);
}

#[tokio::test]
async fn deleting_an_admin_ends_the_client_sessions_they_opened_as_a_client() {
    let app = spawn_app().await;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    let owner = app.create_user("ada@example.com").await;
    let laptop = app.signed_in_client(&owner.email).await;
    let client_id: i64 = sqlx::query_scalar("SELECT id FROM clients")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    // Sam (Support Operator) is signed in as Ada's account when Sam's admin account is deleted.
    app.create_admin_in_role("sam", SUPPORT_OPERATOR).await;
    let support = app.signed_in_admin("sam").await;
    // Signing in as a client needs a fresh step-up (tests/api/review_impersonation_sessions.rs).
    crate::helpers::otp::step_up(&app, &support, "/admin/account/security", PASSWORD).await;
    let sam: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'sam'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let (_, csrf) = app
        .form_page(&support, &format!("/admin/clients/{client_id}"))
        .await;
    let r = app
        .post_form(
            &support,
            &format!("/admin/clients/{client_id}/login-as"),
            &[("csrf_token", &csrf)],
        )
        .await;
    let r = app.follow_sign_in(&support, &r).await;
    assert_eq!(r.status(), 200);
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/admins/{sam}"))
        .await;
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/admins/{sam}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(location(&r), "/admin/admins");

    // The client area no longer answers the deleted admin; Ada's own session goes on.
    let r = support.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(
        location(&r),
        "/login",
        "a deleted admin stays signed in as the client"
    );
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE impersonator_admin_id = $1 AND ended_at IS NULL",
    )
    .bind(sam)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(open, 0);
    assert_eq!(app.status_with(&laptop, "/clientarea").await, 200);
}
