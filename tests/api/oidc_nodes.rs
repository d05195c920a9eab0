//! The OpenID provider on several nodes (issue 19 item 9): two `portcullis serve` processes on
//! one database behind one System URL. A code issued by node A is exchanged on node B; a
//! refresh token rotated on A is used on B; a signing key rotated by another process signs on
//! both within a second; a session ended on B sends its logout token exactly
//! once although both nodes run the back-channel sender. Runs on SQLite and, in the PostgreSQL
//! pass, on PostgreSQL.

use crate::helpers::nodes::*;
use crate::helpers::receiver::receiver;
use crate::helpers::rp::{self, REDIRECT};
use crate::helpers::*;
use openidconnect::PkceCodeChallenge;
use portcullis::domain::Actor;
use portcullis::jose::SigningAlg;
use portcullis::oidc::draft::ApplicationDraft;
use portcullis::oidc::keys::{Keys, ROWS_FRESH};
use serde_json::Value;
use std::time::Duration;

/// A token request to `node`, addressed to the shared host, with the application's secret.
async fn token(node: &Node, host: &str, client: (&str, &str), form: &[(&str, &str)]) -> Value {
    let r = cookieless_client()
        .post(format!("http://127.0.0.1:{}/oidc/token", node.port))
        .header("host", host)
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "token endpoint on port {}: {body}", node.port);
    body
}

#[tokio::test]
async fn a_code_from_node_a_works_on_b_a_rotation_on_a_refreshes_on_b_and_a_logout_on_b_is_sent_once()
 {
    let app = spawn_app().await;
    app.use_real_time();
    let user = app.create_user("ada@example.com").await;
    let rx = receiver(200).await;
    let registered = rp::register(
        &app,
        ApplicationDraft {
            first_party: true,
            backchannel_logout_uri: rx.uri.clone(),
            ..ApplicationDraft::default()
        },
    )
    .await;
    let client_id = registered.application.client_id.clone();
    let secret = registered
        .secret
        .clone()
        .expect("a confidential application");
    let client = (client_id.as_str(), secret.as_str());
    let (a, b, host) = two_nodes(&app).await;
    let issuer = format!("http://{host}");

    // Signed in on A, the authorization request on A answers with a code at once (first-party).
    let browser = new_client();
    sign_in(&browser, &a, &host, &user).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid email")
        .append_pair("state", "st-1")
        .append_pair("nonce", "nonce-1")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .finish();
    let r = get(&browser, &a, &format!("/oidc/authorize?{query}"), &host).await;
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(rp::param(&back, "iss").as_deref(), Some(issuer.as_str()));
    let code = rp::param(&back, "code").expect("a code");

    // B exchanges A's code: codes live in the database, and both nodes sign with the same keys.
    let first = token(
        &b,
        &host,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret()),
        ],
    )
    .await;
    let id_token = first["id_token"].as_str().unwrap();
    let id_claims = rp::jwt_claims(id_token);
    assert_eq!(id_claims["iss"], issuer.as_str());
    assert_eq!(id_claims["nonce"], "nonce-1");
    let jwks: Value = get(&cookieless_client(), &a, "/oidc/jwks", &host)
        .await
        .json()
        .await
        .unwrap();
    rp::verify_under(&jwks, id_token).expect("B's ID token verifies under the key A publishes");

    // A rotates the refresh token; B accepts the one A gave.
    let refresh = |t: &Value| {
        t["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned()
    };
    let r1 = refresh(&first);
    let second = token(
        &a,
        &host,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    let r2 = refresh(&second);
    assert_ne!(r1, r2, "rotated");
    let third = token(
        &b,
        &host,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
    )
    .await;
    assert_ne!(refresh(&third), r2);
    let userinfo: Value = cookieless_client()
        .get(format!("http://127.0.0.1:{}/oidc/userinfo", a.port))
        .header("host", &host)
        .bearer_auth(third["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        userinfo["email"], "ada@example.com",
        "B's access token on A"
    );

    // A key rotated at once by another process (this test's, as the CLI would) is published
    // by both nodes at once (the JWKS is read afresh), and both sign with it within
    // `ROWS_FRESH` (the key rows a node signs from are kept that long).
    let rotated = Keys::from(&app.state)
        .rotate(&Actor::Named("test".into()), SigningAlg::Rs256, true)
        .await
        .unwrap();
    for node in [&a, &b] {
        let jwks: Value = get(&cookieless_client(), node, "/oidc/jwks", &host)
            .await
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        assert!(
            kids.contains(&rotated.kid.as_str()),
            "port {}: {kids:?}",
            node.port
        );
    }
    let mut latest = refresh(&third);
    let patient = std::time::Instant::now() + ROWS_FRESH * 10;
    for node in [&a, &b] {
        loop {
            let t = token(
                node,
                &host,
                client,
                &[("grant_type", "refresh_token"), ("refresh_token", &latest)],
            )
            .await;
            latest = refresh(&t);
            let id_token = t["id_token"].as_str().unwrap();
            let kid = rp::jwt_part(id_token, 0)["kid"]
                .as_str()
                .unwrap()
                .to_owned();
            if kid == rotated.kid {
                break;
            }
            assert!(
                std::time::Instant::now() < patient,
                "port {} still signs with {kid}, not the rotated {}",
                node.port,
                rotated.kid
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Sign out on B. Both nodes run the back-channel sender; the delivery is leased to one.
    sign_out(&browser, &b, &host).await;
    for _ in 0..200 {
        if !rx.tokens().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two more passes of each node's sender (every 5 seconds) send nothing again.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let tokens = rx.tokens();
    assert_eq!(tokens.len(), 1, "one logout token, sent once");
    let logout = rp::jwt_claims(&tokens[0]);
    assert_eq!(logout["sid"], id_claims["sid"]);
    assert_eq!(logout["aud"], client_id.as_str());
    assert_eq!(logout["iss"], issuer.as_str());
}
