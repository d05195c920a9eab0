//! The doctor's account checks: `admin.roles` and `client.owners`.

use crate::helpers::spawn_app;
use portcullis::doctor::Severity;

#[tokio::test]
async fn admin_roles_warns_about_roles_that_land_nowhere_and_fails_without_a_full_administrator() {
    let app = spawn_app().await;
    assert_eq!(app.doctor_check("admin.roles").await.severity, Severity::Ok);
    app.create_admin("root").await;
    app.create_admin("nora").await;
    assert_eq!(app.doctor_check("admin.roles").await.severity, Severity::Ok);
    // root makes a role that opens no page and gives it to nora.
    let role = app.create_role("Auditors", &["api_access"]).await;
    let nora: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'nora'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let root = app.signed_in_admin("root").await;
    let path = format!("/admin/admins/{nora}");
    let (_, csrf) = app.form_page(&root, &path).await;
    let r = app
        .post_form(
            &root,
            &path,
            &[
                ("role_id", role.to_string().as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let check = app.doctor_check("admin.roles").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(
        check
            .details
            .iter()
            .any(|d| d.contains("Auditors") && d.contains("no page to land on")),
        "{check:?}"
    );
    // Raw SQL: the admin pages refuse to disable the last Full Administrator.
    sqlx::query("UPDATE admins SET disabled = 1 WHERE username = 'root'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let check = app.doctor_check("admin.roles").await;
    assert_eq!(check.severity, Severity::Error, "{check:?}");
    assert!(
        check.next_step.contains("portcullis admin create"),
        "{check:?}"
    );
}

#[tokio::test]
async fn client_owners_warns_about_owners_who_cannot_sign_in_until_a_reset_is_pending() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    assert_eq!(
        app.doctor_check("client.owners").await.severity,
        Severity::Ok
    );
    // Raw SQL: no page or command removes a password (an account imported without one).
    sqlx::query("UPDATE users SET password_hash = NULL")
        .execute(&app.state.db)
        .await
        .unwrap();
    let check = app.doctor_check("client.owners").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(check.details[0].contains("ada@example.com"), "{check:?}");
    let (_, csrf) = app.form_page(&app.client, "/password/reset").await;
    app.post_form(
        &app.client,
        "/password/reset",
        &[("email", "ada@example.com"), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(
        app.doctor_check("client.owners").await.severity,
        Severity::Ok
    );
}
