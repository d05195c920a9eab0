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
        let url = format!("{}{}", app.address, path.replace("{id}", "1"));
        let request = match method.as_str() {
            "get" => reqwest::Client::new().get(url),
            "post" => reqwest::Client::new().post(url),
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
