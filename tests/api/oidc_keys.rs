//! The OpenID provider's signing keys on a running server: the JWKS as relying parties fetch
//! it, keys sealed at rest, publish-before-sign rotation, retirement, every node signing with
//! the same keys, and the `oidc.keys` doctor check in each state (F16).

use crate::helpers::*;
use base64::Engine as _;
use portcullis::doctor::Severity;
use portcullis::domain::Actor;
use portcullis::jose::{self, SigningAlg, Use};
use portcullis::oidc::keys::{KEEP_PUBLISHED, KeyState, Keys, PUBLISH_LEAD};
use portcullis::sealing::SealingKey;
use serde_json::Value;
use std::sync::Arc;

async fn jwks(app: &TestApp) -> (reqwest::header::HeaderMap, Value) {
    let response = app
        .client
        .get(format!("{}/oidc/jwks", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

fn kids(set: &Value) -> Vec<String> {
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Signs a token with the key that signs now and checks it against the JWKS as served.
async fn signed_by_published_key(app: &TestApp, alg: SigningAlg) -> String {
    let key = Keys::from(&app.state).signing(alg).await.unwrap();
    let token = jose::sign(&serde_json::json!({"sub": "u1"}), &key, Some("JWT")).unwrap();
    let kid = jose::header_of(&token).unwrap().kid.unwrap();
    let (_, set) = jwks(app).await;
    let jwk = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS {set}"));
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    assert_eq!(
        jose::verify(Use::Provider, &token, &key).unwrap()["sub"],
        "u1"
    );
    kid
}

#[tokio::test]
async fn the_jwks_offers_one_rs256_public_key_cacheably_and_never_a_private_part() {
    let app = spawn_app().await;
    let (headers, set) = jwks(&app).await;
    assert_eq!(headers["content-type"], "application/jwk-set+json");
    assert_eq!(headers["cache-control"], "public, max-age=3600");
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{set}");
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert!(key["n"].as_str().unwrap().len() > 300, "a 2048-bit modulus");
    assert_eq!(key["e"], "AQAB");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "{private} in {key}");
    }
    // The same key on the next request: it is stored, not made per request.
    assert_eq!(kids(&jwks(&app).await.1), kids(&set));
}

#[tokio::test]
async fn a_private_key_is_sealed_at_rest() {
    let app = spawn_app().await;
    let key = Keys::from(&app.state)
        .signing(SigningAlg::Rs256)
        .await
        .unwrap();
    let (sealed, public): (String, String) =
        sqlx::query_as("SELECT key_sealed, public_jwk FROM oidc_signing_keys")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    for encoding in [
        base64::engine::general_purpose::STANDARD.encode(key.der()),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.der()),
        portcullis::token::hex(key.der()),
    ] {
        assert!(!sealed.contains(&encoding[..40]));
    }
    let public: Value = serde_json::from_str(&public).unwrap();
    assert!(public.get("d").is_none());
}

#[tokio::test]
async fn es256_and_eddsa_keys_are_made_when_first_used_and_published() {
    let app = spawn_app().await;
    for alg in [SigningAlg::Es256, SigningAlg::EdDsa] {
        signed_by_published_key(&app, alg).await;
    }
    let (_, set) = jwks(&app).await;
    let algs: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{algs:?}");
    }
}

#[tokio::test]
async fn a_rotated_key_is_published_a_day_before_it_signs_and_the_old_one_stays_a_week() {
    let app = spawn_app().await;
    let old = signed_by_published_key(&app, SigningAlg::Rs256).await;
    let keys = Keys::from(&app.state);
    let new = keys
        .rotate(&Actor::Named("test".into()), SigningAlg::Rs256, false)
        .await
        .unwrap();
    assert!(matches!(new.state, KeyState::Published { .. }));
    // Published at once, but the old key still signs.
    assert!(kids(&jwks(&app).await.1).contains(&new.kid));
    assert_eq!(signed_by_published_key(&app, SigningAlg::Rs256).await, old);

    app.clock.advance(PUBLISH_LEAD);
    assert_eq!(
        signed_by_published_key(&app, SigningAlg::Rs256).await,
        new.kid
    );
    // Tokens the old key signed still verify for a week.
    assert!(kids(&jwks(&app).await.1).contains(&old));

    app.clock.advance(KEEP_PUBLISHED);
    assert_eq!(kids(&jwks(&app).await.1), std::slice::from_ref(&new.kid));
    assert_eq!(keys.remove_expired().await.unwrap(), 1);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_signing_keys")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 1);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'oidc.key_rotated' AND subject = $1",
    )
    .bind(&new.kid)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_second_node_signs_with_the_same_key() {
    let app = spawn_app().await;
    let first = signed_by_published_key(&app, SigningAlg::Rs256).await;
    let other =
        portcullis::app::AppState::open((*app.state.config).clone(), app.clock.clone(), false)
            .await
            .unwrap();
    let key = Keys::from(&other).signing(SigningAlg::Rs256).await.unwrap();
    assert_eq!(key.kid(), first);
}

#[tokio::test]
async fn oidc_keys_is_ok_with_keys_every_node_opens() {
    let app = spawn_app().await;
    let empty = app.doctor_check("oidc.keys").await;
    assert_eq!(empty.severity, Severity::Ok);
    assert!(
        empty.summary.contains("No OpenID signing key yet"),
        "{}",
        empty.summary
    );
    jwks(&app).await;
    let check = app.doctor_check("oidc.keys").await;
    assert_eq!(check.severity, Severity::Ok, "{check:?}");
    assert_eq!(check.details.len(), 1);
    assert!(
        check.details[0].starts_with("RS256 "),
        "{:?}",
        check.details
    );
}

#[tokio::test]
async fn oidc_keys_warns_while_a_key_rotated_at_once_may_be_unknown_to_relying_parties() {
    let app = spawn_app().await;
    jwks(&app).await;
    app.clock.advance(3600);
    let rotated = Keys::from(&app.state)
        .rotate(&Actor::Named("test".into()), SigningAlg::Rs256, true)
        .await
        .unwrap();
    assert_eq!(rotated.state, KeyState::Signing);
    let check = app.doctor_check("oidc.keys").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(check.summary.contains(&rotated.kid), "{}", check.summary);
    assert!(
        check.next_step.contains("fetch the JWKS again"),
        "{}",
        check.next_step
    );
    // A day later every relying party has refreshed its copy.
    app.clock.advance(PUBLISH_LEAD);
    assert_eq!(app.doctor_check("oidc.keys").await.severity, Severity::Ok);
}

#[tokio::test]
async fn oidc_keys_warns_about_a_signing_key_older_than_a_year() {
    let app = spawn_app().await;
    jwks(&app).await;
    app.clock.advance(366 * 86_400);
    let check = app.doctor_check("oidc.keys").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(
        check
            .next_step
            .contains("portcullis oidc rotate-key --alg RS256")
    );
}

#[tokio::test]
async fn oidc_keys_is_an_error_on_a_node_with_another_sealing_key() {
    let app = spawn_app().await;
    jwks(&app).await;
    let other = app.state.altered(|s| {
        s.sealing = Arc::new(SealingKey::from_bytes(&[7; 32], None));
        s.oidc_keys = Arc::default();
    });
    let check = portcullis::doctor::run_all(&other)
        .await
        .into_iter()
        .find(|c| c.id == "oidc.keys")
        .unwrap();
    assert_eq!(check.severity, Severity::Error, "{check:?}");
    assert!(
        check.cause.contains("sealing key cannot open"),
        "{}",
        check.cause
    );
    assert!(check.next_step.contains("two_factor.key"));
    // And it does not sign with a key it made up: the request fails instead.
    assert!(Keys::from(&other).signing(SigningAlg::Rs256).await.is_err());
}

#[test]
fn the_cli_names_the_flag_and_the_allowed_values_for_an_unknown_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["oidc", "rotate-key", "--alg", "RS512"])
        .env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--alg: \"RS512\" is not a signing algorithm; use RS256, ES256 or EdDSA"),
        "{stderr}"
    );
    // Refused before the database was opened: nothing was made.
    assert!(!dir.path().join("portcullis.db").exists());
}

#[test]
fn the_cli_rotates_and_lists_keys() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .env_remove("PORTCULLIS_CONFIG")
            .env("PORTCULLIS__DATA_DIR", dir.path())
            .env("PORTCULLIS__PROXY__CLOUDFLARE_URL", NO_CLOUDFLARE)
            .env("RUST_LOG", "warn")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run(&["oidc", "keys"]).contains("No signing keys yet"));
    // The first key of an algorithm has nothing to wait for: it signs at once.
    let first = run(&["oidc", "rotate-key", "--alg", "ES256"]);
    assert!(
        first.starts_with("ES256\t") && first.contains("\tsigning\t"),
        "{first}"
    );
    assert!(
        first.contains("It is the first ES256 key, so it signs now"),
        "{first}"
    );
    let rotated = run(&["oidc", "rotate-key", "--alg", "ES256"]);
    assert!(rotated.contains("It signs in a day"), "{rotated}");
    let listed = run(&["oidc", "keys"]);
    assert!(
        listed.contains("ES256\t") && listed.contains("in the JWKS"),
        "{listed}"
    );
}

#[tokio::test]
async fn the_first_key_of_an_algorithm_made_by_a_rotation_signs_at_once() {
    let app = spawn_app().await;
    let keys = Keys::from(&app.state);
    let first = keys
        .rotate(&Actor::Named("test".into()), SigningAlg::EdDsa, false)
        .await
        .unwrap();
    assert_eq!(first.state, KeyState::Signing);
    // An application set to EdDSA can sign with it now, not a day later.
    assert_eq!(
        signed_by_published_key(&app, SigningAlg::EdDsa).await,
        first.kid
    );
}
