//! The JSON the security key endpoints will exchange, proven before the endpoints exist: options
//! from `twofactor::webauthn` go out as JSON text, the soft key answers, the answer comes back
//! in exactly the fields `static/webauthn.js` writes, and the ceremony finishes.

use crate::helpers::passkey::SoftKey;
use crate::helpers::spawn_app;
use portcullis::twofactor::webauthn::{
    self, Error, Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Webauthn,
};
use serde::Deserialize;
use serde_json::{Value, json};

const SYSTEM_URL: &str = "https://portal.example.com/";

fn rp(system_url: &str) -> Webauthn {
    webauthn::relying_party(&url::Url::parse(system_url).unwrap()).unwrap()
}

/// What the browser parses from the options endpoint: the options as JSON text.
fn over_the_wire(value: &impl serde::Serialize) -> Value {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

/// The finish endpoint's body, `{"credential": ..., "name": ...}`.
#[derive(Deserialize)]
struct Finish<C> {
    credential: C,
    name: Option<String>,
}

/// Rebuilds a registration answer with only the fields the script sends (and a browser's
/// transports list, including one webauthn-rs does not know).
fn as_the_script_registers(credential: &Value) -> Value {
    let response = &credential["response"];
    json!({
        "id": credential["id"],
        "rawId": credential["rawId"],
        "type": credential["type"],
        "response": {
            "clientDataJSON": response["clientDataJSON"],
            "attestationObject": response["attestationObject"],
            "transports": ["usb", "hybrid", "smart-card"],
        },
        "extensions": {},
    })
}

/// Rebuilds an assertion with only the fields the script sends.
fn as_the_script_authenticates(credential: &Value, user_handle: Option<&str>) -> Value {
    let response = &credential["response"];
    json!({
        "id": credential["id"],
        "rawId": credential["rawId"],
        "type": credential["type"],
        "response": {
            "clientDataJSON": response["clientDataJSON"],
            "authenticatorData": response["authenticatorData"],
            "signature": response["signature"],
            "userHandle": user_handle,
        },
        "extensions": {},
    })
}

fn is_base64url(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Registers one key for (client, 1) through JSON; returns the stored key (as loaded back from
/// its JSON) and the credential id the browser reported.
fn register_through_json(rp: &Webauthn, key: &mut SoftKey, origin: &str) -> (Passkey, String) {
    let handle = webauthn::user_handle("client", 1);
    let (options, state) =
        webauthn::start_registration(rp, handle, "ada@example.com", "Ada", &[]).unwrap();
    let options = over_the_wire(&options);
    // What the script converts to ArrayBuffers.
    assert!(
        is_base64url(&options["publicKey"]["challenge"]),
        "{options}"
    );
    assert!(
        is_base64url(&options["publicKey"]["user"]["id"]),
        "{options}"
    );

    let credential = as_the_script_registers(&key.register(origin, &options));
    let body = json!({ "credential": credential, "name": "Blue key" }).to_string();
    let finish: Finish<RegisterPublicKeyCredential> = serde_json::from_str(&body).unwrap();
    assert_eq!(finish.name.as_deref(), Some("Blue key"));
    let passkey = webauthn::finish_registration(rp, &state, &finish.credential).unwrap();

    let stored = serde_json::to_string(&passkey).unwrap();
    let id = credential["id"].as_str().unwrap().to_owned();
    (serde_json::from_str(&stored).unwrap(), id)
}

#[test]
fn a_key_registers_and_signs_in_through_the_scripts_json() {
    let rp = rp(SYSTEM_URL);
    let mut key = SoftKey::new();
    let (mut passkey, id) = register_through_json(&rp, &mut key, SYSTEM_URL);
    // The id the browser reports is the id stored for lookups.
    assert_eq!(id, webauthn::credential_id_b64(&passkey));

    for user_handle in [None, Some(webauthn::user_handle("client", 1))] {
        let (options, state) =
            webauthn::start_authentication(&rp, std::slice::from_ref(&passkey)).unwrap();
        let options = over_the_wire(&options);
        assert!(
            is_base64url(&options["publicKey"]["challenge"]),
            "{options}"
        );
        assert_eq!(options["publicKey"]["allowCredentials"][0]["id"], id);

        // Browsers send the user handle for passkeys and null for some security keys.
        let handle = user_handle.map(|h| base64_url(h.as_bytes()));
        let credential =
            as_the_script_authenticates(&key.authenticate(SYSTEM_URL, &options), handle.as_deref());
        for field in ["clientDataJSON", "authenticatorData", "signature"] {
            assert!(is_base64url(&credential["response"][field]), "{field}");
        }
        let body = json!({ "credential": credential }).to_string();
        let finish: Finish<PublicKeyCredential> = serde_json::from_str(&body).unwrap();
        assert_eq!(finish.name, None);

        let result = webauthn::finish_authentication(&rp, &state, &finish.credential).unwrap();
        assert_eq!(webauthn::result_credential_id_b64(&result), id);
        if result.needs_update() {
            assert_eq!(passkey.update_credential(&result), Some(true));
        }
    }
}

#[test]
fn a_localhost_system_url_works_over_http() {
    // What tests of the real endpoints will use: WebAuthn refuses 127.0.0.1.
    let system_url = "http://localhost:8080/";
    let rp = rp(system_url);
    let mut key = SoftKey::new();
    let (passkey, _) = register_through_json(&rp, &mut key, system_url);
    let (options, state) = webauthn::start_authentication(&rp, &[passkey]).unwrap();
    let credential = key.authenticate(system_url, &over_the_wire(&options));
    let credential: PublicKeyCredential = serde_json::from_value(credential).unwrap();
    webauthn::finish_authentication(&rp, &state, &credential).unwrap();
}

#[test]
fn an_answer_from_another_address_gets_a_readable_refusal() {
    let rp = rp(SYSTEM_URL);
    let mut key = SoftKey::new();
    let (passkey, _) = register_through_json(&rp, &mut key, SYSTEM_URL);
    let (options, state) = webauthn::start_authentication(&rp, &[passkey]).unwrap();
    let credential = key.authenticate(
        "https://login.portal.example.com/",
        &over_the_wire(&options),
    );
    let credential: PublicKeyCredential = serde_json::from_value(credential).unwrap();
    let error = webauthn::finish_authentication(&rp, &state, &credential).unwrap_err();
    assert!(matches!(error, Error::WrongOrigin), "{error:?}");
    assert!(
        error.to_string().contains("different web address"),
        "{error}"
    );
}

#[tokio::test]
async fn the_browser_script_is_served_as_javascript() {
    let app = spawn_app().await;
    let r = app.get("/static/webauthn.js").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        r.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("navigator.credentials.create")
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
