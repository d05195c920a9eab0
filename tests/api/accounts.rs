//! Client accounts shared by several users: per-account permissions, the account switcher,
//! owners managing users, ownership transfer by an admin, and isolation between accounts on
//! every client-area route.

use crate::helpers::{PASSWORD, TestApp, bar_links, location, spawn_app};

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
    // Bob names his account on its profile page.
    let bob_browser = app.signed_in_client("bob@example.com").await;
    let (_, csrf) = app.form_page(&bob_browser, "/account/profile").await;
    let r = app
        .post_form(
            &bob_browser,
            "/account/profile",
            &[("company_name", "Bobcorp"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    app.sign_out(&bob_browser, "/logout", &csrf).await;
    // Carol owns an account of her own too (create_user makes one); make A her only shared one.
    app.add_to_account(
        "bob@example.com",
        "ada@example.com",
        &["profile", "products"],
    )
    .await;
    app.add_to_account("ada@example.com", "carol@example.com", &[])
        .await;
    let product = portcullis::license::Licenses::from(&app.state)
        .create_product(
            portcullis::domain::AdminId(1),
            &portcullis::license::ProductDraft {
                name: "Bobware",
                key_prefix: "BOBW",
                check_interval_days: "7",
                grace_days: "3",
                max_reissues: "3",
            },
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
    let ada = app.signed_in_client("ada@example.com").await;
    let (page, csrf) = app.form_page(&ada, "/account/switch").await;
    assert!(page.contains("Bobcorp"), "{page}");
    // Ada owns A: she manages its users.
    assert_eq!(app.status_with(&ada, "/account/users").await, 200);
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
    let home = app.text_with(&ada, "/clientarea").await;
    assert!(home.contains("working in the account Bobcorp"), "{home}");
    // In B she is a user with profile and products: the profile opens, the users page does not.
    assert_eq!(app.status_with(&ada, "/account/profile").await, 200);
    let r = ada.get(app.url("/account/users")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Only the owner of Bobcorp")
    );

    // Bob takes "profile" away; Ada's next request is refused with the permission named.
    let bob = app.signed_in_client("bob@example.com").await;
    let (users, csrf_bob) = app.form_page(&bob, "/account/users").await;
    assert!(users.contains("ada@example.com"), "{users}");
    let r = app
        .post_form(
            &bob,
            &format!("/account/users/{}/permissions", w.ada),
            &[("products", "1"), ("csrf_token", &csrf_bob)],
        )
        .await;
    assert_eq!(location(&r), "/account/users?saved=1");
    let saved = app.text_with(&bob, &location(&r)).await;
    assert!(saved.contains("Saved."), "{saved}");
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
    assert_eq!(app.status_with(&ada, "/account/profile").await, 403);
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
    // The world's two memberships (invited, joined, permissions set), then Bob's two changes.
    let joined = [
        "account.user_invited",
        "account.invitation_accepted",
        "account.permissions_changed",
    ];
    let changes = ["account.permissions_changed", "account.user_removed"];
    assert_eq!(audit, [&joined[..], &joined, &changes].concat());
}

#[tokio::test]
async fn the_bar_links_only_the_pages_the_active_account_opens_to_this_user() {
    let w = world().await;
    let app = &w.app;
    let bar = |client: reqwest::Client| async move {
        bar_links(&app.text_with(&client, "/clientarea").await)
    };
    let own = [
        "/clientarea",
        "/account/sessions",
        "/account/users",
        "/account/licenses",
        "/account/profile",
        "/account/switch",
        "/account/email",
        "/account/password",
        "/account/security",
    ];
    // Ada owns A: every page.
    let ada = app.signed_in_client("ada@example.com").await;
    assert_eq!(bar(ada.clone()).await, own);
    // In B she has profile and products: no users page.
    app.switch_account(&ada, w.b).await;
    let in_b = bar(ada.clone()).await;
    assert_eq!(
        in_b,
        own.iter()
            .filter(|p| **p != "/account/users")
            .copied()
            .collect::<Vec<_>>()
    );
    // Every link offered opens.
    for path in &in_b {
        let r = ada.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // Carol in A with no permissions: her own pages and the switcher only.
    let carol = app.signed_in_client("carol@example.com").await;
    app.switch_account(&carol, w.a).await;
    assert_eq!(
        bar(carol).await,
        [
            "/clientarea",
            "/account/sessions",
            "/account/switch",
            "/account/email",
            "/account/password",
            "/account/security",
        ]
    );
}

#[tokio::test]
async fn no_client_route_reads_or_changes_another_accounts_data() {
    let w = world().await;
    let app = &w.app;
    // Carol works in A (switch there: her own account is first otherwise) with no permissions.
    let carol = app.signed_in_client("carol@example.com").await;
    let csrf = app.switch_account(&carol, w.a).await;
    let mut checked = 0;
    for (method, path) in client_routes() {
        if !(path.starts_with("/account/") || path == "/clientarea")
            || path == "/account/impersonation/end"
        {
            continue;
        }
        // Point every id at account B's people.
        let concrete = path
            .replace("{user_id}", &w.ada.to_string())
            .replace("{license_id}", &w.b_license.to_string());
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

/// Client routes outside the client area proper: public pages, sign-in and its second step, and
/// one-time links (where holding the token is the authorisation). Every other client route is
/// walked by the isolation tests, which fail for a route in neither place.
const OUTSIDE_THE_CLIENT_AREA: [&str; 25] = [
    "/",
    "/healthz",
    "/static/portcullis.css",
    "/static/webauthn.js",
    "/static/password.js",
    "/login",
    "/logout",
    "/register",
    "/password/reset",
    "/password/reset/{token}",
    "/verify-email/{token}",
    "/email/revert/{token}",
    "/invite/{token}",
    // Single sign-on links, and where one lands (a local path, after the sign-in;
    // tests/api/sso_tokens.rs).
    "/sso/{token}",
    "/sso/continue",
    "/login/2fa",
    "/login/2fa/cancel",
    "/login/2fa/enrol",
    "/login/2fa/webauthn/options",
    "/login/2fa/webauthn",
    "/login/2fa/duo",
    "/login/2fa/duo/callback",
    // Forward authentication: the proxies' endpoints answer a status and identity headers about
    // the signed-in person only; the round trip redirects (tests/api/forward_auth.rs).
    "/forward-auth/nginx",
    "/forward-auth/proxy",
    "/forward-auth/signin",
];

/// Every `(method, path)` of the route table outside `/admin`, `/api/` and the OpenID
/// provider's protocol endpoints under `/oidc/` and `/.well-known/` (which show no account's
/// data; their own tests are tests/api/oidc_*.rs).
fn client_routes() -> Vec<(&'static str, &'static str)> {
    portcullis::web::routes::table()
        .into_iter()
        .filter(|r| !(r.path == "/admin" || r.path.starts_with("/admin/")))
        .filter(|r| !r.path.starts_with("/api/"))
        .filter(|r| !r.path.starts_with("/oidc/") && !r.path.starts_with("/.well-known/"))
        .map(|r| (r.method.as_str(), r.path))
        .collect()
}

/// What account B has, as rows: its name and owner, its users, its licence, its owner's
/// sessions and security key, and every invitation link issued so far (B's, at the time).
async fn account_b_rows(w: &World, tokens: &[String]) -> Vec<String> {
    let db = &w.app.state.db;
    let mut rows = Vec::new();
    let client: (String, i64) =
        sqlx::query_as("SELECT company_name, owner_user_id FROM clients WHERE id = $1")
            .bind(w.b)
            .fetch_one(db)
            .await
            .unwrap();
    rows.push(format!("client {client:?}"));
    let users: Vec<(i64, String)> = sqlx::query_as(
        "SELECT user_id, permissions FROM client_users WHERE client_id = $1 ORDER BY user_id",
    )
    .bind(w.b)
    .fetch_all(db)
    .await
    .unwrap();
    rows.push(format!("users {users:?}"));
    let licenses: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT id, key_hash, status, domains, reissues FROM licenses WHERE client_id = $1 ORDER BY id",
    )
    .bind(w.b)
    .fetch_all(db)
    .await
    .unwrap();
    rows.push(format!("licences {licenses:?}"));
    let sessions: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT id_hash, ended_at FROM sessions WHERE realm = 'client' AND subject_id = $1 ORDER BY id_hash",
    )
    .bind(w.bob)
    .fetch_all(db)
    .await
    .unwrap();
    rows.push(format!("sessions {sessions:?}"));
    let keys: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, name FROM webauthn_keys WHERE realm = 'client' AND subject_id = $1 ORDER BY id",
    )
    .bind(w.bob)
    .fetch_all(db)
    .await
    .unwrap();
    rows.push(format!("keys {keys:?}"));
    for hash in tokens {
        let token: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT purpose, used_at FROM one_time_tokens WHERE token_hash = $1")
                .bind(hash)
                .fetch_optional(db)
                .await
                .unwrap();
        rows.push(format!("token {token:?}"));
    }
    rows
}

#[tokio::test]
async fn an_owner_with_every_permission_reaches_no_other_accounts_data_on_any_client_route() {
    let w = world().await;
    let app = &w.app;
    // Ada owns A, so she holds every permission there; for this test she is no user of B: Bob
    // removes her.
    let bob = app.signed_in_client("bob@example.com").await;
    let (_, bob_csrf) = app.form_page(&bob, "/account/users").await;
    let r = app
        .post_form(
            &bob,
            &format!("/account/users/{}/remove", w.ada),
            &[("csrf_token", &bob_csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    // B has a user of its own, a pending invitation, and a signed-in owner with a security key.
    app.create_user("erin@example.com").await;
    let erin = id_of(app, "erin@example.com").await;
    app.add_to_account("bob@example.com", "erin@example.com", &["profile"])
        .await;
    let r = app
        .post_form(
            &bob,
            "/account/users/invite",
            &[("email", "frank@example.com"), ("csrf_token", &bob_csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let tokens: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM one_time_tokens")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(!tokens.is_empty(), "Bob's invitation is stored");
    // Raw SQL: registering a real key needs a localhost System URL, which this world lacks.
    let bob_key: i64 = sqlx::query_scalar(
        "INSERT INTO webauthn_keys (realm, subject_id, name, credential_id, passkey, created_at) \
         VALUES ('client', $1, 'Bobkey-7', 'bob-credential', '{}', 0) RETURNING id",
    )
    .bind(w.bob)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let bob_session: String = sqlx::query_scalar(
        "SELECT id_hash FROM sessions WHERE realm = 'client' AND subject_id = $1 AND ended_at IS NULL",
    )
    .bind(w.bob)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let before = account_b_rows(&w, &tokens).await;

    // Ada works in A (her own account is her only one now) and has stepped up, so the
    // security pages act rather than ask for her password.
    let ada = app.signed_in_client("ada@example.com").await;
    crate::helpers::otp::step_up(app, &ada, "/account/security", PASSWORD).await;
    let (_, csrf) = app.form_page(&ada, "/account/switch").await;
    let (b, erin_id, bob_id, key, license) = (
        w.b.to_string(),
        erin.to_string(),
        w.bob.to_string(),
        bob_key.to_string(),
        w.b_license.to_string(),
    );
    // Every field a client-area form takes, each naming something of B's.
    let aimed_at_b: Vec<(&str, &str)> = vec![
        ("csrf_token", &csrf),
        ("client_id", &b),
        ("user_id", &erin_id),
        ("session", &bob_session),
        ("id", &key),
        ("license_id", &license),
        ("company_name", "Pwned"),
        ("email", "pwned@example.com"),
    ];
    // The member-permission form takes only permission names: every one of them.
    let mut every_permission: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
    every_permission.extend(
        portcullis::auth::client_permission::ClientPermission::ALL.map(|p| (p.as_str(), "1")),
    );
    let secrets = [
        "Bobcorp",
        "bob@example.com",
        "erin@example.com",
        "frank@example.com",
        "Bobware",
        "Bobkey-7",
        w.b_key.as_str(),
        bob_session.as_str(),
    ];

    let mut problems = Vec::new();
    let mut checked = 0;
    for (method, path) in client_routes() {
        if OUTSIDE_THE_CLIENT_AREA.contains(&path) {
            continue;
        }
        if !(path.starts_with("/account/") || path == "/clientarea") {
            problems.push(format!(
                "{method} {path} is not walked: add it here or to the list"
            ));
            continue;
        }
        let targets: Vec<String> = if path.contains("{user_id}") {
            [&bob_id, &erin_id]
                .iter()
                .map(|id| path.replace("{user_id}", id))
                .collect()
        } else if path.contains("{license_id}") {
            vec![path.replace("{license_id}", &license)]
        } else if path.contains('{') {
            problems.push(format!(
                "{method} {path} takes an id this test does not aim at B"
            ));
            continue;
        } else {
            vec![path.to_owned()]
        };
        // A page is asked for as it is and with B's ids in its query; a form is posted with B's
        // ids and with every permission name.
        let bodies: Vec<(&str, &[(&str, &str)])> = if method == "GET" {
            vec![("nothing", &[]), ("B's ids", &aimed_at_b[1..])]
        } else {
            vec![
                ("B's ids", &aimed_at_b[..]),
                ("every permission", &every_permission[..]),
            ]
        };
        for concrete in &targets {
            for (label, fields) in &bodies {
                let request = if method == "GET" {
                    let query = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(fields.iter())
                        .finish();
                    ada.get(app.url(&format!("{concrete}?{query}")))
                } else {
                    ada.post(app.url(concrete)).form(fields)
                };
                let r = request.send().await.unwrap();
                let (status, to) = (r.status().as_u16(), location(&r));
                let body = r.text().await.unwrap();
                checked += 1;
                let what = format!("{method} {concrete} with {label} -> {status} {to}");
                if let Some(secret) = secrets.iter().find(|s| body.contains(**s)) {
                    problems.push(format!("{what} shows B's {secret:?}: {body}"));
                }
                if to.starts_with("/login") {
                    problems.push(format!("{what}: the walk lost its session"));
                }
                // Refused for the id, not for a permission: A's owner holds them all.
                let expected: &[u16] = if path.contains("{license_id}")
                    || (path.contains("{user_id}") && *label == "every permission")
                {
                    &[404]
                } else if path.contains("{user_id}") {
                    &[400, 404]
                } else if path == "/account/switch" && method == "POST" {
                    &[403]
                } else {
                    &[]
                };
                if !expected.is_empty() && !expected.contains(&status) {
                    problems.push(format!("{what}, expected {expected:?}: {body}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(checked >= 45, "{checked} requests");

    // Ada is still signed in to A, and B is exactly as it was, in the database and to Bob.
    let r = ada.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(account_b_rows(&w, &tokens).await, before);
    let users = app.text_with(&bob, "/account/users").await;
    assert!(users.contains("erin@example.com"), "{users}");
    let licences = app.text_with(&bob, "/account/licenses").await;
    assert!(licences.contains(&w.b_key), "{licences}");
    let profile = app.text_with(&bob, "/account/profile").await;
    assert!(
        profile.contains("Bobcorp") && !profile.contains("Pwned"),
        "{profile}"
    );
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

    // The client area has no way to transfer ownership: no client route is about it, and Ada,
    // who kept every permission in A, cannot take A back with anything a client might try.
    for (method, path) in client_routes() {
        assert!(
            !path.contains("transfer") && !path.contains("owner"),
            "{method} {path} looks like a client-side transfer"
        );
    }
    let ada = app.signed_in_client("ada@example.com").await;
    let (_, csrf) = app.form_page(&ada, "/account/switch").await;
    let (a, ada_id) = (w.a.to_string(), w.ada.to_string());
    let r = app
        .post_form(
            &ada,
            "/account/switch",
            &[("client_id", a.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(location(&r), "/clientarea");
    let claim = [
        ("csrf_token", csrf.as_str()),
        ("client_id", a.as_str()),
        ("user_id", ada_id.as_str()),
        ("owner_user_id", ada_id.as_str()),
        ("company_name", "Ada's again"),
    ];
    for path in [
        "/account/transfer".to_owned(),
        "/account/owner".to_owned(),
        format!("/account/users/{}/transfer", w.ada),
        format!("/account/users/{}/owner", w.ada),
        format!("/clients/{}/transfer", w.a),
    ] {
        let r = app.post_form(&ada, &path, &claim).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    // The profile form saves the name and ignores an owner field.
    let r = app.post_form(&ada, "/account/profile", &claim).await;
    assert_eq!(location(&r), "/account/profile?saved=1");
    let saved = app.text_with(&ada, &location(&r)).await;
    assert!(
        saved.contains("Saved.") && saved.contains("Ada&#39;s again"),
        "{saved}"
    );
    let (name, owner): (String, i64) =
        sqlx::query_as("SELECT company_name, owner_user_id FROM clients WHERE id = $1")
            .bind(w.a)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((name.as_str(), owner), ("Ada's again", w.carol));
    let r = ada.get(app.url("/account/users")).send().await.unwrap();
    assert_eq!(r.status(), 403, "Ada is no longer A's owner");
}
