//! The provider against relying parties written by others, started by the tests: Authlib
//! (Python, Debian's python3-authlib) drives discovery, the key set, the code exchange with
//! PKCE, ID token validation, userinfo, refresh rotation with its grace period and reuse
//! detection, revocation and introspection (tests/oidc/authlib_rp.py).

use crate::helpers::rp::{self, REDIRECT};
use crate::helpers::*;
use portcullis::oidc::draft::ApplicationDraft;

#[tokio::test]
async fn authlib_signs_a_person_in_and_drives_every_token_endpoint() {
    let app = spawn_app().await;
    // Authlib checks exp and iat against the real clock.
    app.use_real_time();
    app.create_user("ada@example.com").await;
    let registered = rp::register(
        &app,
        ApplicationDraft {
            name: "Helpdesk".into(),
            first_party: true,
            ..ApplicationDraft::default()
        },
    )
    .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/authlib_rp.py");
    let address = app.address.clone();
    let client_id = registered.application.client_id.clone();
    let secret = registered.secret.clone().unwrap();
    // The script blocks on HTTP to this server: run it off the runtime's threads.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("/usr/bin/python3")
            .args([
                script,
                &address,
                &client_id,
                &secret,
                "ada@example.com",
                PASSWORD,
                REDIRECT,
            ])
            .output()
            .expect("python3 runs (scripts/test installs python3-authlib)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("authlib: every check passed"), "{stdout}");
    // What the operator sees for the refusals Authlib met.
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM oidc_refusals WHERE endpoint = 'token' ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        reasons,
        [
            "code_reused",
            "pkce_mismatch",
            "refresh_reused",
            "refresh_revoked"
        ]
    );
}
