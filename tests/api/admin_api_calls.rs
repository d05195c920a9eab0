//! The admin API's calls beyond finding users (issue 21), and its document: `POST
//! /api/v1/users` creating a user and the account they own (audited, refused with a 409 for a
//! taken address and 422 naming each field the rules refuse), every malformed body refused as a
//! problem document (415, 413, 400, 422), and `/api/v1/openapi.json` listing exactly the
//! `/api/v1/` rows of the route table, checked by the independent `openapi-spec-validator`.

use crate::helpers::*;
use portcullis::api_credential::{ApiCredentials, Draft};
use portcullis::domain::{Actor, AdminId};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// `Bearer <identifier>.<secret>` of a credential with `roles` for a new admin holding
/// `permissions`.
async fn credential(app: &TestApp, roles: &[&str], permissions: &[&str]) -> String {
    app.create_admin("root").await;
    let role = app.create_role("Integrations", permissions).await;
    app.create_admin_in_role("robot", role).await;
    let robot: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'robot'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let draft = Draft {
        label: "portal".into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        allowed: vec![],
        expires_in_days: None,
    };
    let c = ApiCredentials::from(&app.state)
        .create(AdminId(robot), &draft, &Actor::Admin(AdminId(robot)))
        .await
        .unwrap();
    format!("Bearer {}.{}", c.identifier, c.secret)
}

/// POSTs `body` (raw bytes) with `content_type`; the status, content type and JSON answer.
async fn post_raw(
    app: &TestApp,
    path: &str,
    auth: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", app.address))
        .header("authorization", auth)
        .body(body);
    if let Some(kind) = content_type {
        request = request.header("content-type", kind);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {status} {text}"));
    (status, kind, json)
}

async fn post_json(app: &TestApp, path: &str, auth: &str, body: &Value) -> (u16, String, Value) {
    post_raw(
        app,
        path,
        auth,
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await
}

/// Asserts a problem document of `status` and type `name`; returns it.
fn problem((status, kind, json): (u16, String, Value), want: u16, name: &str) -> Value {
    assert_eq!(status, want, "{json}");
    assert_eq!(kind, "application/problem+json", "{json}");
    assert_eq!(json["type"], format!("urn:portcullis:problem:{name}"));
    assert_eq!(json["status"], want);
    json
}

fn ada() -> Value {
    json!({
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "password": "correct horse battery staple",
    })
}

#[tokio::test]
async fn a_credential_creates_a_user_who_owns_an_account_and_signs_in() {
    let app = spawn_app().await;
    let auth = credential(
        &app,
        &["users.write", "users.read"],
        &[
            "api_access",
            "manage_client_accounts",
            "view_client_profile",
        ],
    )
    .await;
    let (status, _, created) = post_json(&app, "/api/v1/users", &auth, &ada()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["email_verified_at"], Value::Null);
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    let account = created["client_account_id"]
        .as_i64()
        .expect("an owned account");
    let owner: i64 = sqlx::query_scalar("SELECT owner_user_id FROM clients WHERE id = $1")
        .bind(account)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(owner, created["id"].as_i64().unwrap());
    // Found again through the read call, and able to sign in with the password.
    let found = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/users/{}",
            app.address,
            created["id"].as_i64().unwrap()
        ))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    let browser = new_client();
    let r = app
        .client_login_with(&browser, "ada@example.com", "correct horse battery staple")
        .await;
    assert_eq!(r.status(), 303, "the created user signs in");
    // The audit log names the admin and the credential.
    let (actor, detail): (String, String) =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'user.created'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(actor.starts_with("admin:"), "{actor}");
    assert!(
        detail.contains("ada@example.com") && detail.contains("through the admin API (credential "),
        "{detail}"
    );
    // An unverified address got its verification mail queued.
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages WHERE to_addr = 'ada@example.com'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(queued, 1);

    // The same address again: 409 naming the field; nothing more stored.
    let again = problem(
        post_json(&app, "/api/v1/users", &auth, &ada()).await,
        409,
        "conflict",
    );
    assert_eq!(again["field"], "email");
    // The rules' refusals: 422 listing each field.
    let bad = problem(
        post_json(
            &app,
            "/api/v1/users",
            &auth,
            &json!({"email": "not-an-address", "first_name": "", "last_name": "L", "password": "short"}),
        )
        .await,
        422,
        "invalid_body",
    );
    let fields: BTreeSet<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains("email") && fields.contains("first_name") && fields.contains("password"),
        "{bad}"
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn creating_needs_the_write_role_and_reading_alone_is_not_enough() {
    let app = spawn_app().await;
    let auth = credential(
        &app,
        &["users.read"],
        &["api_access", "view_client_profile"],
    )
    .await;
    let refused = problem(
        post_json(&app, "/api/v1/users", &auth, &ada()).await,
        403,
        "missing_api_role",
    );
    assert_eq!(refused["allowed"], "users.write");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn every_malformed_body_is_a_problem_document_and_nothing_is_created() {
    let app = spawn_with(|c| c.server.max_body_bytes = 4096).await;
    let auth = credential(
        &app,
        &["users.write"],
        &["api_access", "manage_client_accounts"],
    )
    .await;
    let path = "/api/v1/users";
    let p = problem(
        post_raw(
            &app,
            path,
            &auth,
            Some("text/plain"),
            ada().to_string().into_bytes(),
        )
        .await,
        415,
        "unsupported_media_type",
    );
    assert_eq!(p["allowed"], "application/json");
    problem(
        post_raw(&app, path, &auth, None, ada().to_string().into_bytes()).await,
        415,
        "unsupported_media_type",
    );
    let mut huge = ada();
    huge["first_name"] = json!("A".repeat(10_000));
    problem(
        post_json(&app, path, &auth, &huge).await,
        413,
        "body_too_large",
    );
    let json = Some("application/json");
    for body in [
        b"{\"email\": ".to_vec(),
        b"\xff\xfe\x00{}".to_vec(),
        format!("{}{{}}", ada()).into_bytes(),
        b"".to_vec(),
        b"nul\x00l".to_vec(),
    ] {
        problem(
            post_raw(&app, path, &auth, json, body).await,
            400,
            "malformed_json",
        );
    }
    let mut wrong_type = ada();
    wrong_type["verified"] = json!("yes");
    let mut unknown = ada();
    unknown["is_admin"] = json!(true);
    let mut missing = ada();
    missing.as_object_mut().unwrap().remove("password");
    let duplicate = br#"{"email":"ada@example.com","email":"eve@example.com","first_name":"A","last_name":"L","password":"correct horse battery staple"}"#;
    for (body, field) in [
        (wrong_type.to_string().into_bytes(), "verified"),
        (unknown.to_string().into_bytes(), "is_admin"),
        (missing.to_string().into_bytes(), "password"),
        (duplicate.to_vec(), "email"),
        (b"[]".to_vec(), ""),
        (b"\"ada\"".to_vec(), ""),
    ] {
        let p = problem(
            post_raw(&app, path, &auth, json, body).await,
            422,
            "invalid_body",
        );
        if !field.is_empty() {
            assert_eq!(p["field"], field, "{p}");
        }
    }
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(users, 0, "no malformed body created anyone");
}

/// `{path}` parameters as the route table writes them match the document's.
fn api_rows() -> BTreeSet<(String, String)> {
    portcullis::web::routes::table()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v1/"))
        .map(|r| (r.method.as_str().to_ascii_lowercase(), r.path.to_owned()))
        .collect()
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_api_routes_and_passes_an_independent_validator() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/api/v1/openapi.json", app.address))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let document: Value = r.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let mut listed = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.insert((method.clone(), path.clone()));
        }
    }
    // The document describes itself too: it is one of the routes.
    listed.insert(("get".into(), "/api/v1/openapi.json".into()));
    assert_eq!(
        listed,
        api_rows(),
        "every /api/v1/ route is in the document, and every documented route exists"
    );
    // Each documented operation answers (not the router's 404 or 405) when called without a
    // credential: 401 as a problem document.
    for (method, path) in &listed {
        if path.ends_with("openapi.json") {
            continue;
        }
        let concrete = path
            .replace("{id}", "1")
            .replace("{address}", "203.0.113.9")
            .replace("{session}", "x");
        let url = format!("{}{concrete}", app.address);
        let request = match method.as_str() {
            "get" => reqwest::Client::new().get(url),
            "post" => reqwest::Client::new().post(url),
            "patch" => reqwest::Client::new().patch(url),
            "delete" => reqwest::Client::new().delete(url),
            other => panic!("an API method the table has no helper for: {other}"),
        };
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
    }

    // The independent validator (PyPI openapi-spec-validator, pinned in scripts/test).
    let validator = std::env::var_os("PORTCULLIS_TEST_OPENAPI_VALIDATOR").unwrap_or_else(|| {
        panic!("scripts/test installs openapi-spec-validator and names it in PORTCULLIS_TEST_OPENAPI_VALIDATOR")
    });
    let file = app.dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .env("PYTHONPATH", &validator)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("OK"), "{said}");
}

/// A request with `method` to `path` and an optional JSON body; status, type and JSON answer
/// (`null` for an empty one).
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: &str,
    body: Option<&Value>,
) -> (u16, String, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", app.address))
        .header("authorization", auth);
    if let Some(body) = body {
        request = request.json(body);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {status} {text}"))
    };
    (status, kind, json)
}

async fn id_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_credential_bans_an_address_lists_it_and_lifts_it() {
    use reqwest::Method;
    let app = spawn_app().await;
    let auth = credential(
        &app,
        &["bans.read", "bans.write"],
        &["api_access", "view_banned_ips", "manage_banned_ips"],
    )
    .await;
    let (status, _, made) = send(
        &app,
        Method::POST,
        "/api/v1/bans",
        &auth,
        Some(&json!({"ip": "203.0.113.7", "reason": "card testing", "minutes": 60, "scope": "client"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        (&made["ip"], &made["scope"], &made["reason"]),
        (
            &json!("203.0.113.7"),
            &json!("client"),
            &json!("card testing")
        )
    );
    assert_eq!(
        made["expires_at"].as_i64().unwrap() - made["created_at"].as_i64().unwrap(),
        3600
    );
    assert!(made["by"].as_str().unwrap().starts_with("admin:"), "{made}");
    let (_, _, listed) = send(&app, Method::GET, "/api/v1/bans", &auth, None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Bad fields: 422 naming each.
    let bad = problem(
        send(
            &app,
            Method::POST,
            "/api/v1/bans",
            &auth,
            Some(&json!({"ip": "not-an-ip", "reason": "", "minutes": 0, "scope": "moon"})),
        )
        .await,
        422,
        "invalid_body",
    );
    let fields: BTreeSet<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["ip", "minutes", "reason", "scope"]),
        "{bad}"
    );
    // Lifted; lifting again is a 404, a non-address a 400.
    let (status, _, _) = send(
        &app,
        Method::DELETE,
        "/api/v1/bans/203.0.113.7",
        &auth,
        None,
    )
    .await;
    assert_eq!(status, 204);
    problem(
        send(
            &app,
            Method::DELETE,
            "/api/v1/bans/203.0.113.7",
            &auth,
            None,
        )
        .await,
        404,
        "not_found",
    );
    let p = problem(
        send(&app, Method::DELETE, "/api/v1/bans/moon", &auth, None).await,
        400,
        "invalid_field",
    );
    assert_eq!(p["field"], "address");
    let (_, _, listed) = send(&app, Method::GET, "/api/v1/bans", &auth, None).await;
    assert_eq!(listed, json!([]));
    let added = audit_details(&app, "ban.add").await;
    let lifts = audit_details(&app, "ban.lift").await;
    assert_eq!((added.len(), lifts.len()), (1, 1), "{added:?} {lifts:?}");
}

#[tokio::test]
async fn a_credential_lists_a_users_sessions_and_ends_one_or_all_of_them() {
    use reqwest::Method;
    let app = spawn_app().await;
    let auth = credential(
        &app,
        &["sessions.read", "sessions.write", "users.read"],
        &[
            "api_access",
            "view_client_profile",
            "manage_client_accounts",
        ],
    )
    .await;
    app.create_user("ada@example.com").await;
    let id = id_of(&app, "ada@example.com").await;
    let laptop = app.signed_in_client("ada@example.com").await;
    let phone = app.signed_in_client("ada@example.com").await;
    let tablet = app.signed_in_client("ada@example.com").await;
    let path = format!("/api/v1/users/{id}/sessions");
    let (status, _, listed) = send(&app, Method::GET, &path, &auth, None).await;
    assert_eq!(status, 200, "{listed}");
    let ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{listed}");
    // End one: exactly one of the three browsers is signed out.
    let (status, _, _) = send(
        &app,
        Method::DELETE,
        &format!("{path}/{}", ids[0]),
        &auth,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let mut live = 0;
    for browser in [&laptop, &phone, &tablet] {
        let r = browser.get(app.url("/clientarea")).send().await.unwrap();
        if r.status() == 200 {
            live += 1;
        }
    }
    assert_eq!(live, 2);
    problem(
        send(
            &app,
            Method::DELETE,
            &format!("{path}/{}", ids[0]),
            &auth,
            None,
        )
        .await,
        404,
        "not_found",
    );
    // End the rest.
    let (status, _, ended) = send(&app, Method::DELETE, &path, &auth, None).await;
    assert_eq!((status, &ended["ended"]), (200, &json!(2)), "{ended}");
    for browser in [&laptop, &phone, &tablet] {
        let r = browser.get(app.url("/clientarea")).send().await.unwrap();
        assert_ne!(r.status(), 200, "every session ended");
    }
    let details = audit_details(&app, "session.ended").await;
    assert!(
        details
            .iter()
            .any(|d| d.contains("one session ended by the operator (1)"))
            && details
                .iter()
                .any(|d| d.contains("signed out everywhere by the operator (2)")),
        "{details:?}"
    );
    // Unknown users and malformed ids.
    problem(
        send(&app, Method::GET, "/api/v1/users/999/sessions", &auth, None).await,
        404,
        "not_found",
    );
    problem(
        send(
            &app,
            Method::DELETE,
            "/api/v1/users/999/sessions",
            &auth,
            None,
        )
        .await,
        404,
        "not_found",
    );
    problem(
        send(&app, Method::GET, "/api/v1/users/-1/sessions", &auth, None).await,
        400,
        "invalid_field",
    );
}

#[tokio::test]
async fn disabling_a_user_through_the_api_ends_their_sessions_and_their_sign_in() {
    use reqwest::Method;
    let app = spawn_app().await;
    let auth = credential(
        &app,
        &["users.write"],
        &["api_access", "manage_client_accounts"],
    )
    .await;
    let user = app.create_user("ada@example.com").await;
    let id = id_of(&app, "ada@example.com").await;
    let browser = app.signed_in_client("ada@example.com").await;
    let path = format!("/api/v1/users/{id}");
    let (status, _, changed) = send(
        &app,
        Method::PATCH,
        &path,
        &auth,
        Some(&json!({"first_name": "Augusta", "disabled": true})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            &changed["first_name"],
            &changed["disabled"],
            &changed["sessions_ended"]
        ),
        (&json!("Augusta"), &json!(true), &json!(1))
    );
    let r = browser.get(app.url("/clientarea")).send().await.unwrap();
    assert_ne!(r.status(), 200, "the session ended");
    let r = app
        .client_login_with(&new_client(), &user.email, &user.password)
        .await;
    assert_ne!(r.status(), 303, "a disabled user cannot sign in");
    let details = audit_details(&app, "user.updated").await;
    assert!(
        details[0].contains("name changed, disabled (1 sessions ended) through the admin API"),
        "{details:?}"
    );
    // Enabled again, the user signs in.
    let (status, _, changed) = send(
        &app,
        Method::PATCH,
        &path,
        &auth,
        Some(&json!({"disabled": false})),
    )
    .await;
    assert_eq!((status, &changed["disabled"]), (200, &json!(false)));
    let r = app
        .client_login_with(&new_client(), &user.email, &user.password)
        .await;
    assert_eq!(r.status(), 303, "enabled again, the user signs in");
    // A refused name, an unknown field, an unknown user.
    let p = problem(
        send(
            &app,
            Method::PATCH,
            &path,
            &auth,
            Some(&json!({"last_name": ""})),
        )
        .await,
        422,
        "invalid_body",
    );
    assert_eq!(p["field"], "last_name");
    let p = problem(
        send(
            &app,
            Method::PATCH,
            &path,
            &auth,
            Some(&json!({"email": "x@y.z"})),
        )
        .await,
        422,
        "invalid_body",
    );
    assert_eq!(p["field"], "email");
    problem(
        send(
            &app,
            Method::PATCH,
            "/api/v1/users/999",
            &auth,
            Some(&json!({"disabled": true})),
        )
        .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn a_bcrypt_hash_made_by_php_is_imported_and_the_person_signs_in_with_their_old_password() {
    use reqwest::Method;
    let app = spawn_app().await;
    let auth = credential(
        &app,
        &["users.write"],
        &["api_access", "manage_client_accounts"],
    )
    .await;
    app.create_user("ada@example.com").await;
    let id = id_of(&app, "ada@example.com").await;
    let old_password = "the password from the old portal";
    let out = std::process::Command::new("php")
        .args([
            "-r",
            "echo password_hash($argv[1], PASSWORD_BCRYPT);",
            "--",
            old_password,
        ])
        .output()
        .expect("php is installed by scripts/test (Debian package php8.2-cli)");
    let php_hash = String::from_utf8(out.stdout).unwrap();
    assert!(php_hash.starts_with("$2y$"), "{php_hash}");
    let path = format!("/api/v1/users/{id}/password-hash");
    let (status, _, stored) = send(
        &app,
        Method::POST,
        &path,
        &auth,
        Some(&json!({"password_hash": php_hash})),
    )
    .await;
    assert_eq!(
        (status, &stored["format"]),
        (200, &json!("bcrypt")),
        "{stored}"
    );
    let browser = new_client();
    let r = app
        .client_login_with(&browser, "ada@example.com", old_password)
        .await;
    assert_eq!(r.status(), 303, "the old password signs in");
    let now: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(now.starts_with("$argon2id$"), "upgraded at the sign-in");
    // The audit log names the format, never the hash.
    let details = audit_details(&app, "user.password_hash_imported").await;
    assert!(details[0].contains("a bcrypt hash imported"), "{details:?}");
    assert!(!details[0].contains("$2y$"), "{details:?}");
    // Formats Portcullis does not verify are refused, naming the field.
    for refused in [
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "plaintext",
        "$2y$10$short",
    ] {
        let p = problem(
            send(
                &app,
                Method::POST,
                &path,
                &auth,
                Some(&json!({"password_hash": refused})),
            )
            .await,
            422,
            "invalid_body",
        );
        assert_eq!(p["field"], "password_hash", "{p}");
    }
}

#[tokio::test]
async fn a_message_queued_through_the_api_reaches_a_real_smtp_server_and_the_audit_log() {
    use crate::helpers::smtp::SmtpPeer;
    use reqwest::Method;
    let peer = SmtpPeer::start("accept", None);
    let port = peer.port;
    let app = spawn_with(move |c| {
        c.mail.transport = "smtp".into();
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = port;
        c.mail.smtp_tls = "none".into();
        c.mail.smtp_timeout_seconds = 5;
    })
    .await;
    let auth = credential(
        &app,
        &["mail.send"],
        &["api_access", "manage_client_accounts"],
    )
    .await;
    let (status, _, queued) = send(
        &app,
        Method::POST,
        "/api/v1/mail",
        &auth,
        Some(&json!({
            "to": "ada@example.com",
            "subject": "Welcome to Example Hosting",
            "body": "Your account is ready.\n\nSign in at any time.",
        })),
    )
    .await;
    assert_eq!(
        (status, &queued["state"]),
        (202, &json!("queued")),
        "{queued}"
    );
    let sent = portcullis::mail::sender::run_once(&app.state)
        .await
        .unwrap();
    assert_eq!(sent.sent, 1);
    let messages = peer.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].contains("Subject: Welcome to Example Hosting"),
        "{}",
        messages[0]
    );
    assert!(
        messages[0].contains("Your account is ready."),
        "{}",
        messages[0]
    );
    let details = audit_details(&app, "mail.queued").await;
    assert!(
        details[0].contains("to ada@example.com")
            && details[0].contains("Welcome to Example Hosting"),
        "{details:?}"
    );
    assert!(
        !details[0].contains("Sign in at any time"),
        "the body is not audited"
    );
    // A subject with a line break (a header injection) and a bad address: 422, nothing queued.
    let p = problem(
        send(
            &app,
            Method::POST,
            "/api/v1/mail",
            &auth,
            Some(&json!({"to": "nobody", "subject": "Hi\r\nBcc: eve@example.com", "body": "x"})),
        )
        .await,
        422,
        "invalid_body",
    );
    let fields: BTreeSet<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, BTreeSet::from(["subject", "to"]), "{p}");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

/// The hostile shapes a JSON body may take, each refused before any service runs.
fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", b"".to_vec()),
        ("truncated", b"{\"a\": [1, 2".to_vec()),
        ("invalid UTF-8", b"{\"email\": \"\xc3\x28\"}".to_vec()),
        ("a lone surrogate", b"{\"email\": \"\\ud800\"}".to_vec()),
        ("NUL bytes", b"{\0}".to_vec()),
        ("two values", b"{} {}".to_vec()),
        ("deep nesting", format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes()),
        ("a number", b"12345678901234567890123456789".to_vec()),
        ("null", b"null".to_vec()),
        ("an array", b"[{}]".to_vec()),
        ("a string", b"\"{}\"".to_vec()),
        ("wrong types", br#"{"email": [], "user_id": "1", "ip": {}, "to": 7, "disabled": "no", "first_name": 1, "password_hash": false}"#.to_vec()),
        ("unknown field", br#"{"__proto__": {"admin": true}}"#.to_vec()),
        ("duplicate keys", br#"{"first_name": "A", "first_name": "B"}"#.to_vec()),
        ("a BOM", b"\xef\xbb\xbf{}".to_vec()),
    ]
}

#[tokio::test]
async fn every_call_with_a_body_answers_the_hostile_corpus_with_a_4xx_problem_and_changes_nothing()
{
    let app = spawn_with(|c| c.server.max_body_bytes = 64 * 1024).await;
    app.create_user("ada@example.com").await;
    let id = id_of(&app, "ada@example.com").await;
    let auth = credential(
        &app,
        &[
            "users.write",
            "bans.write",
            "sessions.write",
            "mail.send",
            "sso.create",
        ],
        &[
            "api_access",
            "manage_client_accounts",
            "manage_banned_ips",
            "login_as_client",
        ],
    )
    .await;
    let document: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut with_body = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("requestBody").is_some() {
                with_body.push((method.clone(), path.replace("{id}", &id.to_string())));
            }
        }
    }
    assert!(
        with_body.len() >= 6,
        "the document lists the body calls: {with_body:?}"
    );
    let before = counts(&app).await;
    let mut huge = vec![b'['; 1];
    huge.extend(std::iter::repeat_n(b'1', 70 * 1024));
    huge.push(b']');
    for (method, path) in &with_body {
        let mut corpus = hostile_bodies();
        corpus.push(("too large", huge.clone()));
        for (shape, body) in corpus {
            let request = reqwest::Client::new()
                .request(
                    reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap(),
                    app.url(path),
                )
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(body);
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let kind = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let text = r.text().await.unwrap();
            assert!(
                (400..500).contains(&status),
                "{method} {path} with {shape}: {status} {text}"
            );
            assert_eq!(
                kind, "application/problem+json",
                "{method} {path} with {shape}: {text}"
            );
            let json: Value = serde_json::from_str(&text).unwrap();
            assert!(
                json["type"]
                    .as_str()
                    .unwrap()
                    .starts_with("urn:portcullis:problem:"),
                "{text}"
            );
        }
    }
    assert_eq!(
        counts(&app).await,
        before,
        "no hostile body changed anything"
    );
}

/// Rows the body calls would add or change.
async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM users",
        "SELECT COUNT(*) FROM bans",
        "SELECT COUNT(*) FROM mail_messages",
        "SELECT COUNT(*) FROM one_time_tokens",
        "SELECT COUNT(*) FROM audit_log WHERE action <> 'api.credential_created'",
        "SELECT COUNT(*) FROM users WHERE disabled = 1",
    ] {
        out.push(
            sqlx::query_scalar(sql)
                .fetch_one(&app.state.db)
                .await
                .unwrap(),
        );
    }
    out
}
