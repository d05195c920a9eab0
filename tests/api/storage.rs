//! SQLite storage: created on first start, WAL, foreign keys, tokens only as hashes.

use crate::helpers::*;

#[tokio::test]
async fn the_database_is_created_in_wal_mode_with_foreign_keys_enforced() {
    let app = spawn_app().await;
    if !portcullis::bootstrap::is_postgres(&app.state.db) {
        assert!(app.dir.path().join("portcullis.db").exists());
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
    // On both engines a row pointing at nothing is refused.
    let orphan = sqlx::query(
        "INSERT INTO client_users (client_id, user_id, permissions, created_at) VALUES (999, 999, '', 0)",
    )
    .execute(&app.state.db)
    .await;
    let err = orphan.expect_err("foreign keys are enforced");
    assert!(
        err.to_string().to_lowercase().contains("foreign key"),
        "{err}"
    );
}

#[tokio::test]
async fn session_ids_and_markers_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let r = app
        .client_login_with(&app.client, &user.email, &user.password)
        .await;
    let cookie = set_cookie(&r, "portcullis_client").unwrap();
    let marker = location(&r).split("signed_in=").nth(1).unwrap().to_owned();
    let dump: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id_hash, signin_marker_hash FROM sessions")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(dump.len(), 1);
    assert_eq!(dump[0].0, portcullis::token::hash(&cookie));
    assert_eq!(
        dump[0].1.as_deref(),
        Some(portcullis::token::hash(&marker).as_str())
    );
    assert_ne!(dump[0].0, cookie);
}
