//! Client accounts shared by several users: per-account permissions, the account switcher,
//! owners managing users, ownership transfer by an admin, and isolation between accounts on
//! every client-area route.

use crate::helpers::{PASSWORD, TestApp, csrf_from, location, new_client, spawn_app};

async fn id_of(app: &TestApp, email: &'static str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn client_of(app: &TestApp, owner: i64) -> i64 {
    sqlx::query_scalar("SELECT id FROM clients WHERE owner_user_id = $1")
        .bind(owner)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn add_member(app: &TestApp, client: i64, user: i64, permissions: &'static str) {
    sqlx::query("INSERT INTO client_users (client_id, user_id, permissions, created_at) VALUES ($1, $2, $3, 0)")
        .bind(client)
        .bind(user)
        .bind(permissions)
        .execute(&app.state.db)
        .await
        .unwrap();
}

async fn signed_in(app: &TestApp, email: &str) -> reqwest::Client {
    let client = new_client();
    let r = app.client_login_with(&client, email, PASSWORD).await;
    assert_eq!(r.status(), 303);
    client.get(app.url(&location(&r))).send().await.unwrap();
    client
}

/// Ada owns A, Bob owns B ("Bobcorp"); Ada may also use B; Carol may use A with no permissions.
struct World {
    app: TestApp,
    ada: i64,
    bob: i64,
    carol: i64,
    a: i64,
    b: i64,
    /// A licence of account B, and its key.
    b_license: i64,
    b_key: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    for email in ["ada@example.com", "bob@example.com", "carol@example.com"] {
        app.create_user(email).await;
    }
    let (ada, bob, carol) = (
        id_of(&app, "ada@example.com").await,
        id_of(&app, "bob@example.com").await,
        id_of(&app, "carol@example.com").await,
    );
    let (a, b) = (client_of(&app, ada).await, client_of(&app, bob).await);
    sqlx::query("UPDATE clients SET company_name = 'Bobcorp' WHERE id = $1")
        .bind(b)
        .execute(&app.state.db)
        .await
        .unwrap();
    // Carol owns an account of her own too (create_user makes one); make A her only shared one.
    add_member(&app, b, ada, "profile,products").await;
    add_member(&app, a, carol, "").await;
    let product = portcullis::db::license::insert_product(
        &app.state.db,
        &portcullis::db::license::Product {
            id: 0,
            name: "Bobware".into(),
            key_prefix: "BOBW".into(),
            check_interval_days: 7,
            grace_days: 3,
            max_reissues: 3,
        },
        0,
    )
    .await
    .unwrap();
    let (b_license, b_key) = portcullis::license::issue(
        &app.state,
        &portcullis::license::IssueRequest {
            product_id: product,
            client_id: b,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    World {
        app,
        ada,
        bob,
        carol,
        a,
        b,
        b_license,
        b_key,
    }
}

#[tokio::test]
async fn a_user_switches_between_accounts_and_permissions_apply_per_account() {
    let w = world().await;
    let app = &w.app;
    let ada = signed_in(app, "ada@example.com").await;
    let (page, csrf) = app.form_page(&ada, "/account/switch").await;
    assert!(page.contains("Bobcorp"), "{page}");
    // Ada owns A: she manages its users.
    assert_eq!(
        ada.get(app.url("/account/users"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = app
        .post_form(
            &ada,
            "/account/switch",
            &[
                ("client_id", w.b.to_string().as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(location(&r), "/clientarea");
    let home = ada
        .get(app.url("/clientarea"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("working in the account Bobcorp"), "{home}");
    // In B she is a user with profile and products: the profile opens, the users page does not.
    assert_eq!(
        ada.get(app.url("/account/profile"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = ada.get(app.url("/account/users")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Only the owner of Bobcorp")
    );

    // Bob takes "profile" away; Ada's next request is refused with the permission named.
    let bob = signed_in(app, "bob@example.com").await;
    let (users, csrf_bob) = app.form_page(&bob, "/account/users").await;
    assert!(users.contains("ada@example.com"), "{users}");
    let r = app
        .post_form(
            &bob,
            &format!("/account/users/{}/permissions", w.ada),
            &[("products", "1"), ("csrf_token", &csrf_bob)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = ada.get(app.url("/account/profile")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("profile") && body.contains("owner can give it to you"),
        "{body}"
    );
    // Bob removes Ada: B is no longer hers, and she cannot switch back.
    let r = app
        .post_form(
            &bob,
            &format!("/account/users/{}/remove", w.ada),
            &[("csrf_token", &csrf_bob)],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        ada.get(app.url("/account/profile"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let r = app
        .post_form(
            &ada,
            "/account/switch",
            &[
                ("client_id", w.b.to_string().as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let audit: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'account.%' ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        audit,
        ["account.permissions_changed", "account.user_removed"]
    );
}

#[tokio::test]
async fn no_client_route_reads_or_changes_another_accounts_data() {
    let w = world().await;
    let app = &w.app;
    // Carol works in A (switch there: her own account is first otherwise) with no permissions.
    let carol = signed_in(app, "carol@example.com").await;
    let (_, csrf) = app.form_page(&carol, "/account/switch").await;
    app.post_form(
        &carol,
        "/account/switch",
        &[
            ("client_id", w.a.to_string().as_str()),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    let source = include_str!("../../src/web/routes.rs");
    let mut checked = 0;
    for line in source
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(".route(\""))
    {
        let path = line[8..].split('"').next().unwrap();
        if !(path.starts_with("/account/") || path == "/clientarea")
            || path == "/account/impersonation/end"
        {
            continue;
        }
        // Point every id at account B's people.
        let concrete = path
            .replace("{user_id}", &w.ada.to_string())
            .replace("{license_id}", &w.b_license.to_string());
        let handlers = line.split("//").next().unwrap();
        for method in ["GET", "POST"] {
            if !handlers.contains(&format!("{}(", method.to_lowercase())) {
                continue;
            }
            let request = if method == "GET" {
                carol.get(app.url(&concrete))
            } else {
                carol.post(app.url(&concrete)).form(&[
                    ("csrf_token", csrf.as_str()),
                    ("client_id", w.b.to_string().as_str()),
                    ("company_name", "Pwned"),
                    ("products", "1"),
                ])
            };
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert!(
                !body.contains("Bobcorp")
                    && !body.contains("bob@example.com")
                    && !body.contains(&w.b_key)
                    && !body.contains("Bobware"),
                "{method} {path} ({status}) leaked account B: {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} route methods checked");
    // B is unchanged: name, owner, users and their permissions.
    let (name, owner): (String, i64) =
        sqlx::query_as("SELECT company_name, owner_user_id FROM clients WHERE id = $1")
            .bind(w.b)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((name.as_str(), owner), ("Bobcorp", w.bob));
    let perms: String = sqlx::query_scalar(
        "SELECT permissions FROM client_users WHERE client_id = $1 AND user_id = $2",
    )
    .bind(w.b)
    .bind(w.ada)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(perms, "profile,products");
    let reissues: i64 = sqlx::query_scalar("SELECT reissues FROM licenses WHERE id = $1")
        .bind(w.b_license)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(reissues, 0, "B's licence was not reissued from A");
    // And A's data was not changed by someone without the permission either.
    let a_name: Option<String> =
        sqlx::query_scalar("SELECT company_name FROM clients WHERE id = $1")
            .bind(w.a)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_ne!(a_name.as_deref(), Some("Pwned"));
    let _ = w.carol;
}

#[tokio::test]
async fn only_an_admin_transfers_ownership_and_only_to_a_user_of_the_account() {
    let w = world().await;
    let app = &w.app;
    let root = app.create_admin("root").await;
    app.admin_login(&root).await;
    let (page, csrf) = app
        .form_page(&app.client, &format!("/admin/clients/{}", w.a))
        .await;
    assert!(page.contains("carol@example.com"), "{page}");
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/clients/{}/transfer", w.a),
            &[
                ("user_id", w.bob.to_string().as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 400, "Bob is not a user of A");
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/clients/{}/transfer", w.a),
            &[
                ("user_id", w.carol.to_string().as_str()),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let owner: i64 = sqlx::query_scalar("SELECT owner_user_id FROM clients WHERE id = $1")
        .bind(w.a)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(owner, w.carol);
    let ada_perms: String = sqlx::query_scalar(
        "SELECT permissions FROM client_users WHERE client_id = $1 AND user_id = $2",
    )
    .bind(w.a)
    .bind(w.ada)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(
        ada_perms.contains("manage_products"),
        "the old owner keeps every permission: {ada_perms}"
    );
    // The client area has no way to transfer ownership at all.
    let list = app.get("/admin/clients?q=ada").await.text().await.unwrap();
    assert!(
        list.contains("ada@example.com") || list.contains("carol@example.com"),
        "{list}"
    );
    let _ = csrf_from;
}
