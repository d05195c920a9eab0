//! The licensing server over HTTP: products and licences issued from the admin pages, signed
//! verify answers checked with the published keys, first-check binding, moved installations
//! named by what moved (F04), reissue and its limit, statuses, key rotation, the access log,
//! rate limits and bad requests.

use crate::helpers::*;
use license_verifier::protocol::{
    KeyList, SignedAnswer, Status, VERIFY_PATH, VerifyRequest, Which,
};

/// An admin signed in with the app's client; a product "Acme Panel" (prefix ACME, at most
/// `max_reissues`) and a licence for Ada's account issued through the admin pages.
async fn issued(app: &TestApp, max_reissues: &str, preset_domain: &str) -> (i64, String) {
    let admin = app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    app.admin_login(&admin).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/licenses").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/licenses/products",
            &[
                ("name", "Acme Panel"),
                ("key_prefix", "acme"),
                ("check_interval_days", "7"),
                ("grace_days", "3"),
                ("max_reissues", max_reissues),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (html, csrf) = app.form_page(&app.client, "/admin/licenses").await;
    let product = html
        .split("<option value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the product is offered")
        .to_owned();
    let client: i64 = sqlx::query_scalar("SELECT id FROM clients LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let r = app
        .post_form(
            &app.client,
            "/admin/licenses",
            &[
                ("product_id", product.as_str()),
                ("client_id", client.to_string().as_str()),
                ("domains", preset_domain),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let page = location(&r);
    let id: i64 = page.rsplit('/').next().unwrap().parse().unwrap();
    let html = app.get(&page).await.text().await.unwrap();
    let key = html
        .split("<code id=\"license-key\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    assert!(key.starts_with("ACME-"), "{key}");
    license_verifier::key::validate(&key).expect("a well-formed key");
    (id, key)
}

fn request(key: &str, domain: &str, ip: &str, directory: &str) -> VerifyRequest {
    VerifyRequest {
        key: key.into(),
        domain: domain.into(),
        ip: ip.into(),
        directory: directory.into(),
        nonce: format!("nonce-{domain}-{ip}-{directory}"),
        verifier_version: "test/1".into(),
    }
}

async fn keys(app: &TestApp) -> KeyList {
    let r = reqwest::get(app.url("/api/license/v1/keys")).await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Posts a check and verifies the signed answer with the published keys.
async fn check(app: &TestApp, req: &VerifyRequest) -> license_verifier::protocol::Answer {
    let r = reqwest::Client::new()
        .post(app.url(VERIFY_PATH))
        .json(req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let signed: SignedAnswer = r.json().await.unwrap();
    let answer = signed
        .verify(&keys(app).await.keys)
        .expect("a valid signature");
    assert_eq!(answer.nonce, req.nonce, "the nonce is echoed");
    answer
}

#[tokio::test]
async fn f04_the_first_check_binds_and_a_moved_domain_ip_or_directory_is_named() {
    let app = spawn_app().await;
    let (id, key) = issued(&app, "3", "").await;
    let home = request(&key, "Shop.Example.com.", "203.0.113.10", "/var/www/panel/");
    let first = check(&app, &home).await;
    assert_eq!(first.status, Status::Active);
    assert_eq!(first.bindings.domains, ["shop.example.com"]);
    assert_eq!(first.bindings.ips, ["203.0.113.10"]);
    assert_eq!(first.bindings.directories, ["/var/www/panel"]);
    assert_eq!(first.product, "Acme Panel");
    assert_eq!(first.next_check_due - first.issued_at, 7 * 86_400);
    assert_eq!(first.grace_until - first.next_check_due, 3 * 86_400);
    assert_eq!(first.reissues_left, Some(3));
    // Lowercase typing of the key is forgiven; the same place is still valid.
    let again = check(
        &app,
        &request(
            &key.to_lowercase(),
            "shop.example.com",
            "203.0.113.10",
            "/var/www/panel",
        ),
    )
    .await;
    assert_eq!(again.status, Status::Active);

    for (moved, which, presented) in [
        (
            request(&key, "www.example.org", "203.0.113.10", "/var/www/panel"),
            Which::Domain,
            "www.example.org",
        ),
        (
            request(&key, "shop.example.com", "198.51.100.4", "/var/www/panel"),
            Which::Ip,
            "198.51.100.4",
        ),
        (
            request(&key, "shop.example.com", "203.0.113.10", "/home/shop/panel"),
            Which::Directory,
            "/home/shop/panel",
        ),
    ] {
        let answer = check(&app, &moved).await;
        assert_eq!(answer.status, Status::BindingMismatch);
        let m = answer.mismatch.expect("the mismatch is named");
        assert_eq!(m.which, which);
        assert_eq!(m.presented, presented);
        assert_eq!(m.allowed.len(), 1);
        assert!(
            answer.reissue_url.ends_with("/account/licenses"),
            "{}",
            answer.reissue_url
        );
    }

    // The access log shows every check with what was presented.
    let html = app
        .get(&format!("/admin/licenses/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("binding_mismatch: domain www.example.org"),
        "{html}"
    );
    assert!(html.contains("shop.example.com · 203.0.113.10 · /var/www/panel"));
}

#[tokio::test]
async fn f04_the_owner_reissues_the_next_check_rebinds_and_the_limit_holds() {
    let app = spawn_app().await;
    let (_, key) = issued(&app, "1", "").await;
    check(
        &app,
        &request(&key, "old.example.com", "203.0.113.10", "/srv/app"),
    )
    .await;
    let moved = request(&key, "new.example.com", "198.51.100.7", "/srv/app");
    assert_eq!(check(&app, &moved).await.status, Status::BindingMismatch);

    // Ada (the owner) sees the licence with its key and reissues it.
    let ada = app.signed_in_client("ada@example.com").await;
    let (html, csrf) = app.form_page(&ada, "/account/licenses").await;
    assert!(html.contains(&key), "the owner reads the key");
    assert!(
        html.contains("old.example.com (bound by a check)"),
        "{html}"
    );
    let id: i64 = sqlx::query_scalar("SELECT id FROM licenses")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let r = app
        .post_form(
            &ada,
            &format!("/account/licenses/{id}/reissue"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let answer = check(&app, &moved).await;
    assert_eq!(
        answer.status,
        Status::Active,
        "the next check binds the new place"
    );
    assert_eq!(answer.bindings.domains, ["new.example.com"]);
    assert_eq!(answer.reissues_left, Some(0));

    // The product allows one reissue: a second is refused with the reason.
    let (_, csrf) = app.form_page(&ada, "/account/licenses").await;
    let r = app
        .post_form(
            &ada,
            &format!("/account/licenses/{id}/reissue"),
            &[("csrf_token", &csrf)],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("already reissued 1 times"), "{html}");
    let domains: String = sqlx::query_scalar("SELECT domains FROM licenses")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        domains, "new.example.com",
        "a refused reissue keeps the bindings"
    );
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'license.reissued'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn preset_bindings_statuses_unknown_and_malformed_keys_are_all_signed_verdicts() {
    let app = spawn_app().await;
    let (id, key) = issued(&app, "3", "licensed.example.com").await;
    let elsewhere = check(
        &app,
        &request(&key, "first.example.com", "203.0.113.1", "/a"),
    )
    .await;
    assert_eq!(
        elsewhere.status,
        Status::BindingMismatch,
        "a preset domain is not bound over"
    );
    let home = request(&key, "licensed.example.com", "203.0.113.1", "/a");
    assert_eq!(check(&app, &home).await.status, Status::Active);

    // Suspended, then expired by date, from the admin page.
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    app.post_form(
        &app.client,
        &format!("/admin/licenses/{id}"),
        &[("status", "suspended"), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(check(&app, &home).await.status, Status::Suspended);
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    app.post_form(
        &app.client,
        &format!("/admin/licenses/{id}"),
        &[
            ("status", "active"),
            ("expires", "2026-11-30"),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    assert_eq!(check(&app, &home).await.status, Status::Active);
    app.clock.advance(3 * 86_400);
    let expired = check(&app, &home).await;
    assert_eq!(expired.status, Status::Expired);
    assert_eq!(
        expired.expires_at,
        Some(1_796_083_200),
        "the end of 30 November, UTC"
    );

    // A key nobody issued, and a mistyped one.
    let mut other: Vec<char> = key.chars().collect();
    let unknown = license_verifier::key::compose("ACME", &[1; 20]).unwrap();
    assert_eq!(
        check(&app, &request(&unknown, "a.example", "203.0.113.1", "/"))
            .await
            .status,
        Status::Unknown
    );
    let last = other.len() - 2;
    other[last] = if other[last] == 'A' { 'B' } else { 'A' };
    let typo: String = other.into_iter().collect();
    assert_eq!(
        check(&app, &request(&typo, "a.example", "203.0.113.1", "/"))
            .await
            .status,
        Status::Malformed
    );
}

#[tokio::test]
async fn a_check_from_the_wrong_domain_binds_nothing_and_the_right_one_binds_its_own_place() {
    let app = spawn_app().await;
    let (_, key) = issued(&app, "3", "licensed.example.com").await;
    let wrong = check(
        &app,
        &request(&key, "elsewhere.example.com", "198.51.100.66", "/tmp/x"),
    )
    .await;
    assert_eq!(wrong.status, Status::BindingMismatch);
    assert_eq!(wrong.mismatch.expect("named").which, Which::Domain);
    let (ips, directories): (String, String) =
        sqlx::query_as("SELECT ips, directories FROM licenses")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        (ips.as_str(), directories.as_str()),
        ("", ""),
        "a refused check binds nothing"
    );
    let right = check(
        &app,
        &request(&key, "licensed.example.com", "203.0.113.77", "/srv/panel"),
    )
    .await;
    assert_eq!(right.status, Status::Active);
    assert_eq!(right.bindings.ips, ["203.0.113.77"]);
    assert_eq!(right.bindings.directories, ["/srv/panel"]);
    assert_eq!(right.bindings.domains, ["licensed.example.com"]);
}

#[tokio::test]
async fn an_admin_reissue_stops_at_the_maximum_and_raising_it_on_the_product_allows_another() {
    let app = spawn_app().await;
    let (id, key) = issued(&app, "1", "").await;
    let place = request(&key, "one.example.com", "203.0.113.10", "/srv");
    check(&app, &place).await;
    let reissue = |csrf: String| {
        let app = &app;
        async move {
            app.post_form(
                &app.client,
                &format!("/admin/licenses/{id}/reissue"),
                &[("csrf_token", csrf.as_str())],
            )
            .await
        }
    };
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    let r = reissue(csrf).await;
    assert_eq!(r.status(), 303, "the first reissue is allowed");
    let (html, csrf) = app
        .form_page(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    assert!(html.contains("1 of at most 1"), "{html}");
    let r = reissue(csrf).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Raise the product&#39;s maximum"), "{html}");
    let reissues: i64 = sqlx::query_scalar("SELECT reissues FROM licenses")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(reissues, 1, "a refused reissue is not counted");

    // The product's edit form: the key prefix is shown but not editable.
    let product: i64 = sqlx::query_scalar("SELECT id FROM license_products")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let edit = format!("/admin/licenses/products/{product}");
    let (html, csrf) = app.form_page(&app.client, &edit).await;
    assert!(html.contains("<code>ACME</code>"), "{html}");
    assert!(!html.contains("name=\"key_prefix\""), "{html}");
    // A bad value is refused with the field named, and nothing changes.
    let r = app
        .post_form(
            &app.client,
            &edit,
            &[
                ("name", "Acme Panel"),
                ("check_interval_days", "7"),
                ("grace_days", "many"),
                ("max_reissues", "2"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Grace period"));
    let max: i64 = sqlx::query_scalar("SELECT max_reissues FROM license_products")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(max, 1);
    let r = app
        .post_form(
            &app.client,
            &edit,
            &[
                ("name", "Acme Panel Pro"),
                ("check_interval_days", "14"),
                ("grace_days", "5"),
                ("max_reissues", "2"),
                ("key_prefix", "EVIL"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (name, prefix, interval, grace, max): (String, String, i64, i64, i64) = sqlx::query_as(
        "SELECT name, key_prefix, check_interval_days, grace_days, max_reissues FROM license_products",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        (name.as_str(), prefix.as_str(), interval, grace, max),
        ("Acme Panel Pro", "ACME", 14, 5, 2),
        "the prefix stays whatever the form sends"
    );
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'license.product_updated'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(detail.contains("at most 2 reissues (was Acme Panel: check every 7 days, 3 days' grace, at most 1 reissues)"), "{detail}");

    // The raised maximum allows another reissue, and the new schedule is in the next answer.
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    assert_eq!(reissue(csrf).await.status(), 303);
    let answer = check(
        &app,
        &request(&key, "two.example.com", "203.0.113.11", "/srv"),
    )
    .await;
    assert_eq!(answer.status, Status::Active);
    assert_eq!(answer.bindings.domains, ["two.example.com"]);
    assert_eq!(answer.reissues_left, Some(0));
    assert_eq!(answer.product, "Acme Panel Pro");
    assert_eq!(answer.next_check_due - answer.issued_at, 14 * 86_400);
    assert_eq!(answer.grace_until - answer.next_check_due, 5 * 86_400);
}

#[tokio::test]
async fn a_new_key_is_published_first_then_signs_and_the_old_one_stays_published() {
    let app = spawn_app().await;
    let (_, key) = issued(&app, "3", "").await;
    let req = request(&key, "shop.example.com", "203.0.113.10", "/srv");
    let before = check(&app, &req).await;
    let old_keys = keys(&app).await;
    assert_eq!(old_keys.keys.len(), 1);
    let (_, csrf) = app.form_page(&app.client, "/admin/licenses").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/licenses/keys/add",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let with_new = keys(&app).await;
    assert_eq!(with_new.keys.len(), 2, "the new key is published at once");
    let new_id = with_new
        .keys
        .iter()
        .find(|k| k.key_id != before.key_id)
        .unwrap()
        .key_id
        .clone();
    assert_eq!(
        check(&app, &req).await.key_id,
        before.key_id,
        "but it does not sign yet"
    );
    let (html, csrf) = app.form_page(&app.client, "/admin/licenses").await;
    assert!(html.contains("published, not signing yet"));
    let r = app
        .post_form(
            &app.client,
            "/admin/licenses/keys/activate",
            &[("key_id", new_id.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let after = check(&app, &req).await;
    assert_eq!(after.key_id, new_id);
    let published = keys(&app).await;
    assert_eq!(published.keys.len(), 2);
    assert!(
        published.keys.iter().any(|k| k.key_id == before.key_id),
        "the old key stays published"
    );
    // A verifier that pinned only the old key refuses the new answers; one that shipped the new
    // key in time accepts them.
    let r = reqwest::Client::new()
        .post(app.url(VERIFY_PATH))
        .json(&req)
        .send()
        .await
        .unwrap();
    let signed: SignedAnswer = r.json().await.unwrap();
    assert!(signed.verify(&old_keys.keys).is_err());
    assert!(signed.verify(&with_new.keys).is_ok());
}

#[tokio::test]
async fn checks_are_rate_limited_per_key_and_bad_requests_are_clear() {
    let app = spawn_app().await;
    let (_, key) = issued(&app, "3", "").await;
    let http = reqwest::Client::new();
    let req = request(&key, "shop.example.com", "203.0.113.10", "/srv");
    for _ in 0..10 {
        let r = http
            .post(app.url(VERIFY_PATH))
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http
        .post(app.url(VERIFY_PATH))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    app.clock.advance(61);
    let r = http
        .post(app.url(VERIFY_PATH))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the limit is per minute");

    let r = http
        .post(app.url(VERIFY_PATH))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("JSON verify request")
    );
    let mut missing = req.clone();
    missing.domain = String::new();
    missing.directory = " ".into();
    let r = http
        .post(app.url(VERIFY_PATH))
        .json(&missing)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("missing: domain, directory"),
        "{body}"
    );

    // The API needs no session or CSRF token and answers on another host name too.
    let other_host = app.url(VERIFY_PATH).replace("127.0.0.1", "localhost");
    let r = http
        .post(other_host)
        .header("origin", "https://evil.example")
        .json(&request(&key, "x.example", "203.0.113.9", "/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn licence_pages_need_their_permissions() {
    let app = spawn_app().await;
    let (_, key) = issued(&app, "3", "").await;
    // Carol works in Ada's account without the products permission.
    app.create_user("carol@example.com").await;
    let (ada_account, carol): (i64, i64) = (
        sqlx::query_scalar("SELECT c.id FROM clients c JOIN users u ON u.id = c.owner_user_id WHERE u.email = 'ada@example.com'").fetch_one(&app.state.db).await.unwrap(),
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'carol@example.com'").fetch_one(&app.state.db).await.unwrap(),
    );
    app.add_to_account("ada@example.com", "carol@example.com", &["profile"])
        .await;
    let browser = app.signed_in_client("carol@example.com").await;
    let (_, csrf) = app.form_page(&browser, "/account/switch").await;
    app.post_form(
        &browser,
        "/account/switch",
        &[
            ("client_id", ada_account.to_string().as_str()),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    let r = browser
        .get(app.url("/account/licenses"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains(&key));
    // Carol's own account has no licences, and Ada's licence is not hers to reissue there.
    let (_, csrf) = app.form_page(&browser, "/account/switch").await;
    let own: i64 = sqlx::query_scalar("SELECT id FROM clients WHERE owner_user_id = $1")
        .bind(carol)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    app.post_form(
        &browser,
        "/account/switch",
        &[
            ("client_id", own.to_string().as_str()),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    let html = app.text_with(&browser, "/account/licenses").await;
    assert!(html.contains("This account has no licences."));
    let (_, csrf) = app.form_page(&browser, "/account/licenses").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM licenses")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let r = app
        .post_form(
            &browser,
            &format!("/account/licenses/{id}/reissue"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 404);
}

async fn post_check(app: &TestApp, req: &VerifyRequest) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(VERIFY_PATH))
        .json(req)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_check_is_logged_refused_ones_too_and_unmatched_keys_are_listed_masked() {
    let app = spawn_app().await;
    let (id, key) = issued(&app, "3", "").await;
    let req = request(&key, "shop.example.com", "203.0.113.10", "/srv");
    for _ in 0..10 {
        assert_eq!(post_check(&app, &req).await.status(), 200);
    }
    // A flood of refused checks is logged once a minute, not once a request.
    for _ in 0..5 {
        assert_eq!(post_check(&app, &req).await.status(), 429);
    }
    app.clock.advance(61);
    let mut missing = req.clone();
    missing.directory = String::new();
    assert_eq!(post_check(&app, &missing).await.status(), 400);
    let verdicts: Vec<(String, String)> = sqlx::query_as(
        "SELECT verdict, verifier_version FROM license_checks WHERE license_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let words: Vec<&str> = verdicts.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(words.len(), 12, "{words:?}");
    assert!(words[..10].iter().all(|v| *v == "active"), "{words:?}");
    assert_eq!(words[10..], ["rate_limited", "bad_request"]);
    assert!(
        verdicts.iter().all(|(_, version)| version == "test/1"),
        "the verifier's version is recorded: {verdicts:?}"
    );
    let html = app
        .get(&format!("/admin/licenses/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<td>rate_limited</td>"), "{html}");
    assert!(html.contains("<td>bad_request</td>"), "{html}");
    assert!(html.contains("<td>test/1</td>"), "{html}");

    // Keys no licence has: listed for admins, masked, never in full.
    let unknown = license_verifier::key::compose("ACME", &[7; 20]).unwrap();
    app.clock.advance(61);
    assert_eq!(
        check(
            &app,
            &request(&unknown, "guess.example", "198.51.100.9", "/g")
        )
        .await
        .status,
        Status::Unknown
    );
    assert_eq!(
        check(
            &app,
            &request("ACME-NOPE", "typo.example", "198.51.100.9", "/t")
        )
        .await
        .status,
        Status::Malformed
    );
    let html = app.get("/admin/licenses").await.text().await.unwrap();
    let table = html
        .split("id=\"unmatched-checks\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the unmatched checks table");
    let hash = portcullis::token::hash(&unknown);
    assert!(
        table.contains(&format!("ACME-…#{}", &hash[..8])),
        "the unknown key, masked: {table}"
    );
    assert!(
        table.contains("guess.example · 198.51.100.9 · /g"),
        "{table}"
    );
    assert!(table.contains("<td>unknown</td>") && table.contains("<td>malformed</td>"));
    assert!(!html.contains(&unknown), "the full key is never shown");
    assert!(!html.contains("ACME-NOPE"), "nor a malformed one");
    assert!(
        !table.contains(&key[5..]),
        "checks of issued keys are not listed"
    );
}

#[tokio::test]
async fn checks_from_one_address_are_limited_per_minute_across_keys() {
    let app = spawn_with(|c| c.license_server.per_address_per_minute = 3).await;
    let http = reqwest::Client::new();
    let send = |n: u8| {
        let key = license_verifier::key::compose("ACME", &[n; 20]).unwrap();
        http.post(app.url(VERIFY_PATH))
            .json(&request(&key, "a.example", "203.0.113.1", "/a"))
            .send()
    };
    // A different key each time, so only the per-address limit can refuse.
    for n in 1..=3 {
        assert_eq!(send(n).await.unwrap().status(), 200);
    }
    let r = send(4).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("more than 3 checks a minute from this address"),
        "{body}"
    );
    // A flood is refused without growing the log it is counted in: refused checks are not
    // recorded, so every later count reads at most the limit's rows.
    for n in 10..30 {
        assert_eq!(send(n).await.unwrap().status(), 429);
    }
    let counted: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM request_log WHERE kind = 'license_ip'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(counted, 3);
    app.clock.advance(61);
    assert_eq!(send(5).await.unwrap().status(), 200);
}

#[tokio::test]
async fn licence_checks_older_than_90_days_are_removed_by_the_daily_housekeeping() {
    let app = spawn_app().await;
    let (id, key) = issued(&app, "3", "").await;
    let req = request(&key, "shop.example.com", "203.0.113.10", "/srv");
    check(&app, &req).await;
    app.clock.advance(89 * 86_400);
    check(&app, &req).await;
    app.clock.advance(2 * 86_400);
    let removed = portcullis::scheduler::housekeeping::run_history(&app.state)
        .await
        .unwrap();
    assert_eq!(removed.rows, 1, "only the check of 91 days ago");
    let left: Vec<i64> = sqlx::query_scalar("SELECT at FROM license_checks WHERE license_id = $1")
        .bind(id)
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, [app.state.clock.unix() - 2 * 86_400]);
}

#[tokio::test]
async fn signing_keys_and_licence_keys_are_stored_sealed() {
    use base64::Engine as _;
    let app = spawn_app().await;
    let (_, key) = issued(&app, "3", "").await;
    check(&app, &request(&key, "a.example", "203.0.113.1", "/a")).await;
    let (key_sealed, key_hash): (String, String) =
        sqlx::query_as("SELECT key_sealed, key_hash FROM licenses")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    let random_part: String = key.split('-').skip(1).collect::<Vec<_>>().concat();
    for text in [&key_sealed, &key_hash] {
        assert!(!text.contains(&key), "{text}");
        assert!(!text.to_uppercase().contains(&random_part), "{text}");
    }
    assert_eq!(key_hash, portcullis::token::hash(&key));

    let (key_id, secret_sealed, public_key): (String, String, String) =
        sqlx::query_as("SELECT key_id, secret_sealed, public_key FROM license_signing_keys")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    let secret = app
        .state
        .sealing
        .open(&secret_sealed, "license-signing-key")
        .expect("the installation's sealing key opens it");
    let secret: [u8; 32] = secret.try_into().unwrap();
    assert_eq!(
        license_verifier::protocol::public_key_of(&secret),
        public_key,
        "the sealed secret is the published key's"
    );
    assert_eq!(keys(&app).await.keys[0].key_id, key_id);
    for encoded in [
        portcullis::token::hex(&secret),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    ] {
        assert!(
            !secret_sealed
                .to_lowercase()
                .contains(&encoded.to_lowercase()[..16]),
            "the column holds no plain form of the private key"
        );
    }
}

#[tokio::test]
async fn a_reissue_keeps_preset_bindings_and_clears_only_those_bound_at_a_check() {
    let app = spawn_app().await;
    let (id, key) = issued(&app, "3", "licensed.example.com").await;
    let first = check(
        &app,
        &request(&key, "licensed.example.com", "203.0.113.1", "/old"),
    )
    .await;
    assert_eq!(first.status, Status::Active);
    // The page tells the admin which entries a reissue would clear.
    let (html, csrf) = app
        .form_page(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    assert!(html.contains("licensed.example.com (preset)"), "{html}");
    assert!(html.contains("203.0.113.1 (bound by a check)"), "{html}");
    assert!(html.contains("/old (bound by a check)"), "{html}");
    let r = app
        .post_form(
            &app.client,
            &format!("/admin/licenses/{id}/reissue"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (domains, ips, directories): (String, String, String) =
        sqlx::query_as("SELECT domains, ips, directories FROM licenses")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        (domains.as_str(), ips.as_str(), directories.as_str()),
        ("licensed.example.com", "", ""),
        "the preset domain stays; the bound IP and directory are cleared"
    );
    let html = app
        .text_with(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    assert!(html.contains("licensed.example.com (preset)"), "{html}");
    assert!(!html.contains("bound by a check"), "{html}");
    assert!(html.contains("bound at the next check"), "{html}");
    // The admin's reissue is audited with the request's address and user agent.
    let (ip, user_agent): (String, String) =
        sqlx::query_as("SELECT ip, user_agent FROM audit_log WHERE action = 'license.reissued'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(ip, "127.0.0.1");
    assert!(user_agent.contains("portcullis-tests"), "{user_agent}");
    let moved_domain = check(
        &app,
        &request(&key, "other.example.com", "198.51.100.2", "/new"),
    )
    .await;
    assert_eq!(moved_domain.status, Status::BindingMismatch);
    let moved = check(
        &app,
        &request(&key, "licensed.example.com", "198.51.100.2", "/new"),
    )
    .await;
    assert_eq!(moved.status, Status::Active);
    assert_eq!(moved.bindings.ips, ["198.51.100.2"]);
    assert_eq!(moved.bindings.directories, ["/new"]);
}

#[tokio::test]
async fn the_owner_sees_status_and_expiry_and_an_undated_expiry_names_no_date() {
    let app = spawn_app().await;
    let (id, key) = issued(&app, "3", "").await;
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    app.post_form(
        &app.client,
        &format!("/admin/licenses/{id}"),
        &[
            ("status", "active"),
            ("expires", "2027-03-31"),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    let expires: i64 = sqlx::query_scalar("SELECT expires_at FROM licenses")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let ada = app.signed_in_client("ada@example.com").await;
    let (html, _) = app.form_page(&ada, "/account/licenses").await;
    assert!(
        html.contains(&format!(
            "Status: active (expires {})",
            app.state.show_time(expires)
        )),
        "{html}"
    );

    // Expired by hand, without a date: the answer carries no made-up date.
    let (_, csrf) = app
        .form_page(&app.client, &format!("/admin/licenses/{id}"))
        .await;
    app.post_form(
        &app.client,
        &format!("/admin/licenses/{id}"),
        &[("status", "expired"), ("csrf_token", &csrf)],
    )
    .await;
    let answer = check(&app, &request(&key, "a.example", "203.0.113.1", "/a")).await;
    assert_eq!(answer.status, Status::Expired);
    assert_eq!(answer.expires_at, None);
    let (html, _) = app.form_page(&ada, "/account/licenses").await;
    assert!(html.contains("Status: expired."), "{html}");
}
