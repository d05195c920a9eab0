//! The authorization code flow end to end on a running server, with the `openidconnect` crate
//! as the relying party: discovery, the sign-in, consent, the code exchange, the ID token as
//! that library verifies it, userinfo; and the protocol's refusals (`prompt=none`, a reused
//! code, PKCE, F15's `invalid_client`, F19's refresh grace and reuse detection).

use crate::helpers::rp::{self, REDIRECT, Registered};
use crate::helpers::*;
use openidconnect::core::CoreGenderClaim;
use openidconnect::{
    AccessToken, AuthorizationCode, EmptyAdditionalClaims, OAuth2TokenResponse, RefreshToken,
    TokenResponse as _, UserInfoClaims,
};
use portcullis::oidc::draft::ApplicationDraft;
use serde_json::Value;

/// A confidential client-realm application asking for `scopes`.
async fn billing(app: &TestApp, first_party: bool) -> Registered {
    rp::register(
        app,
        ApplicationDraft {
            name: "Billing".into(),
            allowed_scopes: "openid profile email accounts offline_access".into(),
            first_party,
            ..ApplicationDraft::default()
        },
    )
    .await
}

/// Runs the flow for `email` up to the code; returns the code and the request.
async fn code_for(
    app: &TestApp,
    browser: &reqwest::Client,
    registered: &Registered,
    scopes: &[&str],
    email: &str,
) -> (String, rp::Request) {
    let client = rp::client(app, registered).await;
    let request = rp::authorize_url(&client, scopes);
    let after = rp::sign_in_through(app, browser, &request.url, email).await;
    let back = if registered.application.first_party {
        assert_eq!(after.status(), 303);
        location(&after)
    } else {
        rp::consent(app, browser, after, "allow").await
    };
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        rp::param(&back, "state").as_deref(),
        Some(request.state.secret().as_str())
    );
    assert_eq!(
        rp::param(&back, "iss").as_deref(),
        Some(app.address.as_str()),
        "RFC 9207"
    );
    (rp::param(&back, "code").expect("a code"), request)
}

async fn token_post(
    app: &TestApp,
    fields: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = cookieless_client()
        .post(app.url("/oidc/token"))
        .form(fields);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    cookieless_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_person_signs_in_to_an_application_and_the_library_verifies_the_id_token() {
    let app = spawn_app().await;
    // The relying party checks exp and iat against the real clock.
    app.use_real_time();
    app.create_user("ada@example.com").await;
    let registered = billing(&app, false).await;
    let client = rp::client(&app, &registered).await;
    let browser = new_client();
    let (code, request) = code_for(
        &app,
        &browser,
        &registered,
        &["profile", "email", "accounts"],
        "ada@example.com",
    )
    .await;

    let http = rp::http;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(request.verifier)
        .request_async(&http)
        .await
        .expect("the code is exchanged");
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &request.nonce)
        .expect("the library accepts the ID token (signature, issuer, audience, nonce, expiry)");
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(claims.subject().as_str(), format!("client:{user_id}"));
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));
    assert_eq!(claims.email_verified(), Some(true));
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect();
    assert_eq!(amr, ["pwd"], "a password alone");
    assert!(claims.auth_time().is_some());

    let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo answers");
    assert_eq!(info.subject().as_str(), format!("client:{user_id}"));
    assert_eq!(
        info.given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Ada")
    );

    // The accounts claim, which the library does not know, as JSON.
    let raw: Value = cookieless_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accounts = raw["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["role"], "owner");
    assert!(
        accounts[0]["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "profile")
    );
    // Only hashes are stored.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_tokens WHERE token_hash = $1")
        .bind(tokens.access_token().secret())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "the access token itself is not stored");
}

#[tokio::test]
async fn consent_is_asked_once_then_remembered_and_prompt_consent_asks_again() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, false).await;
    let browser = new_client();
    code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;

    let client = rp::client(&app, &registered).await;
    let again = rp::authorize_url(&client, &["email"]);
    let r = browser.get(&again.url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(
        back.starts_with(REDIRECT) && rp::param(&back, "code").is_some(),
        "no second consent page: {back}"
    );

    // A scope not yet allowed asks again; declining sends access_denied back.
    let wider = rp::authorize_url(&client, &["email", "profile"]);
    let page = browser.get(&wider.url).send().await.unwrap();
    let back = rp::consent(&app, &browser, page, "deny").await;
    assert_eq!(rp::param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        rp::param(&back, "state").as_deref(),
        Some(wider.state.secret().as_str())
    );

    let forced = format!(
        "{}&prompt=consent",
        rp::authorize_url(&client, &["email"]).url
    );
    let page = browser.get(&forced).send().await.unwrap();
    assert_eq!(page.status(), 200, "prompt=consent shows the page again");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Allow Billing to sign you in?")
    );
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'oidc.consent_granted'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_first_party_application_skips_consent() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let browser = new_client();
    // code_for asserts the sign-in went straight back to the application.
    code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
}

#[tokio::test]
async fn prompt_none_without_a_session_answers_login_required_at_the_application() {
    let app = spawn_app().await;
    let registered = billing(&app, false).await;
    let client = rp::client(&app, &registered).await;
    let request = rp::authorize_url(&client, &[]);
    let r = new_client()
        .get(format!("{}&prompt=none", request.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(rp::param(&back, "error").as_deref(), Some("login_required"));
    assert_eq!(
        rp::param(&back, "state").as_deref(),
        Some(request.state.secret().as_str())
    );
    assert_eq!(
        rp::param(&back, "iss").as_deref(),
        Some(app.address.as_str())
    );
}

#[tokio::test]
async fn prompt_login_shows_the_form_to_a_signed_in_person_and_a_fresh_sign_in_answers() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let browser = app.signed_in_client("ada@example.com").await;
    let client = rp::client(&app, &registered).await;
    let request = rp::authorize_url(&client, &[]);
    let r = browser
        .get(format!(
            "{}&prompt=login&login_hint=ada%40example.com",
            request.url
        ))
        .send()
        .await
        .unwrap();
    let login = location(&r);
    assert!(login.starts_with("/login?oidc=again"), "{login}");
    let page = browser.get(app.url(&login)).send().await.unwrap();
    assert_eq!(page.status(), 200, "the form, not a redirect home");
    let html = page.text().await.unwrap();
    assert!(html.contains("asks you to sign in again"), "{html}");
    assert!(
        html.contains("value=\"ada@example.com\""),
        "login_hint is typed in"
    );
    let csrf = csrf_from(&html);
    app.clock.advance(5);
    let r = app
        .post_form(
            &browser,
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let back = browser.get(app.url(&location(&r))).send().await.unwrap();
    assert_eq!(back.status(), 303);
    let to = location(&back);
    assert!(rp::param(&to, "code").is_some(), "{to}");
}

#[tokio::test]
async fn a_code_works_once_and_its_second_use_revokes_what_the_first_gave() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    let client_id = registered.application.client_id.clone();
    let secret = registered.secret.clone().unwrap();
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", request.verifier.secret().as_str()),
    ];
    let (status, first, headers) = token_post(&app, &fields, Some((&client_id, &secret))).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(headers["cache-control"], "no-store");
    let access = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo_status(&app, &access).await, 200);

    let (status, second, _) = token_post(&app, &fields, Some((&client_id, &secret))).await;
    assert_eq!(status, 400);
    assert_eq!(second["error"], "invalid_grant");
    assert_eq!(
        userinfo_status(&app, &access).await,
        401,
        "the first exchange's access token is revoked"
    );
    let reason: String = sqlx::query_scalar(
        "SELECT reason FROM oidc_refusals WHERE endpoint = 'token' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(reason, "code_reused");
}

#[tokio::test]
async fn pkce_a_missing_or_wrong_verifier_and_a_late_code_are_invalid_grant() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = rp::register(
        &app,
        ApplicationDraft {
            name: "Panel".into(),
            kind: "public".into(),
            first_party: true,
            ..ApplicationDraft::default()
        },
    )
    .await;
    assert!(registered.secret.is_none());
    let browser = new_client();
    let (code, request) = code_for(&app, &browser, &registered, &[], "ada@example.com").await;
    let client_id = registered.application.client_id.clone();
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id.as_str()),
    ];
    let (status, body, _) = token_post(&app, &base, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let wrong_verifier = "x".repeat(43);
    let wrong = [&base[..], &[("code_verifier", wrong_verifier.as_str())]].concat();
    let (status, body, _) = token_post(&app, &wrong, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let right = [
        &base[..],
        &[("code_verifier", request.verifier.secret().as_str())],
    ]
    .concat();
    let (status, body, _) = token_post(&app, &right, None).await;
    assert_eq!(status, 200, "the refusals did not burn the code: {body}");

    let (code, _) = {
        let client = rp::client(&app, &registered).await;
        let request = rp::authorize_url(&client, &[]);
        let r = browser.get(&request.url).send().await.unwrap();
        (rp::param(&location(&r), "code").unwrap(), request)
    };
    app.clock.advance(61);
    let late = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id.as_str()),
        ("code_verifier", &"y".repeat(43)[..]),
    ];
    let (_, body, _) = token_post(&app, &late, None).await;
    assert_eq!(body["error"], "invalid_grant");
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM oidc_refusals WHERE endpoint = 'token' ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        reasons,
        ["pkce_missing_verifier", "pkce_mismatch", "code_expired"]
    );
}

#[tokio::test]
async fn f15_a_wrong_secret_is_a_terse_invalid_client_and_its_cause_is_recorded() {
    let app = spawn_app().await;
    let registered = billing(&app, true).await;
    let client_id = registered.application.client_id.clone();
    let fields = [("grant_type", "authorization_code"), ("code", "x")];
    let (status, body, headers) =
        token_post(&app, &fields, Some((&client_id, "not-the-secret"))).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let posted = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id.as_str()),
        ("client_secret", registered.secret.as_deref().unwrap()),
    ];
    let (status, body, _) = token_post(&app, &posted, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM oidc_refusals WHERE endpoint = 'token' ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(reasons, ["wrong_secret", "auth_method_mismatch"]);
}

#[tokio::test]
async fn f19_a_replaced_refresh_token_works_once_in_its_grace_then_revokes_the_family() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let client = rp::client(&app, &registered).await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    let http = rp::http;
    let first = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(request.verifier)
        .request_async(&http)
        .await
        .unwrap();
    let refresh = |token: &RefreshToken| {
        let token = token.clone();
        let client = client.clone();
        async move {
            client
                .exchange_refresh_token(&token)
                .unwrap()
                .request_async(&http)
                .await
        }
    };
    let original = first.refresh_token().unwrap().clone();
    let second = refresh(&original).await.expect("a rotation");
    assert_ne!(
        second.refresh_token().unwrap().secret(),
        original.secret(),
        "rotated"
    );
    // Two tabs refreshed at once: the token just replaced is honoured once more.
    app.clock.advance(5);
    let sibling = refresh(&original).await.expect("the grace use");
    // A third use is a copy: every token of the sign-in ends.
    let reused = refresh(&original).await;
    assert!(reused.is_err(), "reuse is refused");
    for access in [second.access_token(), sibling.access_token()] {
        assert_eq!(userinfo_status(&app, access.secret()).await, 401);
    }
    assert!(
        refresh(second.refresh_token().unwrap()).await.is_err(),
        "the newest refresh token is revoked too"
    );
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM oidc_refusals WHERE endpoint = 'token' ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(reasons, ["refresh_reused", "refresh_revoked"]);
}

#[tokio::test]
async fn a_refresh_after_the_grace_period_is_reuse() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    let id = registered.application.client_id.clone();
    let secret = registered.secret.clone().unwrap();
    let basic = Some((id.as_str(), secret.as_str()));
    let (_, tokens, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        basic,
    )
    .await;
    let old = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, _, _) = token_post(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
        basic,
    )
    .await;
    assert_eq!(status, 200);
    app.clock.advance(31);
    let (status, body, _) = token_post(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
        basic,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'oidc.refresh_reused'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn an_admin_realm_application_is_sent_to_the_admin_sign_in_and_gets_the_roles_claim() {
    let app = spawn_app().await;
    let registered = rp::register(
        &app,
        ApplicationDraft {
            name: "Helpdesk".into(),
            realm: "admin".into(),
            allowed_scopes: "openid profile roles".into(),
            first_party: true,
            ..ApplicationDraft::default()
        },
    )
    .await;
    app.create_admin_in_role("grace", SUPPORT_OPERATOR).await;
    let client = rp::client(&app, &registered).await;
    let request = rp::authorize_url(&client, &["roles"]);
    let browser = new_client();
    let r = browser.get(&request.url).send().await.unwrap();
    let admin_endpoint = location(&r);
    assert!(
        admin_endpoint.starts_with("/admin/oidc/authorize?"),
        "{admin_endpoint}"
    );
    let r = browser.get(app.url(&admin_endpoint)).send().await.unwrap();
    assert!(location(&r).starts_with("/admin/login?oidc=signin"));
    let r = app.admin_login_with(&browser, "grace", PASSWORD).await;
    let back = location(&r);
    assert!(back.starts_with("/admin/oidc/authorize/continue"), "{back}");
    let r = browser.get(app.url(&back)).send().await.unwrap();
    let code = rp::param(&location(&r), "code").expect("a code");
    let (status, tokens, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        Some((
            registered.application.client_id.as_str(),
            registered.secret.as_deref().unwrap(),
        )),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let info: Value = cookieless_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        info["sub"].as_str().unwrap().starts_with("admin:"),
        "{info}"
    );
    assert_eq!(info["roles"]["role"], "Support Operator", "{info}");
    assert!(info["roles"]["permissions"].as_array().is_some());
}

#[tokio::test]
async fn an_impersonated_session_cannot_sign_in_to_an_application() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    app.create_admin("root").await;
    let admin = app.signed_in_admin("root").await;
    let client_id: i64 = sqlx::query_scalar(
        "SELECT c.id FROM clients c JOIN users u ON u.id = c.owner_user_id WHERE u.email = 'ada@example.com'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    crate::helpers::otp::step_up(&app, &admin, "/admin/account/security", PASSWORD).await;
    let (_, csrf) = app
        .form_page(&admin, &format!("/admin/clients/{client_id}"))
        .await;
    let r = app
        .post_form(
            &admin,
            &format!("/admin/clients/{client_id}/login-as"),
            &[("csrf_token", &csrf)],
        )
        .await;
    app.follow_sign_in(&admin, &r).await;
    let client = rp::client(&app, &registered).await;
    let request = rp::authorize_url(&client, &[]);
    let r = admin.get(&request.url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("login as client"));
}

#[tokio::test]
async fn the_token_and_userinfo_endpoints_refuse_malformed_requests_clearly() {
    let app = spawn_app().await;
    let registered = billing(&app, true).await;
    let id = registered.application.client_id.clone();
    let secret = registered.secret.clone().unwrap();
    let r = cookieless_client()
        .post(app.url("/oidc/token"))
        .basic_auth(&id, Some(&secret))
        .json(&serde_json::json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let basic = Some((id.as_str(), secret.as_str()));
    let (status, body, _) = token_post(&app, &[("grant_type", "password")], basic).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body, _) = token_post(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("grant_type", "authorization_code"),
        ],
        basic,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body, _) = token_post(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "garbage"),
        ],
        basic,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let r = cookieless_client()
        .get(app.url("/oidc/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\""
    );
    let r = cookieless_client()
        .get(app.url("/oidc/userinfo"))
        .header("authorization", "Basic eDp5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        userinfo_status(&app, &AccessToken::new("x".repeat(43)).secret().clone()).await,
        401
    );
}

/// Exchanges a fresh code of `registered` (confidential, first-party) for `email`: the token
/// answer and the Basic credentials.
async fn tokens_for(
    app: &TestApp,
    registered: &Registered,
    email: &str,
) -> (Value, (String, String)) {
    let browser = new_client();
    let (code, request) = code_for(app, &browser, registered, &["email"], email).await;
    let basic = (
        registered.application.client_id.clone(),
        registered.secret.clone().unwrap(),
    );
    let (status, tokens, _) = token_post(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        Some((&basic.0, &basic.1)),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    (tokens, basic)
}

async fn introspect(app: &TestApp, token: &str, basic: (&str, &str)) -> Value {
    let r = cookieless_client()
        .post(app.url("/oidc/introspect"))
        .basic_auth(basic.0, Some(basic.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn introspection_tells_the_owning_application_and_revoking_a_refresh_token_ends_the_sign_in()
{
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let other = rp::register(
        &app,
        ApplicationDraft {
            name: "Helpdesk".into(),
            first_party: true,
            ..ApplicationDraft::default()
        },
    )
    .await;
    let (tokens, basic) = tokens_for(&app, &registered, "ada@example.com").await;
    let basic = (basic.0.as_str(), basic.1.as_str());
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let answer = introspect(&app, access, basic).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert!(answer["sub"].as_str().unwrap().starts_with("client:"));
    assert_eq!(answer["scope"], "openid email");
    assert_eq!(answer["token_type"], "Bearer");
    let stranger = (
        other.application.client_id.as_str(),
        other.secret.as_deref().unwrap(),
    );
    assert_eq!(
        introspect(&app, access, stranger).await,
        serde_json::json!({"active": false}),
        "another application learns nothing"
    );

    // Another application cannot revoke it; its own can, and the whole sign-in ends.
    let r = cookieless_client()
        .post(app.url("/oidc/revoke"))
        .basic_auth(stranger.0, Some(stranger.1))
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    for _ in 0..2 {
        // Revoking twice answers the same (RFC 7009 §2.2).
        let r = cookieless_client()
            .post(app.url("/oidc/revoke"))
            .basic_auth(basic.0, Some(basic.1))
            .form(&[("token", refresh), ("token_type_hint", "refresh_token")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(introspect(&app, access, basic).await["active"], false);
    assert_eq!(userinfo_status(&app, access).await, 401);
    let (_, body, _) = token_post(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        Some(basic),
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
}

#[tokio::test]
async fn signing_out_of_the_portal_ends_the_applications_tokens_unless_offline_access() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let basic = (
        registered.application.client_id.clone(),
        registered.secret.clone().unwrap(),
    );
    let browser = new_client();
    let mut refresh_tokens = Vec::new();
    for scopes in [&["email"][..], &["email", "offline_access"][..]] {
        let client = rp::client(&app, &registered).await;
        let request = rp::authorize_url(&client, scopes);
        let r = if refresh_tokens.is_empty() {
            rp::sign_in_through(&app, &browser, &request.url, "ada@example.com").await
        } else {
            browser.get(&request.url).send().await.unwrap()
        };
        let code = rp::param(&location(&r), "code").expect("a code");
        let (status, tokens, _) = token_post(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", request.verifier.secret()),
            ],
            Some((&basic.0, &basic.1)),
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        refresh_tokens.push((
            tokens["access_token"].as_str().unwrap().to_owned(),
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        ));
    }
    let (_, csrf) = app.form_page(&browser, "/clientarea").await;
    app.sign_out(&browser, "/logout", &csrf).await;

    let (access, refresh) = &refresh_tokens[0];
    assert_eq!(
        userinfo_status(&app, access).await,
        401,
        "ended with the session"
    );
    let (_, body, _) = token_post(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        Some((&basic.0, &basic.1)),
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("session ended"),
        "{body}"
    );
    let (access, refresh) = &refresh_tokens[1];
    assert_eq!(
        userinfo_status(&app, access).await,
        200,
        "offline_access outlives it"
    );
    let (status, _, _) = token_post(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        Some((&basic.0, &basic.1)),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_security_page_lists_allowed_applications_and_withdrawing_ends_their_tokens() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, false).await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    let (status, tokens, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        Some((
            registered.application.client_id.as_str(),
            registered.secret.as_deref().unwrap(),
        )),
    )
    .await;
    assert_eq!(status, 200);
    let access = tokens["access_token"].as_str().unwrap();

    let (page, csrf) = app.form_page(&browser, "/account/security").await;
    let listed = crate::helpers::otp::between(&page, "id=\"applications\"", "</section>");
    assert!(
        listed.contains("Billing") && listed.contains("openid email"),
        "{listed}"
    );
    let id = registered.application.id.to_string();
    let r = app
        .post_form(
            &browser,
            "/account/security/applications/withdraw",
            &[("application_id", id.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Withdrawn"), "{html}");
    assert!(html.contains("No application signs you in"), "{html}");
    assert_eq!(userinfo_status(&app, access).await, 401);

    let client = rp::client(&app, &registered).await;
    let again = rp::authorize_url(&client, &["email"]);
    let page = browser.get(&again.url).send().await.unwrap();
    assert_eq!(page.status(), 200, "asked again");
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'oidc.consent_withdrawn'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_sign_in_with_an_authenticator_app_says_so_in_amr_and_acr() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let setup = app.signed_in_client("ada@example.com").await;
    let (secret, _) =
        crate::helpers::otp::enable_totp(&app, &setup, "/account/security", PASSWORD).await;

    let browser = new_client();
    let client = rp::client(&app, &registered).await;
    let request = rp::authorize_url(&client, &[]);
    let r = browser.get(&request.url).send().await.unwrap();
    assert!(location(&r).starts_with("/login?oidc=signin"));
    let csrf =
        crate::helpers::otp::password_then_challenge(&app, &browser, "ada@example.com", PASSWORD)
            .await;
    let code = crate::helpers::otp::oathtool(&secret, portcullis::clock::Clock::unix(&*app.clock));
    let r = app
        .post_form(
            &browser,
            "/login/2fa",
            &[
                ("method", "totp"),
                ("code", code.as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let back = location(&r);
    assert!(
        back.starts_with("/oidc/authorize/continue?signed_in="),
        "{back}"
    );
    let r = browser.get(app.url(&back)).send().await.unwrap();
    let code = rp::param(&location(&r), "code").expect("a code");
    let (status, tokens, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        Some((
            registered.application.client_id.as_str(),
            registered.secret.as_deref().unwrap(),
        )),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let claims = rp::jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "urn:portcullis:acr:mfa");
    assert_eq!(claims["nonce"], request.nonce.secret().as_str());
}

#[tokio::test]
async fn f16_a_system_url_changed_while_applications_hold_tokens_is_a_doctor_warning() {
    use portcullis::doctor::Severity;
    let first = spawn_app().await;
    first.create_user("ada@example.com").await;
    let registered = billing(&first, true).await;
    tokens_for(&first, &registered, "ada@example.com").await;
    let check = first.doctor_check("oidc.keys").await;
    assert_eq!(check.severity, Severity::Ok, "{check:?}");

    // The same installation (database and data directory) started under another System URL.
    let data_dir = first.dir.path().display().to_string();
    let database = first.state.config.database_url.clone();
    let moved = spawn_with(|c| {
        c.data_dir = data_dir;
        c.database.url = database;
    })
    .await;
    let check = moved.doctor_check("oidc.keys").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(
        check.summary.contains(&first.address) && check.summary.contains(&moved.address),
        "{}",
        check.summary
    );
    assert!(
        check
            .next_step
            .contains("/.well-known/openid-configuration"),
        "{check:?}"
    );
}

const AFTER_LOGOUT: &str = "http://127.0.0.1:9/signed-out";

/// `url` with `pairs` added to its query.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

#[tokio::test]
async fn rp_initiated_logout_with_this_sessions_id_token_signs_out_and_returns() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = rp::register(
        &app,
        ApplicationDraft {
            name: "Billing".into(),
            first_party: true,
            post_logout_redirect_uris: AFTER_LOGOUT.into(),
            ..ApplicationDraft::default()
        },
    )
    .await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    let (_, tokens, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        Some((
            registered.application.client_id.as_str(),
            registered.secret.as_deref().unwrap(),
        )),
    )
    .await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let discovery: Value = cookieless_client()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let end_session = discovery["end_session_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();

    // An address not registered: a page here, and the refusal on the application's page.
    let r = browser
        .get(with_query(
            &end_session,
            &[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("has not registered"));
    // A forged hint is refused as well.
    let forged = format!("{id_token}x");
    let r = browser
        .get(with_query(
            &end_session,
            &[("id_token_hint", forged.as_str())],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        app.status_with(&browser, "/clientarea").await,
        200,
        "still signed in"
    );

    let r = browser
        .get(with_query(
            &end_session,
            &[
                ("id_token_hint", id_token),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", "s-42"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{AFTER_LOGOUT}?state=s-42"));
    assert_eq!(
        app.status_with(&browser, "/clientarea").await,
        303,
        "signed out"
    );
    assert_eq!(
        userinfo_status(&app, tokens["access_token"].as_str().unwrap()).await,
        401
    );
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM oidc_refusals WHERE endpoint = 'end_session'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(reason, "post_logout_redirect_uri_mismatch");
}

#[tokio::test]
async fn a_logout_request_without_this_sessions_id_token_asks_first() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = rp::register(
        &app,
        ApplicationDraft {
            name: "Billing".into(),
            first_party: true,
            post_logout_redirect_uris: AFTER_LOGOUT.into(),
            ..ApplicationDraft::default()
        },
    )
    .await;
    let browser = app.signed_in_client("ada@example.com").await;
    let client_id = registered.application.client_id.clone();
    // A link on another site: nothing ends until the person says so.
    let r = browser
        .get(with_query(
            &app.url("/oidc/logout"),
            &[
                ("client_id", client_id.as_str()),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Confirming is answered by a redirect to the registered URI, which the page's
    // Content-Security-Policy must let its form reach (browsers check form-action on redirects).
    assert_eq!(form_action(&r), "form-action 'self' http://127.0.0.1:9");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<strong>Billing</strong> asks to sign you out"),
        "{html}"
    );
    assert_eq!(app.status_with(&browser, "/clientarea").await, 200);
    let csrf = csrf_from(&html);
    let r = app
        .post_form(
            &browser,
            "/oidc/logout/confirm",
            &[
                ("client_id", client_id.as_str()),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("csrf_token", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), AFTER_LOGOUT);
    assert_eq!(app.status_with(&browser, "/clientarea").await, 303);
}

#[tokio::test]
async fn the_basic_plans_tolerated_parameters_prompt_none_max_age_and_userinfo_by_post() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    let (_, tokens, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        Some((
            registered.application.client_id.as_str(),
            registered.secret.as_deref().unwrap(),
        )),
    )
    .await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let client = rp::client(&app, &registered).await;

    // Parameters the provider does not act on are accepted, and prompt=none with a session
    // answers with a code and no page (oidcc-display-*, -ui-locales, -claims-locales,
    // -acr-values, -id-token-hint, -unknown-parameter, -prompt-none-logged-in).
    let tolerated = rp::authorize_url(&client, &["email"]);
    let url = with_query(
        &tolerated.url,
        &[
            ("display", "popup"),
            ("ui_locales", "de-CH fr"),
            ("claims_locales", "de"),
            ("acr_values", "urn:portcullis:acr:mfa"),
            ("id_token_hint", id_token.as_str()),
            ("extra", "ignored"),
            ("prompt", "none"),
        ],
    );
    let r = browser.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(rp::param(&back, "code").is_some(), "{back}");

    // max_age=1 a few seconds after signing in asks for a fresh sign-in (oidcc-max-age-1);
    // a long max_age does not (oidcc-max-age-10000).
    app.clock.advance(5);
    let short = with_query(&rp::authorize_url(&client, &[]).url, &[("max_age", "1")]);
    let r = browser.get(&short).send().await.unwrap();
    assert!(
        location(&r).starts_with("/login?oidc=again"),
        "{}",
        location(&r)
    );
    let long = with_query(
        &rp::authorize_url(&client, &[]).url,
        &[("max_age", "10000")],
    );
    let r = browser.get(&long).send().await.unwrap();
    assert!(rp::param(&location(&r), "code").is_some());

    // userinfo by POST, with the token in the header and in the body
    // (oidcc-userinfo-post-header, -post-body).
    for by_header in [true, false] {
        let request = cookieless_client().post(app.url("/oidc/userinfo"));
        let request = if by_header {
            request.bearer_auth(&access).form(&[("x", "y")])
        } else {
            request.form(&[("access_token", access.as_str())])
        };
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 200, "by header: {by_header}");
        let info: Value = r.json().await.unwrap();
        assert_eq!(info["email"], "ada@example.com");
    }
}

/// The `form-action` directive of a response's Content-Security-Policy.
fn form_action(r: &reqwest::Response) -> String {
    let csp = r
        .headers()
        .get("content-security-policy")
        .expect("a Content-Security-Policy")
        .to_str()
        .unwrap();
    csp.split(';')
        .map(str::trim)
        .find(|d| d.starts_with("form-action"))
        .expect("a form-action directive")
        .to_owned()
}

#[tokio::test]
async fn the_sign_in_and_consent_pages_of_a_request_let_their_forms_reach_its_application_only() {
    // Chromium applies form-action to the redirects answering a form: with `'self'` alone the
    // last redirect of a sign-in, to the application, is blocked (found by the Apache test in
    // tests/e2e/flows/oidc.test.js). The pages of a parked request allow its redirect URI's
    // origin, and no page allows anything else.
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, false).await;
    let client = rp::client(&app, &registered).await;
    let request = rp::authorize_url(&client, &["email"]);
    let strict = "form-action 'self'";
    let ours = "form-action 'self' http://127.0.0.1:9";

    let browser = new_client();
    let r = browser.get(app.url("/login")).send().await.unwrap();
    assert_eq!(form_action(&r), strict, "no request parked yet");
    let r = browser.get(&request.url).send().await.unwrap();
    let login = location(&r);
    let r = browser.get(app.url(&login)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(form_action(&r), ours, "the sign-in page of the request");

    // Another browser with a made-up parked-request cookie gets the strict policy.
    let r = cookieless_client()
        .get(app.url(&login))
        .header(
            "cookie",
            "portcullis_client_oidc=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(form_action(&r), strict);

    // Signed in, the consent page (its answer is a redirect to the application).
    let fresh = new_client();
    let consent = rp::sign_in_through(&app, &fresh, &request.url, "ada@example.com").await;
    assert_eq!(form_action(&consent), ours);
    let back = rp::consent(&app, &fresh, consent, "allow").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    // The request is answered: the cookie is gone, and the policy is strict again.
    let r = fresh.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(form_action(&r), strict);
}

#[tokio::test]
async fn a_code_sent_by_several_exchanges_at_once_gives_tokens_to_one_and_none_live_to_the_rest() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    let basic = (
        registered.application.client_id.as_str(),
        registered.secret.as_deref().unwrap(),
    );
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", request.verifier.secret().as_str()),
    ];
    let send = || token_post(&app, &fields, Some(basic));
    let (a, b, c, d) = tokio::join!(send(), send(), send(), send());
    let answers = [a, b, c, d];
    let won: Vec<&Value> = answers
        .iter()
        .filter(|(status, _, _)| *status == 200)
        .map(|(_, body, _)| body)
        .collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for (status, body, _) in &answers {
        assert!(
            *status == 200 || (*status == 400 && body["error"] == "invalid_grant"),
            "{status} {body}"
        );
    }
    // Every stored token but the winner's two is revoked: the losers' own (they lost the race
    // to spend the code) or, for a loser that came after the code was spent, the winner's too
    // (RFC 6749 §4.1.2).
    let winner = [
        portcullis::token::hash(won[0]["access_token"].as_str().unwrap()),
        portcullis::token::hash(won[0]["refresh_token"].as_str().unwrap()),
    ];
    let live: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM oidc_tokens WHERE revoked_at IS NULL")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert!(
        live.iter().all(|h| winner.contains(h)),
        "only the winner's tokens may be live: {live:?}"
    );
}

#[tokio::test]
async fn a_code_whose_person_was_disabled_meanwhile_is_refused_and_the_cause_recorded() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    // Disabled between the code and its exchange, with the session still live (the disabling
    // and the end of the session are two steps; the exchange must not slip between them).
    sqlx::query("UPDATE users SET disabled = 1 WHERE email = 'ada@example.com'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, body, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        Some((
            registered.application.client_id.as_str(),
            registered.secret.as_deref().unwrap(),
        )),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let reason: String = sqlx::query_scalar(
        "SELECT reason FROM oidc_refusals WHERE endpoint = 'token' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(reason, "subject_gone");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_tokens")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "no token was stored for a refused exchange");
}

#[tokio::test]
async fn the_token_endpoints_answer_on_a_pool_of_one_connection() {
    // Each protocol request runs on the one connection its client authentication took; a step
    // that took a second one meanwhile would wait for the first forever (here: until the pool's
    // acquire timeout, then a 503).
    let app = spawn_with(|raw| raw.database.max_connections = 1).await;
    app.create_user("ada@example.com").await;
    let registered = billing(&app, true).await;
    let browser = new_client();
    let (code, request) =
        code_for(&app, &browser, &registered, &["email"], "ada@example.com").await;
    let basic = (
        registered.application.client_id.as_str(),
        registered.secret.as_deref().unwrap(),
    );
    // A refusal is recorded on the same connection.
    let (status, body, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", "not-a-code-this-provider-issued-at-all-000000"),
            ("redirect_uri", REDIRECT),
        ],
        Some(basic),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // The first signature of the process reads the key rows on the request's connection.
    let (status, tokens, _) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", request.verifier.secret()),
        ],
        Some(basic),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let (status, refreshed, _) = token_post(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
        Some(basic),
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, access, basic).await["active"], true);
    assert_eq!(userinfo_status(&app, access).await, 200);
    let revoked = cookieless_client()
        .post(app.url("/oidc/revoke"))
        .basic_auth(basic.0, Some(basic.1))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(&app, access, basic).await["active"], false);
    assert_eq!(userinfo_status(&app, access).await, 401);
    // The access token ended alone (RFC 7009 §2.1 leaves its refresh token to the server):
    // the refresh token issued with it still refreshes.
    let refresh = refreshed["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&app, refresh, basic).await["active"], true);
    let (status, again, _) = token_post(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        Some(basic),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        userinfo_status(&app, again["access_token"].as_str().unwrap()).await,
        200
    );
}
