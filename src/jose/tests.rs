//! The JOSE layer's promises: each use is pinned to its algorithms, signatures are checked over
//! the text as received, and the provider's keys sign tokens an independent checker accepts.

use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;

const SECRET: &[u8] = b"a-test-secret-of-forty-characters-000000";

/// From duo.md: Duo's Python client, secret "deadbeef" x 5.
const DUO_REQUEST_JWT: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6Im9wZW5pZCIsInJlZGlyZWN0X3VyaSI6Imh0dHBzOi8vd3d3LmV4YW1wbGUuY29tIiwiY2xpZW50X2lkIjoiRElYWFhYWFhYWFhYWFhYWFhYWFgiLCJpc3MiOiJESVhYWFhYWFhYWFhYWFhYWFhYWCIsImF1ZCI6Imh0dHBzOi8vYXBpLVhYWFhYWFgudGVzdC5kdW9zZWN1cml0eS5jb20iLCJleHAiOjMwMiwic3RhdGUiOiJkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWZkZWFkYmVlZmRlYWQiLCJyZXNwb25zZV90eXBlIjoiY29kZSIsImR1b191bmFtZSI6InVzZXIxIiwidXNlX2R1b19jb2RlX2F0dHJpYnV0ZSI6dHJ1ZX0.soB-jk6P4pzmREKHs5BUlyqNWGTt8id2DIObFYtzXttHwcKuZfjojK9d8_AwzjWhhKPzHWnNfdQUYbkEhRcFag";

/// A token with any header and payload, signed (or not) as the test wishes.
fn forge(header: &Value, payload: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// A token signed with an HMAC (SHA-512, or SHA-256 when `sha256`) computed here, not by the
/// library.
fn hmac_token(header: &Value, payload: &Value, secret: &[u8], sha256: bool) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = if sha256 {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[test]
fn hs512_round_trip() {
    let claims = json!({"iss": "DI123", "exp": 1_700_000_300, "nested": {"a": [1, 2.5]}});
    let token = sign_hs512(&claims, SECRET).unwrap();
    let back = verify_hs512(&token, SECRET).unwrap();
    assert_eq!(Value::Object(back), claims);
    assert_eq!(header_of(&token).unwrap().alg, Algorithm::HS512);
}

#[test]
fn an_hs512_token_computed_independently_verifies() {
    let header = json!({"alg": "HS512", "typ": "JWT"});
    let token = hmac_token(&header, &json!({"a": 1}), SECRET, false);
    assert_eq!(verify_hs512(&token, SECRET).unwrap()["a"], 1);
}

#[test]
fn another_secret_is_refused() {
    let token = sign_hs512(&json!({"a": 1}), SECRET).unwrap();
    assert_eq!(
        verify_hs512(&token, b"another secret"),
        Err(JwtError::Signature)
    );
}

#[test]
fn a_tampered_payload_is_refused() {
    let token = sign_hs512(&json!({"preferred_username": "alice"}), SECRET).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(r#"{"preferred_username":"mallory"}"#);
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    assert_eq!(verify_hs512(&tampered, SECRET), Err(JwtError::Signature));
}

#[test]
fn alg_none_is_refused_by_name() {
    let token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"a":1}"#)
    );
    let refused = verify_hs512(&token, SECRET).unwrap_err();
    assert!(
        matches!(&refused, JwtError::Algorithm { found, .. } if found == "none"),
        "{refused:?}"
    );
}

#[test]
fn hs256_is_refused_even_with_a_valid_hs256_signature() {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let token = hmac_token(&header, &json!({"a": 1}), SECRET, true);
    assert_eq!(
        verify_hs512(&token, SECRET),
        Err(JwtError::Algorithm {
            found: "HS256".into(),
            allowed: "HS512".into()
        })
    );
}

#[test]
fn other_algorithms_and_odd_headers_are_refused() {
    for header in [
        json!({"alg": "hs512"}),
        json!({"alg": "RS512"}),
        json!({"alg": 512}),
        json!({"typ": "JWT"}),
        json!(["HS512"]),
    ] {
        let token = forge(&header, &json!({"a": 1}), b"sig");
        assert!(verify_hs512(&token, SECRET).is_err(), "{header}");
    }
}

#[test]
fn the_wrong_number_of_parts_is_refused() {
    let token = sign_hs512(&json!({"a": 1}), SECRET).unwrap();
    for bad in [
        String::new(),
        "abc".to_owned(),
        "a.b".to_owned(),
        format!("{token}."),
        format!("{token}.extra"),
    ] {
        assert_eq!(
            verify_hs512(&bad, SECRET),
            Err(JwtError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn padding_is_refused() {
    let token = sign_hs512(&json!({"a": 1}), SECRET).unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let padded = format!("{input}.{signature}==");
    assert!(matches!(
        verify_hs512(&padded, SECRET),
        Err(JwtError::Encoding { .. })
    ));
    let header_padded = format!("{}=.x.y", input.split('.').next().unwrap());
    assert!(matches!(
        verify_hs512(&header_padded, SECRET),
        Err(JwtError::Encoding { .. })
    ));
}

#[test]
fn claims_that_are_not_an_object_are_refused() {
    for payload in [json!([1, 2]), json!("text"), json!(null)] {
        let token = sign_hs512(&payload, SECRET).unwrap();
        assert!(verify_hs512(&token, SECRET).is_err(), "{payload}");
    }
}

#[test]
fn the_known_good_duo_request_jwt_verifies() {
    let secret = "deadbeef".repeat(5);
    let claims = verify_hs512(DUO_REQUEST_JWT, secret.as_bytes()).unwrap();
    assert_eq!(claims["duo_uname"], "user1");
    assert_eq!(claims["exp"], 302);
    assert_eq!(
        verify_hs512(DUO_REQUEST_JWT, b"deadbeef"),
        Err(JwtError::Signature)
    );
}

#[test]
fn each_provider_key_signs_a_token_its_public_jwk_verifies() {
    for alg in SigningAlg::ALL {
        let key = KeyPair::generate(alg).unwrap();
        let token = sign(&json!({"sub": "u1"}), &key, Some("JWT")).unwrap();
        let header = header_of(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        assert_eq!(header.alg, alg.algorithm());
        let claims = verify(Use::Provider, &token, &key.decoding_key().unwrap()).unwrap();
        assert_eq!(claims["sub"], "u1", "{alg}");
        // Read back from its stored bytes, the key is the same key.
        let again = KeyPair::from_der(key.kid(), alg, key.der().to_vec()).unwrap();
        assert_eq!(again.public_jwk(), key.public_jwk());
    }
}

#[test]
fn a_provider_token_does_not_pass_as_duo_and_back() {
    let key = KeyPair::generate(SigningAlg::Es256).unwrap();
    let token = sign(&json!({"sub": "u1"}), &key, None).unwrap();
    assert!(matches!(
        verify_hs512(&token, SECRET),
        Err(JwtError::Algorithm { .. })
    ));
    let duo = sign_hs512(&json!({"sub": "u1"}), SECRET).unwrap();
    let refused = verify(Use::Provider, &duo, &key.decoding_key().unwrap()).unwrap_err();
    assert!(matches!(refused, JwtError::Algorithm { .. }), "{refused:?}");
}

#[test]
fn an_rsa_public_key_used_as_an_hmac_secret_is_refused() {
    // The classic confusion: sign HS256 with the public key's bytes and hope the verifier uses
    // them as a secret.
    let key = KeyPair::generate(SigningAlg::Rs256).unwrap();
    let public = key.public_jwk().to_string();
    let token = hmac_token(
        &json!({"alg": "HS256", "kid": key.kid()}),
        &json!({"sub": "admin"}),
        public.as_bytes(),
        true,
    );
    assert!(verify(Use::Provider, &token, &key.decoding_key().unwrap()).is_err());
}

#[test]
fn a_damaged_stored_key_is_named() {
    let refused = KeyPair::from_der("k1", SigningAlg::Rs256, vec![1, 2, 3]).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the stored RS256 key is not a PKCS#8 key of that algorithm"
    );
}

#[test]
fn errors_read_clearly() {
    assert_eq!(
        JwtError::Algorithm {
            found: "none".into(),
            allowed: "HS512".into()
        }
        .to_string(),
        "the token is signed with none; only HS512 is accepted here"
    );
}
