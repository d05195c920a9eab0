//! The Duo Universal Prompt client (`portcullis::twofactor::duo`) against the fake Duo server,
//! which checks every field of duo.md: health check, authorize, code exchange, ID token checks,
//! and each way Duo's answer can be refused (F12).

use crate::helpers::fake_duo::{FakeDuo, Health, TokenMode};
use crate::helpers::{location, new_client};
use portcullis::twofactor::duo::{self, Duo, DuoError, IdToken, random_state};
use std::collections::HashMap;
use std::time::Duration;

const CLIENT_ID: &str = "DIABCDEFGHIJ01234567";
const CLIENT_SECRET: &str = "abcdefghijABCDEFGHIJ0123456789abcdefghij";
/// 2026-11-28T12:00:00Z, the test application's mock clock.
const NOW: i64 = 1_795_867_200;
const REDIRECT_URI: &str = "https://portal.example.com/login/2fa/duo/callback";
const USERNAME: &str = "alice@example.com";

/// A fake Duo at `NOW` and a client for it.
async fn setup() -> (FakeDuo, Duo) {
    let fake = FakeDuo::start(CLIENT_ID, CLIENT_SECRET).await;
    fake.set_now(NOW);
    let duo = client_for(&fake, CLIENT_SECRET);
    (fake, duo)
}

/// A client for `fake`, built from submitted settings as the application builds it.
fn client_for(fake: &FakeDuo, secret: &str) -> Duo {
    let fields: Vec<(String, String)> = [
        ("client_id", CLIENT_ID),
        ("client_secret", secret),
        ("api_hostname", "api-1234abcd.duosecurity.com"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    let creds = duo::validate(&fields).expect("valid settings");
    let base = duo::test_api_url(&fake.url).expect("a loopback override");
    let http = portcullis::net::http::client(Duration::from_secs(5)).unwrap();
    Duo::new(creds, Some(&base), http)
}

/// Sends a browser to the authorize URL and returns the callback's parameters.
async fn authorize(duo: &Duo, state: &str, nonce: &str) -> reqwest::Response {
    let url = duo.authorize_url(REDIRECT_URI, USERNAME, state, nonce, NOW);
    new_client().get(&url).send().await.unwrap()
}

/// The `duo_code` of a successful authorization, after checking the callback carries `state`.
async fn duo_code(duo: &Duo, nonce: &str) -> String {
    let state = random_state();
    let response = authorize(duo, &state, nonce).await;
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    let callback = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(
        callback.as_str().split('?').next().unwrap(),
        REDIRECT_URI,
        "Duo sends the browser back to the redirect URI"
    );
    let query: HashMap<String, String> = callback.query_pairs().into_owned().collect();
    assert_eq!(query.len(), 2, "{query:?}");
    assert_eq!(query["state"], state);
    query["duo_code"].clone()
}

/// A whole sign-in with the fake answering in `mode`.
async fn sign_in(fake: &FakeDuo, duo: &Duo, mode: TokenMode) -> Result<IdToken, DuoError> {
    fake.set_token_mode(mode);
    let nonce = random_state();
    let code = duo_code(duo, &nonce).await;
    let id_token = duo.exchange_code(&code, REDIRECT_URI, NOW).await?;
    duo.verify_id_token(&id_token, USERNAME, &nonce, NOW)
}

#[tokio::test]
async fn the_health_check_returns_duos_clock() {
    let (fake, duo) = setup().await;
    assert_eq!(duo.health_check(NOW).await, Ok(NOW));
    fake.set_now(NOW + 42);
    assert_eq!(duo.health_check(NOW).await, Ok(NOW + 42), "the skew shows");
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failing_or_garbled_health_check_is_unavailable() {
    let (fake, duo) = setup().await;
    fake.set_health(Health::Fail);
    let error = duo.health_check(NOW).await.unwrap_err();
    let DuoError::Unavailable(reason) = &error else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert!(reason.contains("Duo is undergoing maintenance"), "{reason}");
    assert!(error.user_message().contains("backup code"));

    fake.set_health(Health::Garbage);
    let error = duo.health_check(NOW).await.unwrap_err();
    let DuoError::Unavailable(reason) = &error else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert!(reason.contains("not Duo's JSON"), "{reason}");
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_full_sign_in_is_allowed() {
    let (fake, duo) = setup().await;
    assert_eq!(
        sign_in(&fake, &duo, TokenMode::Allow).await,
        Ok(IdToken {
            username: USERNAME.to_owned(),
            status_msg: "Login Successful".to_owned(),
        })
    );
    assert_eq!(fake.authorize_requests(), 1);
    assert_eq!(fake.token_requests(), 1);
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_denied_second_factor_says_why() {
    let (fake, duo) = setup().await;
    let error = sign_in(&fake, &duo, TokenMode::Deny).await.unwrap_err();
    assert_eq!(
        error,
        DuoError::Denied {
            status_msg: "Login denied".to_owned()
        }
    );
    assert!(error.user_message().contains("Login denied"));
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn id_tokens_that_are_not_for_this_sign_in_are_refused() {
    let (fake, duo) = setup().await;
    for (mode, reason_part) in [
        (TokenMode::WrongNonce, "nonce"),
        (TokenMode::WrongAud, "audience"),
        (TokenMode::WrongIss, "issued"),
        (TokenMode::Expired, "expired"),
        (TokenMode::BadSignature, "signature"),
    ] {
        match sign_in(&fake, &duo, mode).await {
            Err(DuoError::InvalidToken(reason)) => {
                assert!(reason.contains(reason_part), "{mode:?}: {reason}");
            }
            other => panic!("{mode:?}: expected InvalidToken, got {other:?}"),
        }
    }
    assert_eq!(fake.token_requests(), 5);
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn f12_invalid_client_is_explained_as_legacy_credentials() {
    let (fake, duo) = setup().await;
    let error = sign_in(&fake, &duo, TokenMode::InvalidClient)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        DuoError::Rejected {
            error: "invalid_client".to_owned(),
            description: "Integration type does not support frameless access".to_owned(),
        }
    );
    let message = error.user_message();
    assert!(message.contains("Protect an Application"), "{message}");
    assert!(message.contains("\"Web SDK\""), "{message}");
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_code_is_single_use() {
    let (fake, duo) = setup().await;
    let nonce = random_state();
    let code = duo_code(&duo, &nonce).await;
    let id_token = duo.exchange_code(&code, REDIRECT_URI, NOW).await.unwrap();
    assert!(
        duo.verify_id_token(&id_token, USERNAME, &nonce, NOW)
            .is_ok()
    );
    assert_eq!(fake.violations(), Vec::<String>::new());

    let error = duo
        .exchange_code(&code, REDIRECT_URI, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DuoError::Rejected { error, .. } if error == "invalid_grant"),
        "{error:?}"
    );
    assert_eq!(
        error.user_message(),
        "The Duo sign-in expired or was already used; start again."
    );
    let violations = fake.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("already used"), "{violations:?}");
}

#[tokio::test]
async fn the_redirect_uri_of_the_exchange_must_be_the_authorized_one() {
    let (fake, duo) = setup().await;
    let code = duo_code(&duo, &random_state()).await;
    let error = duo
        .exchange_code(&code, "https://elsewhere.example.com/cb", NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DuoError::Rejected { error, .. } if error == "invalid_grant"),
        "{error:?}"
    );
    assert!(fake.violations()[0].contains("redirect_uri"));
}

#[tokio::test]
async fn an_unknown_code_is_refused() {
    let (fake, duo) = setup().await;
    let error = duo
        .exchange_code("not-a-code", REDIRECT_URI, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DuoError::Rejected { error, .. } if error == "invalid_grant"),
        "{error:?}"
    );
    assert!(fake.violations()[0].contains("never issued"));
}

/// The fake is strict: a client whose clock is off by more than the assertion's lifetime, or
/// that signs with another secret, is caught and recorded.
#[tokio::test]
async fn the_fake_catches_stale_assertions_and_forged_requests() {
    let (fake, duo) = setup().await;
    let error = duo.health_check(NOW - 400).await.unwrap_err();
    assert!(matches!(error, DuoError::Unavailable(_)), "{error:?}");
    let violations = fake.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("exp"), "{violations:?}");

    let forger = client_for(&fake, "zyxwvutsrqZYXWVUTSRQ9876543210zyxwvutsrq");
    let response = authorize(&forger, &random_state(), &random_state()).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(fake.violations()[1].contains("signature"));
}

/// Duo's Python client sends the exchange in the query string with an empty body (duo.md 4);
/// the fake takes that form too, so it stands in for Duo whichever form a client uses.
#[tokio::test]
async fn the_fake_also_takes_the_exchange_in_the_query_string() {
    let (fake, duo) = setup().await;
    let nonce = random_state();
    let code = duo_code(&duo, &nonce).await;
    let token_url = format!("{}/oauth/v1/token", fake.url);
    let assertion = crate::helpers::fake_duo::hs512::sign(
        &serde_json::json!({
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": token_url,
            "exp": 1_795_867_499.5, // NOW + 299.5: a float, as Duo's clients send
            "jti": random_state(),
        }),
        CLIENT_SECRET.as_bytes(),
    );
    let mut url = url::Url::parse(&token_url).unwrap();
    url.query_pairs_mut()
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("client_id", CLIENT_ID)
        .append_pair(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .append_pair("client_assertion", &assertion);
    let response = new_client().post(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let id_token = body["id_token"].as_str().unwrap();
    assert!(duo.verify_id_token(id_token, USERNAME, &nonce, NOW).is_ok());
    assert_eq!(fake.violations(), Vec::<String>::new());
}

/// Another application's credentials are answered as Duo answers them (`invalid_client` in its
/// FAIL envelope), and the client calls them wrong, not Duo unavailable (issue 18, item 15).
#[tokio::test]
async fn a_health_check_with_wrong_credentials_is_rejected_as_wrong_not_unavailable() {
    let (fake, _) = setup().await;
    let wrong = client_for(&fake, "zyxwvutsrqZYXWVUTSRQ9876543210zyxwvutsrq");
    let error = wrong.health_check(NOW).await.unwrap_err();
    let DuoError::Rejected { error: code, .. } = &error else {
        panic!("expected Rejected, got {error:?}");
    };
    assert_eq!(code, "invalid_client");
    assert!(error.user_message().contains("Protect an Application"));
    assert!(!error.user_message().contains("could not be reached"));
    assert_eq!(fake.credentials_refused(), 1);
    assert_eq!(fake.violations(), Vec::<String>::new());
}
