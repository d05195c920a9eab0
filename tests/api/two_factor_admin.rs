//! Second factors in the admin area, resets by an administrator and by the break-glass command,
//! the notices they send, and the doctor's check of the sealing key file.

use crate::helpers::otp::{enable_totp, oathtool, step_up};
use crate::helpers::{PASSWORD, TestApp, csrf_from, location, new_client, spawn_app};
use portcullis::clock::Clock as _;

async fn admin_with_totp(app: &TestApp, username: &str) -> (reqwest::Client, String) {
    let admin = app.create_admin(username).await;
    let client = app.signed_in_admin(&admin.username).await;
    let (secret, _) = enable_totp(app, &client, "/admin/account/security", PASSWORD).await;
    (client, secret)
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_with_totp_passes_the_admin_challenge() {
    let app = spawn_app().await;
    let (_, secret) = admin_with_totp(&app, "root").await;
    let browser = new_client();
    let r = app.admin_login_with(&browser, "root", PASSWORD).await;
    assert_eq!(location(&r), "/admin/login/2fa");
    // The client area's challenge does not accept an admin's pending sign-in.
    let r = browser.get(app.url("/login/2fa")).send().await.unwrap();
    assert_eq!(location(&r), "/login");
    let (_, csrf) = app.form_page(&browser, "/admin/login/2fa").await;
    let code = oathtool(&secret, app.clock.unix());
    let r = app
        .post_form(
            &browser,
            "/admin/login/2fa",
            &[
                ("method", "totp"),
                ("code", code.as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/admin?signed_in="));
    assert_eq!(app.follow_sign_in(&browser, &r).await.status(), 200);
}

#[tokio::test]
async fn an_admin_turns_off_a_users_two_factor_which_is_audited_and_emailed() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let user = app.signed_in_client("ada@example.com").await;
    enable_totp(&app, &user, "/account/security", PASSWORD).await;
    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    // Turning off someone's factors needs a fresh step-up (issue 18, item 1).
    step_up(&app, &app.client, "/admin/account/security", PASSWORD).await;
    let (page, csrf) = app.form_page(&app.client, "/admin/two-factor").await;
    assert!(
        page.contains("/login/2fa/duo/callback"),
        "the redirect URIs are shown: {page}"
    );
    let r = app
        .post_form(
            &app.client,
            "/admin/two-factor/reset",
            &[
                ("realm", "client"),
                ("login", "nobody@example.com"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = app
        .post_form(
            &app.client,
            "/admin/two-factor/reset",
            &[
                ("realm", "client"),
                ("login", "ada@example.com"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("is off for ada@example.com")
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM totp_secrets").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM backup_codes").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'two_factor.reset' AND actor = 'admin:' || (SELECT id FROM admins WHERE username = 'root') AND subject = 'client:' || (SELECT id FROM users WHERE email = 'ada@example.com')").await, 1);
    let notice: String = sqlx::query_scalar(
        "SELECT subject || ' ' || text_body FROM mail_messages WHERE to_addr = 'ada@example.com' AND subject LIKE 'Two-factor%'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(
        notice.contains("Two-factor authentication was turned off"),
        "{notice}"
    );
    assert!(notice.contains("administrator root"), "{notice}");
    // The user signs in with the password alone again.
    let r = app
        .client_login_with(&new_client(), "ada@example.com", PASSWORD)
        .await;
    assert!(location(&r).starts_with("/clientarea?signed_in="));
}

#[tokio::test]
async fn the_break_glass_command_removes_an_admins_factors() {
    let app = spawn_app().await;
    admin_with_totp(&app, "root").await;
    app.use_real_time();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env_remove("PORTCULLIS_CONFIG")
            .env("PORTCULLIS__DATA_DIR", app.dir.path())
            .env("PORTCULLIS__DATABASE__URL", &app.state.config.database_url)
            .env("RUST_LOG", "warn")
            .current_dir(app.dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["admin", "reset-2fa", "--username", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no admin called"));
    let out = run(&["admin", "reset-2fa", "--username", "root"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Removed every second factor of admin root")
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM totp_secrets").await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'two_factor.reset' AND actor = 'cli'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM mail_messages WHERE to_addr = 'root@example.com' AND subject LIKE 'Two-factor%'"
        )
        .await,
        1
    );
    let r = app.admin_login_with(&new_client(), "root", PASSWORD).await;
    assert!(
        location(&r).starts_with("/admin?signed_in="),
        "{}",
        location(&r)
    );
}

#[tokio::test]
async fn the_doctor_warns_when_the_key_file_is_readable_by_others() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = spawn_app().await;
    let key = app.dir.path().join("secret.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let check = app.doctor_check("two_factor.key").await;
    assert_eq!(check.severity, portcullis::doctor::Severity::Ok);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let check = app.doctor_check("two_factor.key").await;
    assert_eq!(check.severity, portcullis::doctor::Severity::Warning);
    assert!(check.next_step.contains("chmod 600"), "{check:?}");
}

#[tokio::test]
async fn a_seed_sealed_with_another_key_fails_with_an_explanation_not_a_panic() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let user = app.signed_in_client("ada@example.com").await;
    enable_totp(&app, &user, "/account/security", PASSWORD).await;
    // Someone restored the database without its key: the stored seed no longer opens.
    let other = portcullis::sealing::SealingKey::from_bytes(&[9; 32], None);
    let foreign = other
        .seal(b"0123456789abcdefghij", "totp:client:1")
        .unwrap();
    sqlx::query("UPDATE totp_secrets SET secret_sealed = $1")
        .bind(foreign)
        .execute(&app.state.db)
        .await
        .unwrap();
    let browser = new_client();
    let r = app
        .client_login_with(&browser, "ada@example.com", PASSWORD)
        .await;
    assert_eq!(location(&r), "/login/2fa");
    let (_, csrf) = app.form_page(&browser, "/login/2fa").await;
    let r = app
        .post_form(
            &browser,
            "/login/2fa",
            &[
                ("method", "totp"),
                ("code", "123456"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(body.contains("sealing key"), "{body}");
    let _ = csrf_from;
}

#[tokio::test]
async fn a_second_node_with_its_own_sealing_key_is_an_error_naming_the_shared_key() {
    // Node A creates its key file and records the key's check value in the database.
    let a = spawn_app().await;
    assert_eq!(
        a.doctor_check("two_factor.key").await.severity,
        portcullis::doctor::Severity::Ok
    );
    // Node B on the same database, on another host: it made its own key file.
    let database_url = a.state.config.database_url.clone();
    let b = crate::helpers::spawn_with(|c| c.database.url = database_url).await;
    let check = b.doctor_check("two_factor.key").await;
    assert_eq!(
        check.severity,
        portcullis::doctor::Severity::Error,
        "{check:?}"
    );
    assert!(check.summary.contains("not the key"), "{check:?}");
    assert!(
        check.next_step.contains("same two_factor.secret_key"),
        "{check:?}"
    );
    // Node A is still right.
    assert_eq!(
        a.doctor_check("two_factor.key").await.severity,
        portcullis::doctor::Severity::Ok
    );
}
