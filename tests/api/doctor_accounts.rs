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
    let role: i64 = sqlx::query_scalar(
        "INSERT INTO roles (name, built_in, created_at) VALUES ('Auditors', 0, 0) RETURNING id",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, 'api_access')")
        .bind(role)
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query("UPDATE admins SET role_id = $1 WHERE username = 'nora'")
        .bind(role)
        .execute(&app.state.db)
        .await
        .unwrap();
    let check = app.doctor_check("admin.roles").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(
        check
            .details
            .iter()
            .any(|d| d.contains("Auditors") && d.contains("no page to land on")),
        "{check:?}"
    );
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
