//! The security events that reach the audit log, with their actor, subject, address and user
//! agent: sign-in success and failure, sign-out, a session ended by timeout, password change.

use crate::helpers::{PASSWORD, new_client, spawn_app};

#[tokio::test]
async fn sign_in_events_sign_out_timeouts_and_password_changes_are_audited() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let browser = new_client();
    let r = app
        .client_login_with(&browser, "ada@example.com", "not-the-password")
        .await;
    assert_eq!(r.status(), 401);
    app.sign_in_client(&browser, "ada@example.com").await;
    let (_, csrf) = app.form_page(&browser, "/clientarea").await;
    app.post_form(&browser, "/logout", &[("csrf_token", &csrf)])
        .await;
    // A second session ends by idling.
    let idle = app.signed_in_client("ada@example.com").await;
    app.clock.advance(2 * 3600);
    idle.get(app.url("/clientarea")).send().await.unwrap();
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT actor, action, subject, detail, user_agent FROM audit_log ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        actions,
        [
            "signin.failure",
            "signin.success",
            "signout",
            "signin.success",
            "session.ended"
        ]
    );
    assert_eq!(rows[0].0, "anonymous");
    assert_eq!(rows[0].2, "ada@example.com");
    assert!(
        !rows[0].3.contains("not-the-password"),
        "passwords never reach the log"
    );
    assert!(!rows[1].4.is_empty(), "the user agent is recorded");
    assert_eq!(rows[4].3, "idle_timeout");

    // A password change records how many other sessions it ended.
    app.sign_in_client(&browser, "ada@example.com").await;
    let (_, csrf) = app.form_page(&browser, "/account/password").await;
    let r = app
        .post_form(
            &browser,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", "copper-lantern-meadow-4821"),
                ("password_confirm", "copper-lantern-meadow-4821"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let changed: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'password.changed'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(changed.contains("other session(s) ended"), "{changed}");
}
