//! Review of password and backup-code storage against ASVS 4.0.3 L2: a pepper outside the
//! database (2.4.5), per-code salts for backup codes (2.6.2), at most 128 characters (2.1.2),
//! on a running server.

use crate::helpers::otp::{enable_totp, password_then_challenge};
use crate::helpers::*;
use argon2::PasswordHasher as _;
use portcullis::auth::password::{self, Pepper, Verification};
use portcullis::sealing::SealingKey;

async fn stored_hash(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stored_password_hash_needs_the_installations_key_to_verify() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let stored = stored_hash(&app, &user.email).await;
    assert!(stored.contains(",keyid=cDE$"), "keyed: {stored}");
    let ours = Pepper::derive(&app.state.sealing);
    assert!(matches!(
        password::verify_password(&user.password, &stored, &ours),
        Ok(Verification::Match { .. })
    ));
    // A copy of the database with another installation's key (or none) does not verify it.
    let other = Pepper::derive(&SealingKey::from_bytes(&[42; 32], None));
    assert_eq!(
        password::verify_password(&user.password, &stored, &other),
        Ok(Verification::Mismatch)
    );
}

#[tokio::test]
async fn an_old_unkeyed_argon2id_hash_signs_in_and_is_stored_keyed_afterwards() {
    let app = spawn_app().await;
    let user = app.create_user("old@example.com").await;
    // What Portcullis stored before the pepper: Argon2id, m=19456,t=2,p=1, no secret.
    let old = argon2::Argon2::default()
        .hash_password(user.password.as_bytes())
        .unwrap()
        .to_string();
    assert!(old.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{old}");
    // Raw SQL: a row written by the previous version; this one only writes keyed hashes.
    sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
        .bind(&old)
        .bind(&user.email)
        .execute(&app.state.db)
        .await
        .unwrap();
    let wrong = app
        .client_login_with(&app.client, &user.email, "not-it-at-all-Quartz-99")
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        stored_hash(&app, &user.email).await,
        old,
        "no upgrade on a failed sign-in"
    );

    assert_eq!(app.client_login(&user).await.status(), 200);
    let upgraded = stored_hash(&app, &user.email).await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1,keyid=cDE$"),
        "{upgraded}"
    );
    assert_eq!(
        password::verify_password(
            &user.password,
            &upgraded,
            &Pepper::derive(&app.state.sealing)
        ),
        Ok(Verification::Match {
            needs_upgrade: false
        })
    );
    // And the upgraded hash keeps signing in.
    assert_eq!(
        app.client_login_with(&new_client(), &user.email, &user.password)
            .await
            .status(),
        303
    );
}

async fn challenge(
    app: &TestApp,
    client: &reqwest::Client,
    csrf: &str,
    code: &str,
) -> reqwest::Response {
    app.post_form(
        client,
        "/login/2fa",
        &[("method", "backup"), ("code", code), ("csrf_token", csrf)],
    )
    .await
}

#[tokio::test]
async fn every_stored_backup_code_has_its_own_salt_and_an_old_unsalted_code_still_works() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    app.create_user("grace@example.com").await;
    let ada = app.signed_in_client("ada@example.com").await;
    let grace = app.signed_in_client("grace@example.com").await;
    let (_, ada_codes) = enable_totp(&app, &ada, "/account/security", PASSWORD).await;
    enable_totp(&app, &grace, "/account/security", PASSWORD).await;

    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT subject_id, code_hash, salt FROM backup_codes")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(rows.len(), 20);
    let salts: std::collections::HashSet<String> = rows
        .iter()
        .map(|(_, _, s)| s.clone().expect("every new code has a salt"))
        .collect();
    assert_eq!(salts.len(), 20, "no two codes share a salt");
    assert!(
        salts.iter().all(|s| s.len() == 32),
        "128-bit salts: {salts:?}"
    );
    // The same code text under another row's salt hashes differently, so equal codes of two
    // people are not visible as such: no row holds the unsalted hash of a shown code, and one
    // code recomputed with every row's salt matches exactly one row.
    let code = ada_codes[0].replace('-', "");
    let unsalted = app.state.sealing.keyed_hash(&code);
    assert!(rows.iter().all(|(_, h, _)| *h != unsalted));
    let matching = rows
        .iter()
        .filter(|(_, h, s)| {
            app.state
                .sealing
                .keyed_hash(&format!("{}:{code}", s.as_deref().unwrap()))
                == *h
        })
        .count();
    assert_eq!(matching, 1);

    // A code stored by the previous version (no salt, HMAC of the code alone) still signs in.
    let ada_id = rows
        .iter()
        .find(|(_, h, s)| {
            app.state
                .sealing
                .keyed_hash(&format!("{}:{code}", s.as_deref().unwrap()))
                == *h
        })
        .map(|(id, _, _)| *id)
        .unwrap();
    // Raw SQL: rows as the previous version wrote them.
    sqlx::query("DELETE FROM backup_codes WHERE subject_id = $1")
        .bind(ada_id)
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO backup_codes (realm, subject_id, code_hash, created_at) VALUES ('client', $1, $2, 0)",
    )
    .bind(ada_id)
    .bind(app.state.sealing.keyed_hash("abcdefghjk"))
    .execute(&app.state.db)
    .await
    .unwrap();
    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    let r = challenge(&app, &browser, &csrf, "ABCDE-FGHJK").await;
    assert_eq!(r.status(), 200, "an old unsalted code is accepted");
    assert!(set_cookie(&r, "portcullis_client").is_some());
    let browser = new_client();
    let csrf = password_then_challenge(&app, &browser, "ada@example.com", PASSWORD).await;
    let r = challenge(&app, &browser, &csrf, "abcde-fghjk").await;
    assert_eq!(r.status(), 401, "and works once");
}

async fn register(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let (_, csrf) = app.form_page(&app.client, "/register").await;
    app.post_form(
        &app.client,
        "/register",
        &[
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("email", email),
            ("password", password),
            ("password_confirm", password),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

#[tokio::test]
async fn a_129_character_password_is_refused_next_to_its_field_and_a_64_character_passphrase_is_accepted()
 {
    let app = spawn_app().await;
    let words = "tidal-Quartz-lantern-91-marble-Oxbow-fennel-73-cobalt-Wren-spire-";
    let long: String = words.repeat(2).chars().take(129).collect();
    assert_eq!(long.chars().count(), 129);
    let r = register(&app, "long@example.com", &long).await;
    assert_eq!(r.status(), 422);
    let body = r.text().await.unwrap();
    assert!(body.contains("id=\"password-error\""), "{body}");
    assert!(body.contains("Use at most 128 characters."), "{body}");
    let users: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = 'long@example.com'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(users, 0);

    let passphrase: String = words.chars().take(64).collect();
    assert_eq!(passphrase.chars().count(), 64);
    let r = register(&app, "phrase@example.com", &passphrase).await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert!(!body.contains("id=\"password-error\""), "{status} {body}");
    let users: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = 'phrase@example.com'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(users, 1, "{status} {body}");
}
