//! Fuzzing entry points (feature `fuzzing`, off by default: vendors never build this).
//!
//! The verifier reads two things from outside: the licensing server's HTTP response (framed by
//! the crate's own parser) and the signed answer in its body. [`answer`] feeds both real parsers
//! from one input; Portcullis's `fuzz/` targets and its smoke test call it. Nothing here
//! re-implements a parser: it only builds inputs and checks what the real code decided.

use crate::protocol::{Answer, PublicKey, SignatureError, SignedAnswer, public_key_of};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

/// The fuzzing key pair's secret (a fixed test key, never a real one).
pub const SECRET: [u8; 32] = [7; 32];
/// The key id the fuzzing answers are signed under.
pub const KEY_ID: &str = "fuzz-1";

fn pinned() -> Vec<PublicKey> {
    vec![PublicKey {
        key_id: KEY_ID.to_owned(),
        public_key: public_key_of(&SECRET),
    }]
}

/// One fuzz input through the response parser and the signed-answer check.
///
/// The first byte picks the mode: even, the rest is the raw response (status line, headers,
/// body); odd, the rest is an answer payload that is signed with the fuzzing key and framed as a
/// `200` response, so the fuzzer reaches the payload's own parsing past the signature.
///
/// # Panics
/// When an invariant fails: a body longer than the response, a genuine signature refused, or an
/// accepted answer that is not version 1 under the fuzzing key id.
pub fn answer(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let pinned = pinned();
    let framed;
    let response: &[u8] = if mode % 2 == 0 {
        rest
    } else {
        use ed25519_dalek::Signer as _;
        let signature = ed25519_dalek::SigningKey::from_bytes(&SECRET).sign(rest);
        let signed = SignedAnswer {
            key_id: KEY_ID.to_owned(),
            payload: B64.encode(rest),
            signature: B64.encode(signature.to_bytes()),
        };
        let body = serde_json::to_vec(&signed).unwrap_or_default();
        framed = [
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
            &body,
        ]
        .concat();
        &framed
    };
    let eof = mode & 2 == 0;
    let Ok(Some((_status, body))) = crate::http::parse_response(response, eof) else {
        return;
    };
    assert!(
        body.len() <= response.len(),
        "a body longer than the response"
    );
    let Ok(signed) = serde_json::from_slice::<SignedAnswer>(&body) else {
        return;
    };
    match signed.verify(&pinned) {
        Ok(answer) => {
            assert_eq!(answer.v, 1, "an answer of another version was accepted");
            assert_eq!(answer.key_id, KEY_ID, "an answer naming another key id");
            // What the verifier does next with an answer is save it: it must round-trip.
            let again: Answer = serde_json::from_slice(&serde_json::to_vec(&answer).unwrap())
                .expect("an accepted answer serialises back");
            assert_eq!(again.nonce, answer.nonce);
        }
        // Signed by us: only the payload can be at fault, never the signature or its encoding.
        Err(e) => assert!(
            mode % 2 == 0 || matches!(e, SignatureError::Payload(_)),
            "a genuine signature was refused: {e}"
        ),
    }
}
