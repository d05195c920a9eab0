//! Security keys as a second factor over HTTP, with a software authenticator answering the
//! server's real options. WebAuthn needs a domain name, so these servers use
//! `http://localhost:PORT/` as their System URL.

use crate::helpers::otp::step_up;
use crate::helpers::passkey::SoftKey;
use crate::helpers::{PASSWORD, TestApp, csrf_from, location, new_client, spawn_with};
use serde_json::{Value, json};

async fn localhost_app() -> (TestApp, String) {
    let app = spawn_with(|c| {
        let port = c.server.listen.rsplit(':').next().unwrap().to_owned();
        c.server.system_url = format!("http://localhost:{port}/");
    })
    .await;
    let origin = format!("http://localhost:{}", app.port);
    (app, origin)
}

async fn post_json(
    client: &reqwest::Client,
    url: &str,
    csrf: &str,
    body: &Value,
) -> reqwest::Response {
    client
        .post(url)
        .header("x-csrf-token", csrf)
        .header("accept", "application/json")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn page(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// Signs in with the password (no factor yet) on `origin`.
async fn sign_in(client: &reqwest::Client, origin: &str, email: &str) -> reqwest::Response {
    let csrf = csrf_from(&page(client, &format!("{origin}/login")).await);
    client
        .post(format!("{origin}/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

async fn register(
    app: &TestApp,
    client: &reqwest::Client,
    origin: &str,
    key: &mut SoftKey,
    name: &str,
) -> reqwest::Response {
    let csrf = csrf_from(&page(client, &format!("{origin}/account/security")).await);
    let r = post_json(
        client,
        &format!("{origin}/account/security/webauthn/options"),
        &csrf,
        &json!({"name": name}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let options: Value = r.json().await.unwrap();
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    let credential = key.register(&format!("{origin}/"), &options);
    let _ = app;
    post_json(
        client,
        &format!("{origin}/account/security/webauthn"),
        &csrf,
        &json!({"credential": credential, "name": name}),
    )
    .await
}

#[tokio::test]
async fn register_two_named_keys_sign_in_with_one_and_remove_the_other() {
    let (app, origin) = localhost_app().await;
    app.create_user("ada@example.com").await;
    let client = new_client();
    let r = sign_in(&client, &origin, "ada@example.com").await;
    assert!(location(&r).starts_with("/clientarea?signed_in="));
    client
        .get(format!("{origin}{}", location(&r)))
        .send()
        .await
        .unwrap();

    // Without a recent step-up, no key can be added.
    let csrf = csrf_from(&page(&client, &format!("{origin}/account/security")).await);
    let r = post_json(
        &client,
        &format!("{origin}/account/security/webauthn/options"),
        &csrf,
        &json!({}),
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(
        r.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("Confirm it's you")
    );

    let security = format!("{origin}/account/security");
    let confirm_csrf = csrf_from(&page(&client, &security).await);
    let r = client
        .post(format!("{security}/confirm"))
        .form(&[("password", PASSWORD), ("csrf_token", &confirm_csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let mut yubikey = SoftKey::new();
    let mut phone = SoftKey::new();
    let r = register(&app, &client, &origin, &mut yubikey, "YubiKey 5").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["redirect"],
        "/account/security"
    );
    let r = register(&app, &client, &origin, &mut phone, "Phone").await;
    assert_eq!(r.status(), 200);
    let listed = page(&client, &security).await;
    assert!(
        listed.contains("YubiKey 5") && listed.contains("Phone"),
        "{listed}"
    );

    // A new sign-in asks for a key; the YubiKey answers.
    let browser = new_client();
    let r = sign_in(&browser, &origin, "ada@example.com").await;
    assert_eq!(location(&r), "/login/2fa");
    let challenge = page(&browser, &format!("{origin}/login/2fa")).await;
    assert!(challenge.contains("Use a security key"), "{challenge}");
    let csrf = csrf_from(&challenge);
    let r = post_json(
        &browser,
        &format!("{origin}/login/2fa/webauthn/options"),
        &csrf,
        &json!({}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let options: Value = r.json().await.unwrap();
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let yubikey_options = options.to_string();
    let assertion = yubikey.authenticate(&format!("{origin}/"), &options);
    let r = post_json(
        &browser,
        &format!("{origin}/login/2fa/webauthn"),
        &csrf,
        &json!({"credential": assertion}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(crate::helpers::set_cookie(&r, "portcullis_client").is_some());
    let target = r.json::<Value>().await.unwrap()["redirect"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(target.starts_with("/clientarea?signed_in="), "{target}");
    let r = browser
        .get(format!("{origin}{target}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let used: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webauthn_keys WHERE name = 'YubiKey 5' AND last_used_at IS NOT NULL",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(used, 1);

    // The same answer cannot be replayed: its challenge was used up.
    let replay = new_client();
    sign_in(&replay, &origin, "ada@example.com").await;
    let csrf = csrf_from(&page(&replay, &format!("{origin}/login/2fa")).await);
    let r = post_json(
        &replay,
        &format!("{origin}/login/2fa/webauthn"),
        &csrf,
        &json!({"credential": assertion}),
    )
    .await;
    assert_eq!(r.status(), 400);

    // Remove the YubiKey; it no longer completes a sign-in, the phone still does.
    let yubikey_id: i64 =
        sqlx::query_scalar("SELECT id FROM webauthn_keys WHERE name = 'YubiKey 5'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    let csrf = csrf_from(&page(&client, &security).await);
    let r = client
        .post(format!("{security}/webauthn/remove"))
        .form(&[
            ("id", yubikey_id.to_string().as_str()),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!page(&client, &security).await.contains("YubiKey 5"));
    let r = post_json(
        &replay,
        &format!("{origin}/login/2fa/webauthn/options"),
        &csrf_from(&page(&replay, &format!("{origin}/login/2fa")).await),
        &json!({}),
    )
    .await;
    let options: Value = r.json().await.unwrap();
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let csrf = csrf_from(&page(&replay, &format!("{origin}/login/2fa")).await);
    // The browser would not even offer the removed key; a forged request adds it back so the
    // server's own refusal is what is tested.
    let mut forged = options.clone();
    let earlier: Value = serde_json::from_str(&yubikey_options).unwrap();
    forged["publicKey"]["allowCredentials"] = earlier["publicKey"]["allowCredentials"].clone();
    let wrong = yubikey.authenticate(&format!("{origin}/"), &forged);
    let r = post_json(
        &replay,
        &format!("{origin}/login/2fa/webauthn"),
        &csrf,
        &json!({"credential": wrong}),
    )
    .await;
    assert_eq!(r.status(), 401, "a removed key is refused");
    let r = post_json(
        &replay,
        &format!("{origin}/login/2fa/webauthn/options"),
        &csrf,
        &json!({}),
    )
    .await;
    let options: Value = r.json().await.unwrap();
    let right = phone.authenticate(&format!("{origin}/"), &options);
    let r = post_json(
        &replay,
        &format!("{origin}/login/2fa/webauthn"),
        &csrf,
        &json!({"credential": right}),
    )
    .await;
    assert_eq!(r.status(), 200);

    let audit: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "two_factor.webauthn_added")
            .count(),
        2
    );
    assert!(audit.iter().any(|a| a == "two_factor.webauthn_removed"));
}

#[tokio::test]
async fn malformed_answers_get_a_clear_4xx() {
    let (app, origin) = localhost_app().await;
    app.create_user("ada@example.com").await;
    let client = new_client();
    let r = sign_in(&client, &origin, "ada@example.com").await;
    client
        .get(format!("{origin}{}", location(&r)))
        .send()
        .await
        .unwrap();
    let security = format!("{origin}/account/security");
    let csrf = csrf_from(&page(&client, &security).await);
    client
        .post(format!("{security}/confirm"))
        .form(&[("password", PASSWORD), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    for body in ["", "{", "{\"credential\": 5}", "[]"] {
        let r = client
            .post(format!("{security}/webauthn"))
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let json: Value = r.json().await.unwrap();
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A finish without a started ceremony.
    let mut key = SoftKey::new();
    let r = register(&app, &client, &origin, &mut key, "k").await;
    assert_eq!(r.status(), 200);
    let _ = step_up;
}
