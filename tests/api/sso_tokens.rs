//! Single sign-on tokens (issue 21, F20): made through the admin API, opened by a browser. A
//! fetch of the link uses nothing up (a link scanner), the button signs in once and lands on
//! the destination, and each refusal says which it was: not one we made, expired after 60
//! seconds, already used. The second factor still applies; destinations off-site are refused.

use crate::helpers::otp::{enable_totp, oathtool};
use crate::helpers::*;
use portcullis::api_credential::{ApiCredentials, Draft};
use portcullis::clock::Clock as _;
use portcullis::domain::{Actor, AdminId};
use serde_json::{Value, json};

/// `Bearer ...` of a credential with `sso.create` (its admin holds `login_as_client`).
async fn sso_credential(app: &TestApp) -> String {
    app.create_admin("root").await;
    let role = app
        .create_role("Billing", &["api_access", "login_as_client"])
        .await;
    app.create_admin_in_role("billing", role).await;
    let admin: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'billing'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let draft = Draft {
        label: "billing".into(),
        roles: vec!["sso.create".into()],
        allowed: vec![],
        expires_in_days: None,
    };
    let c = ApiCredentials::from(&app.state)
        .create(AdminId(admin), &draft, &Actor::Admin(AdminId(admin)))
        .await
        .unwrap();
    format!("Bearer {}.{}", c.identifier, c.secret)
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn make(app: &TestApp, auth: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/sso-tokens"))
        .header("authorization", auth)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// The link's path (the URL is on the System URL, the test server's address).
fn path_of(link: &Value) -> String {
    let url = link["redirect_url"].as_str().unwrap();
    let path = url.split_once("/sso/").map(|(_, t)| format!("/sso/{t}"));
    path.unwrap_or_else(|| panic!("{link}"))
}

/// Opens the link and presses the button; the button's answer.
async fn follow(app: &TestApp, browser: &reqwest::Client, path: &str) -> reqwest::Response {
    let page = browser.get(app.url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_from(&page.text().await.unwrap());
    app.post_form(browser, path, &[("csrf_token", csrf.as_str())])
        .await
}

async fn page_text(app: &TestApp, browser: &reqwest::Client, path: &str) -> (u16, String) {
    let r = browser.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn f20_a_link_survives_a_scanner_signs_in_once_and_lands_on_its_destination() {
    let app = spawn_app().await;
    let auth = sso_credential(&app).await;
    app.create_user("ada@example.com").await;
    let id = user_id(&app, "ada@example.com").await;
    let (status, link) = make(
        &app,
        &auth,
        &json!({"user_id": id, "destination": "/account/security"}),
    )
    .await;
    assert_eq!(status, 201, "{link}");
    assert_eq!(link["expires_at"].as_i64().unwrap(), app.clock.unix() + 60);
    let path = path_of(&link);
    // Only the hash is stored.
    let token = path.trim_start_matches("/sso/");
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM one_time_tokens WHERE token_hash = $1")
            .bind(token)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(stored, 0, "the token itself is not stored");

    // A mail scanner fetches the link twice: it signs nobody in and uses nothing up.
    let scanner = new_client();
    for _ in 0..2 {
        let (status, text) = page_text(&app, &scanner, &path).await;
        assert_eq!(status, 200);
        assert!(text.contains("Continue to 127.0.0.1"), "{text}");
    }
    let r = scanner.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 303, "the scanner is not signed in");

    // The person presses the button: signed in, landing on the destination.
    let browser = new_client();
    let r = follow(&app, &browser, &path).await;
    assert_eq!(r.status(), 303);
    let next = location(&r);
    assert!(next.starts_with("/sso/continue?signed_in="), "{next}");
    let r = browser.get(app.url(&next)).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (303, "/account/security".into())
    );
    let r = browser
        .get(app.url("/account/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "signed in");

    // Used: the page says so, and when.
    let (status, text) = page_text(&app, &new_client(), &path).await;
    assert_eq!(status, 410);
    assert!(
        text.contains("This sign-in link was already used"),
        "{text}"
    );
    let r = app
        .post_form(&new_client(), &path, &[("csrf_token", "x")])
        .await;
    assert_ne!(r.status(), 303, "a second press signs nobody in");
    let details: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'sso.token_created'")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert!(
        details[0].contains("for ada@example.com") && details[0].contains("to /account/security"),
        "{details:?}"
    );
    assert!(!details[0].contains(token), "the token is not audited");
}

#[tokio::test]
async fn f20_an_expired_or_unknown_link_says_which_and_signs_nobody_in() {
    let app = spawn_app().await;
    let auth = sso_credential(&app).await;
    app.create_user("ada@example.com").await;
    let id = user_id(&app, "ada@example.com").await;
    let (_, link) = make(&app, &auth, &json!({"user_id": id})).await;
    let path = path_of(&link);
    app.clock.advance(61);
    let (status, text) = page_text(&app, &new_client(), &path).await;
    assert_eq!(status, 410);
    assert!(text.contains("This sign-in link expired"), "{text}");
    assert!(text.contains("60 seconds"), "{text}");
    let (status, text) = page_text(&app, &new_client(), "/sso/not-a-token-at-all").await;
    assert_eq!(status, 404);
    assert!(text.contains("This sign-in link is not valid"), "{text}");
    // A link for a user disabled after it was made signs nobody in.
    let (_, link) = make(&app, &auth, &json!({"user_id": id})).await;
    sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
        .bind(id)
        .execute(&app.state.db)
        .await
        .unwrap();
    let browser = new_client();
    let r = follow(&app, &browser, &path_of(&link)).await;
    assert_eq!(r.status(), 410);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("This sign-in link cannot sign you in")
    );
}

#[tokio::test]
async fn f20_the_second_factor_still_applies_after_a_link() {
    let app = spawn_app().await;
    let auth = sso_credential(&app).await;
    app.create_user("ada@example.com").await;
    let own = app.signed_in_client("ada@example.com").await;
    let (secret, _) = enable_totp(&app, &own, "/account/security", PASSWORD).await;
    let id = user_id(&app, "ada@example.com").await;
    let (_, link) = make(
        &app,
        &auth,
        &json!({"user_id": id, "destination": "/account/sessions"}),
    )
    .await;
    let browser = new_client();
    let r = follow(&app, &browser, &path_of(&link)).await;
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (303, "/login/2fa".into())
    );
    let r = browser.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 303, "no session before the second factor");
    let page = browser.get(app.url("/login/2fa")).send().await.unwrap();
    let csrf = csrf_from(&page.text().await.unwrap());
    let code = oathtool(&secret, app.clock.unix());
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
    assert_eq!(r.status(), 303);
    let next = location(&r);
    assert!(next.starts_with("/sso/continue?signed_in="), "{next}");
    let r = browser.get(app.url(&next)).send().await.unwrap();
    assert_eq!(location(&r), "/account/sessions");
    let r = browser
        .get(app.url("/account/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_link_is_refused_off_site_outside_the_users_accounts_or_without_the_role() {
    let app = spawn_app().await;
    let auth = sso_credential(&app).await;
    app.create_user("ada@example.com").await;
    app.create_user("bob@example.com").await;
    let ada = user_id(&app, "ada@example.com").await;
    let bobs_account: i64 = sqlx::query_scalar(
        "SELECT c.id FROM clients c JOIN users u ON u.id = c.owner_user_id WHERE u.email = 'bob@example.com'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    for destination in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "clientarea",
    ] {
        let (status, p) = make(
            &app,
            &auth,
            &json!({"user_id": ada, "destination": destination}),
        )
        .await;
        assert_eq!(
            (status, &p["field"]),
            (422, &json!("destination")),
            "{destination}: {p}"
        );
    }
    let (status, p) = make(
        &app,
        &auth,
        &json!({"user_id": ada, "client_account_id": bobs_account}),
    )
    .await;
    assert_eq!(
        (status, &p["field"]),
        (422, &json!("client_account_id")),
        "{p}"
    );
    let (status, _) = make(&app, &auth, &json!({"user_id": 9999})).await;
    assert_eq!(status, 404);
    let (status, p) = make(&app, &auth, &json!({"user": ada})).await;
    assert_eq!((status, &p["field"]), (422, &json!("user")), "{p}");
    // A credential without sso.create.
    let role = app
        .create_role("Readers", &["api_access", "view_client_profile"])
        .await;
    app.create_admin_in_role("reader", role).await;
    let reader: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'reader'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let c = ApiCredentials::from(&app.state)
        .create(
            AdminId(reader),
            &Draft {
                label: "r".into(),
                roles: vec!["users.read".into()],
                allowed: vec![],
                expires_in_days: None,
            },
            &Actor::Admin(AdminId(reader)),
        )
        .await
        .unwrap();
    let (status, p) = make(
        &app,
        &format!("Bearer {}.{}", c.identifier, c.secret),
        &json!({"user_id": ada}),
    )
    .await;
    assert_eq!((status, &p["allowed"]), (403, &json!("sso.create")), "{p}");
    let issued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM one_time_tokens WHERE purpose = 'sso'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(issued, 0, "no refused request made a token");
}
