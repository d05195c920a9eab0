//! The admin API's first part (issue 21): API credentials made on the command line (another
//! process) or through the service, `/api/v1/users` with HTTP Basic and the bearer form, and
//! every refusal as an RFC 9457 problem document: 400 naming the field, 401 (no, bad, unknown,
//! revoked-by-state credentials), 403 naming the missing API role or the address, 404.

use crate::helpers::*;
use portcullis::api_credential::{ApiCredentials, Draft};
use portcullis::doctor::Severity;
use portcullis::domain::{Actor, AdminId};
use std::process::Command;

struct Credential {
    identifier: String,
    secret: String,
}

/// Runs `portcullis api ARGS` on the app's database, as another process.
async fn api_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    let dir = app.dir.path().to_owned();
    let db_url = app.state.config.database_url.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env_remove("PORTCULLIS_CONFIG")
            .env("PORTCULLIS__DATA_DIR", &dir)
            .env("PORTCULLIS__DATABASE__URL", &db_url)
            .env("RUST_LOG", "warn")
            .arg("api")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Runs `portcullis api create-credential ARGS`.
async fn create_on_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    api_cli(app, &[&["create-credential"], args].concat()).await
}

fn printed(out: &std::process::Output) -> Credential {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .map_or_else(|| panic!("no {label} in {text}"), |v| v.trim().to_owned())
    };
    Credential {
        identifier: value("identifier:"),
        secret: value("secret:"),
    }
}

async fn call(
    app: &TestApp,
    path: &str,
    authorization: Option<String>,
) -> (u16, String, serde_json::Value) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.address));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, kind, json)
}

fn basic(c: &Credential) -> String {
    use base64::Engine as _;
    let pair = format!("{}:{}", c.identifier, c.secret);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn bearer(c: &Credential) -> String {
    format!("Bearer {}.{}", c.identifier, c.secret)
}

/// Asserts a problem document of `status` whose type ends in `name`; returns it.
fn problem(
    (status, kind, json): (u16, String, serde_json::Value),
    want: u16,
    name: &str,
) -> serde_json::Value {
    assert_eq!(status, want, "{json}");
    assert_eq!(kind, "application/problem+json", "{json}");
    assert_eq!(
        json["type"],
        format!("urn:portcullis:problem:{name}"),
        "{json}"
    );
    assert_eq!(json["status"], want, "{json}");
    assert!(
        json["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{json}"
    );
    json
}

/// Runs an operator's `sql` with `$1` bound to `id`.
async fn sql(app: &TestApp, sql: &'static str, id: i64) {
    sqlx::query(sql)
        .bind(id)
        .execute(&app.state.db)
        .await
        .unwrap();
}

/// A call refused with a problem document of `status` and `name` whose detail says `said`.
async fn refused(
    app: &TestApp,
    path: &str,
    authorization: Option<String>,
    (status, name): (u16, &str),
    said: &str,
) -> serde_json::Value {
    let json = problem(call(app, path, authorization).await, status, name);
    assert!(
        json["detail"].as_str().unwrap().contains(said),
        "{said:?} in {json}"
    );
    json
}

#[tokio::test]
async fn a_credential_from_the_command_line_finds_users_by_id_and_by_email() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    let ada: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let out = create_on_cli(
        &app,
        &[
            "--username",
            "root",
            "--label",
            "billing",
            "--role",
            "users.read",
        ],
    )
    .await;
    let credential = printed(&out);
    assert!(
        credential.identifier.starts_with("pc_"),
        "{}",
        credential.identifier
    );

    let (status, _, user) = call(
        &app,
        &format!("/api/v1/users/{ada}"),
        Some(basic(&credential)),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["id"], ada);
    assert_eq!(user["has_password"], true);
    assert!(user.get("password_hash").is_none(), "{user}");
    let (status, _, by_email) = call(
        &app,
        "/api/v1/users?email=ADA%40example.com",
        Some(bearer(&credential)),
    )
    .await;
    assert_eq!(status, 200, "{by_email}");
    assert_eq!(by_email["id"], ada);

    // Only the secret's hash is stored, and the creation is in the audit log.
    let (hash, last_used): (String, Option<i64>) = sqlx::query_as(
        "SELECT secret_hash, last_used_at FROM api_credentials WHERE identifier = $1",
    )
    .bind(&credential.identifier)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(hash, portcullis::token::hash(&credential.secret));
    assert!(last_used.is_some(), "a call records the last use");
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'api.credential_created'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(
        detail.contains(&credential.identifier) && detail.contains("users.read"),
        "{detail}"
    );
    assert!(!detail.contains(&credential.secret), "{detail}");
}

#[tokio::test]
async fn every_refusal_is_a_problem_document_that_names_its_cause() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let out = create_on_cli(
        &app,
        &[
            "--username",
            "root",
            "--label",
            "crm",
            "--role",
            "users.read",
        ],
    )
    .await;
    let good = printed(&out);
    let path = "/api/v1/users/1";

    refused(&app, path, None, (401, "unauthorized"), "Bearer").await;
    problem(
        call(&app, path, Some("Digest abc".into())).await,
        401,
        "unauthorized",
    );
    let wrong = problem(
        call(
            &app,
            path,
            Some(bearer(&Credential {
                identifier: good.identifier.clone(),
                secret: "x".repeat(43),
            })),
        )
        .await,
        401,
        "unauthorized",
    );
    let unknown = problem(
        call(
            &app,
            path,
            Some(bearer(&Credential {
                identifier: "pc_nobody".into(),
                secret: good.secret.clone(),
            })),
        )
        .await,
        401,
        "unauthorized",
    );
    assert_eq!(
        wrong["detail"], unknown["detail"],
        "a wrong secret and an unknown identifier read the same"
    );

    let bad_id = problem(
        call(&app, "/api/v1/users/abc", Some(bearer(&good))).await,
        400,
        "invalid_field",
    );
    assert_eq!(bad_id["field"], "id");
    assert_eq!(bad_id["allowed"], "a positive whole number");
    let no_email = problem(
        call(&app, "/api/v1/users", Some(bearer(&good))).await,
        400,
        "invalid_field",
    );
    assert_eq!(no_email["field"], "email");
    problem(
        call(&app, "/api/v1/users/999999", Some(bearer(&good))).await,
        404,
        "not_found",
    );

    // An address limit: calls from loopback are refused, naming the address.
    let out = create_on_cli(
        &app,
        &[
            "--username",
            "root",
            "--label",
            "far",
            "--role",
            "users.read",
            "--allow",
            "192.0.2.0/24",
        ],
    )
    .await;
    let far = printed(&out);
    refused(
        &app,
        path,
        Some(bearer(&far)),
        (403, "address_not_allowed"),
        "127.0.0.1",
    )
    .await;
}

#[tokio::test]
async fn a_credential_stops_with_its_admin_its_expiry_or_its_permission_and_not_with_a_password_change()
 {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let role = app
        .create_role("Integrations", &["api_access", "view_client_profile"])
        .await;
    app.create_admin_in_role("robot", role).await;
    let robot: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = 'robot'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let service = ApiCredentials::from(&app.state);
    let make = |days: Option<i64>| {
        let service = service.clone();
        async move {
            let draft = Draft {
                label: "portal".into(),
                roles: vec!["users.read".into()],
                allowed: vec![],
                expires_in_days: days,
            };
            let c = service
                .create(AdminId(robot), &draft, &Actor::Admin(AdminId(robot)))
                .await
                .unwrap();
            Credential {
                identifier: c.identifier,
                secret: c.secret,
            }
        }
    };
    let lasting = make(None).await;
    let daily = make(Some(1)).await;
    app.create_user("ada@example.com").await;
    let path = "/api/v1/users?email=ada%40example.com";
    assert_eq!(call(&app, path, Some(bearer(&lasting))).await.0, 200);

    sql(
        &app,
        "UPDATE admins SET password_hash = 'changed' WHERE id = $1",
        robot,
    )
    .await;
    assert_eq!(
        call(&app, path, Some(bearer(&lasting))).await.0,
        200,
        "a password change does not stop it"
    );

    app.clock.advance(86_400);
    problem(
        call(&app, path, Some(bearer(&daily))).await,
        401,
        "credential_expired",
    );
    assert_eq!(call(&app, path, Some(bearer(&lasting))).await.0, 200);

    sql(
        &app,
        "DELETE FROM role_permissions WHERE role_id = $1 AND permission = 'view_client_profile'",
        role,
    )
    .await;
    let missing = refused(
        &app,
        path,
        Some(bearer(&lasting)),
        (403, "missing_api_role"),
        "view_client_profile",
    )
    .await;
    assert_eq!(missing["allowed"], "users.read");

    sql(&app, "UPDATE admins SET disabled = 1 WHERE id = $1", robot).await;
    refused(
        &app,
        path,
        Some(bearer(&lasting)),
        (401, "credential_admin_not_allowed"),
        "disabled",
    )
    .await;
}

#[tokio::test]
async fn a_credential_is_refused_beyond_its_admin_or_with_bad_input_naming_the_field() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let role = app.create_role("Watchers", &["api_access"]).await;
    app.create_admin_in_role("watcher", role).await;
    let no_api = app.create_role("Clerks", &["view_client_profile"]).await;
    app.create_admin_in_role("clerk", no_api).await;
    for (args, said) in [
        (
            vec![
                "--username",
                "watcher",
                "--label",
                "x",
                "--role",
                "users.read",
            ],
            "users.read needs the view_client_profile permission",
        ),
        (
            vec![
                "--username",
                "clerk",
                "--label",
                "x",
                "--role",
                "users.read",
            ],
            "does not hold api_access",
        ),
        (
            vec![
                "--username",
                "root",
                "--label",
                "x",
                "--role",
                "users.purge",
            ],
            "\"users.purge\" is not an API role; the roles are users.read, users.write",
        ),
        (
            vec![
                "--username",
                "root",
                "--label",
                "x",
                "--role",
                "users.read",
                "--allow",
                "somewhere",
            ],
            "allowed: \"somewhere\" is not an address or a range",
        ),
        (
            vec!["--username", "root", "--label", " ", "--role", "users.read"],
            "label: give 1 to 80 characters",
        ),
        (
            vec![
                "--username",
                "root",
                "--label",
                "x",
                "--role",
                "users.read",
                "--expires-days",
                "0",
            ],
            "expires_in_days",
        ),
        (
            vec![
                "--username",
                "nobody",
                "--label",
                "x",
                "--role",
                "users.read",
            ],
            "no admin has the username \"nobody\"",
        ),
    ] {
        let out = create_on_cli(&app, &args).await;
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(err.contains(said), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_credentials")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn a_revoked_credential_is_refused_at_once_and_the_list_shows_it_without_secrets() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    app.create_admin("bob").await;
    let mine = printed(
        &create_on_cli(
            &app,
            &[
                "--username",
                "root",
                "--label",
                "billing",
                "--role",
                "users.read",
            ],
        )
        .await,
    );
    let bobs = printed(
        &create_on_cli(
            &app,
            &[
                "--username",
                "bob",
                "--label",
                "crm",
                "--role",
                "users.read",
            ],
        )
        .await,
    );
    app.create_user("ada@example.com").await;
    let path = "/api/v1/users?email=ada%40example.com";
    assert_eq!(call(&app, path, Some(bearer(&mine))).await.0, 200);

    let revoke = api_cli(
        &app,
        &["revoke-credential", "--identifier", &mine.identifier],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&revoke.stdout).contains("calls with it are refused from now on"),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    refused(
        &app,
        path,
        Some(bearer(&mine)),
        (401, "credential_revoked"),
        "revoked",
    )
    .await;
    assert_eq!(
        call(&app, path, Some(bearer(&bobs))).await.0,
        200,
        "bob's still works"
    );

    let listed = api_cli(&app, &["list-credentials"]).await;
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    let line = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not in {text}"))
            .to_owned()
    };
    assert!(line(&mine.identifier).contains("revoked"), "{text}");
    assert!(line(&mine.identifier).contains("from 127.0.0.1"), "{text}");
    assert!(line(&bobs.identifier).ends_with("live"), "{text}");
    assert!(
        !text.contains(&mine.secret) && !text.contains(&bobs.secret),
        "{text}"
    );
    let only_bob = api_cli(&app, &["list-credentials", "--username", "bob"]).await;
    let only_bob = String::from_utf8_lossy(&only_bob.stdout).into_owned();
    assert!(
        only_bob.contains(&bobs.identifier) && !only_bob.contains(&mine.identifier),
        "{only_bob}"
    );

    let again = api_cli(&app, &["revoke-credential", "--identifier", "pc_nobody"]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no live API credential"));
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'api.credential_revoked'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn the_doctor_names_credentials_of_disabled_admins_expiring_unused_or_unlimited() {
    let app = spawn_app().await;
    let check = app.doctor_check("api.credentials").await;
    assert_eq!(check.severity, Severity::Ok, "{check:?}");
    assert_eq!(check.summary, "No live API credentials.");

    app.create_admin("root").await;
    app.create_admin("bob").await;
    let id_of = |name: &'static str| {
        let db = app.state.db.clone();
        async move {
            let id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = $1")
                .bind(name)
                .fetch_one(&db)
                .await
                .unwrap();
            AdminId(id)
        }
    };
    let (root, bob) = (id_of("root").await, id_of("bob").await);
    let service = ApiCredentials::from(&app.state);
    let make = |admin: AdminId, label: &str, allowed: &[&str], days: Option<i64>| {
        let draft = Draft {
            label: label.into(),
            roles: vec!["users.read".into()],
            allowed: allowed.iter().map(|a| (*a).to_owned()).collect(),
            expires_in_days: days,
        };
        let service = service.clone();
        async move {
            service
                .create(admin, &draft, &Actor::Admin(admin))
                .await
                .unwrap()
        }
    };
    make(root, "limited", &["127.0.0.0/8"], None).await;
    let check = app.doctor_check("api.credentials").await;
    assert_eq!(check.severity, Severity::Ok, "{check:?}");
    assert!(
        check.summary.starts_with("1 live API credential"),
        "{check:?}"
    );

    make(root, "open", &[], None).await;
    let check = app.doctor_check("api.credentials").await;
    assert_eq!(check.severity, Severity::Info, "{check:?}");
    assert!(
        check
            .details
            .iter()
            .any(|d| d.contains("open") && d.contains("any address")),
        "{check:?}"
    );

    make(root, "soon", &["127.0.0.0/8"], Some(10)).await;
    let bobs = make(bob, "bobs", &["127.0.0.0/8"], None).await;
    sql(&app, "UPDATE admins SET disabled = 1 WHERE id = $1", bob.0).await;
    let check = app.doctor_check("api.credentials").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    let said = |part: &str, what: &str| {
        assert!(
            check
                .details
                .iter()
                .any(|d| d.contains(part) && d.contains(what)),
            "{part} {what} in {:?}",
            check.details
        );
    };
    said("soon", "expires");
    said(&bobs.identifier, "its admin is disabled");
    assert!(check.next_step.contains("revoke-credential"), "{check:?}");

    // Ninety-one days later: the limited one, never used, is now forgotten, and the ten-day
    // one expired.
    app.clock.advance(91 * 86_400);
    let check = app.doctor_check("api.credentials").await;
    let said = |part: &str, what: &str| {
        assert!(
            check
                .details
                .iter()
                .any(|d| d.contains(part) && d.contains(what)),
            "{part} {what} in {:?}",
            check.details
        );
    };
    said("limited", "never used for 90 days");
    said("soon", "expired");
}
