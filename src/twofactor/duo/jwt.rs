//! HS512 JSON Web Tokens, the only kind Duo's Universal Prompt uses.
//!
//! Hand-written over `hmac` + `sha2` + `base64` rather than a JWT crate: the verifier knows one
//! algorithm, so a token cannot choose a weaker one (`none`, HS256) and no backend feature can be
//! missing at run time. Claims are checked by the caller ([`super::client`]); this module only
//! proves that a token was signed with the secret and hands back its claims.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha512;

type HmacSha512 = Hmac<Sha512>;

/// The one header this module writes, and the one algorithm it accepts.
const HEADER: &str = r#"{"alg":"HS512","typ":"JWT"}"#;
const ALGORITHM: &str = "HS512";

/// Why a token was refused. The messages name the part at fault but never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token does not have exactly three dot-separated parts")]
    Malformed,
    #[error("the token's {part} is not base64url without padding")]
    Encoding { part: &'static str },
    #[error("the token's {part} is not a JSON object")]
    NotAnObject { part: &'static str },
    #[error("the token's header names no algorithm")]
    NoAlgorithm,
    #[error("the token is signed with {0:?}; only HS512 is accepted")]
    Algorithm(String),
    #[error("the token's signature does not match (wrong secret, or the token was altered)")]
    Signature,
}

/// Signs `claims` with HS512 under `secret`, in the compact form `header.payload.signature`.
pub fn sign(claims: &Value, secret: &[u8]) -> String {
    let payload =
        serde_json::to_vec(claims).expect("a serde_json::Value always serialises to JSON");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &signing_input).finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Verifies an HS512 token under `secret` and returns its claims.
///
/// The algorithm is checked before the signature so that a token asking for anything else
/// (`none` above all) is refused by name, and the signature is compared in constant time.
///
/// # Errors
/// [`JwtError`] for a malformed token, another algorithm, a bad signature, or a payload that is
/// not a JSON object.
pub fn verify(token: &str, secret: &[u8]) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload_part), Some(signature_part), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header = decode_object(header_part, "header")?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == ALGORITHM => {}
        Some(Value::String(alg)) => return Err(JwtError::Algorithm(alg.clone())),
        Some(other) => return Err(JwtError::Algorithm(other.to_string())),
        None => return Err(JwtError::NoAlgorithm),
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_part)
        .map_err(|_| JwtError::Encoding { part: "signature" })?;
    // The signing input is the text as received: re-encoding the decoded parts could differ.
    let signing_input = &token[..header_part.len() + 1 + payload_part.len()];
    mac(secret, signing_input)
        .verify_slice(&signature)
        .map_err(|_| JwtError::Signature)?;
    decode_object(payload_part, "payload")
}

/// HMAC-SHA512 over `input`, ready to finalise or verify.
fn mac(secret: &[u8], input: &str) -> HmacSha512 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha512 as KeyInit>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(input.as_bytes());
    mac
}

fn decode_object(part: &str, name: &'static str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Encoding { part: name })?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::NotAnObject { part: name }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn round_trip() {
        let claims = json!({"iss": "DI123", "exp": 1_700_000_300, "nested": {"a": [1, 2.5]}});
        let token = sign(&claims, SECRET);
        assert!(token.starts_with("eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."));
        let back = verify(&token, SECRET).unwrap();
        assert_eq!(Value::Object(back), claims);
    }

    #[test]
    fn another_secret_is_refused() {
        let token = sign(&json!({"a": 1}), SECRET);
        assert_eq!(verify(&token, b"another secret"), Err(JwtError::Signature));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let token = sign(&json!({"preferred_username": "alice"}), SECRET);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"preferred_username":"mallory"}"#);
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(verify(&tampered, SECRET), Err(JwtError::Signature));
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let token = sign(&json!({"a": 1}), SECRET);
        let mut bytes = token.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let token = String::from_utf8(bytes).unwrap();
        assert!(verify(&token, SECRET).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let token = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"a":1}"#)
        );
        assert_eq!(
            verify(&token, SECRET),
            Err(JwtError::Algorithm("none".into()))
        );
    }

    #[test]
    fn hs256_is_refused_even_with_a_valid_hs256_signature() {
        let header = json!({"alg": "HS256", "typ": "JWT"});
        let payload = json!({"a": 1});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET).unwrap();
        mac.update(input.as_bytes());
        let token = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert_eq!(
            verify(&token, SECRET),
            Err(JwtError::Algorithm("HS256".into()))
        );
    }

    #[test]
    fn other_algorithms_and_odd_headers_are_refused() {
        for (header, expected) in [
            (json!({"alg": "hs512"}), JwtError::Algorithm("hs512".into())),
            (json!({"alg": "RS512"}), JwtError::Algorithm("RS512".into())),
            (json!({"alg": 512}), JwtError::Algorithm("512".into())),
            (json!({"typ": "JWT"}), JwtError::NoAlgorithm),
        ] {
            let token = forge(&header, &json!({"a": 1}), b"sig");
            assert_eq!(verify(&token, SECRET), Err(expected), "{header}");
        }
        let token = forge(&json!(["HS512"]), &json!({"a": 1}), b"sig");
        assert_eq!(
            verify(&token, SECRET),
            Err(JwtError::NotAnObject { part: "header" })
        );
    }

    #[test]
    fn the_wrong_number_of_parts_is_refused() {
        let token = sign(&json!({"a": 1}), SECRET);
        for bad in [
            String::new(),
            "abc".to_owned(),
            "a.b".to_owned(),
            format!("{token}."),
            format!("{token}.extra"),
        ] {
            assert_eq!(verify(&bad, SECRET), Err(JwtError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn padding_and_standard_base64_are_refused() {
        let token = sign(&json!({"a": 1}), SECRET);
        let (input, signature) = token.rsplit_once('.').unwrap();
        let padded = format!("{input}.{signature}==");
        assert_eq!(
            verify(&padded, SECRET),
            Err(JwtError::Encoding { part: "signature" })
        );
        let header_padded = format!("{}=.x.y", input.split('.').next().unwrap());
        assert_eq!(
            verify(&header_padded, SECRET),
            Err(JwtError::Encoding { part: "header" })
        );
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_refused_after_the_signature() {
        for payload in [json!([1, 2]), json!("text"), json!(null)] {
            let token = sign(&payload, SECRET);
            assert_eq!(
                verify(&token, SECRET),
                Err(JwtError::NotAnObject { part: "payload" })
            );
        }
    }

    #[test]
    fn the_known_good_duo_request_jwt_verifies() {
        let secret = "deadbeef".repeat(5);
        let claims = verify(DUO_REQUEST_JWT, secret.as_bytes()).unwrap();
        let expected = json!({
            "scope": "openid",
            "redirect_uri": "https://www.example.com",
            "client_id": "DIXXXXXXXXXXXXXXXXXX",
            "iss": "DIXXXXXXXXXXXXXXXXXX",
            "aud": "https://api-XXXXXXX.test.duosecurity.com",
            "exp": 302,
            "state": "deadbeefdeadbeefdeadbeefdeadbeefdead",
            "response_type": "code",
            "duo_uname": "user1",
            "use_duo_code_attribute": true,
        });
        assert_eq!(Value::Object(claims), expected);
        assert_eq!(
            verify(DUO_REQUEST_JWT, b"deadbeef"),
            Err(JwtError::Signature)
        );
    }

    #[test]
    fn errors_read_clearly() {
        assert_eq!(
            JwtError::Algorithm("none".into()).to_string(),
            "the token is signed with \"none\"; only HS512 is accepted"
        );
    }
}
