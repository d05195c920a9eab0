//! OpenID Connect applications (issue 19, items 6 and 8): registering them on the admin pages
//! (the secret shown once, only its hash stored), the validation of every field, the secret
//! reset, F15's causes of a failed client authentication, the exact redirect-URI match and the
//! closest registered URI (F14), the record of refusals on the application's page, the
//! permission gate, the audit entries, and deletion with the URIs and refusals.

use crate::helpers::*;
use portcullis::domain::AdminId;
use portcullis::oidc::application::{
    Applications, ClientAuthError, POST_LOGOUT_URI_MISMATCH, Presented, REDIRECT_URI_MISMATCH,
};
use portcullis::oidc::draft::{ApplicationDraft, AuthMethod, UriKind};

const LIST: &str = "/admin/oidc/applications";

/// Root, a Full Administrator, signed in with the app's client.
async fn root(app: &TestApp) -> AdminId {
    let admin = app.create_admin("root").await;
    app.admin_login(&admin).await;
    AdminId(
        sqlx::query_scalar("SELECT id FROM admins WHERE username = 'root'")
            .fetch_one(&app.state.db)
            .await
            .unwrap(),
    )
}

/// The text of `<code id="ID">…</code>` on a page.
fn code(html: &str, id: &str) -> String {
    html.split(&format!("<code id=\"{id}\">"))
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no {id} on the page: {html}"))
        .to_owned()
}

/// The one-time key of the new-application form on the list page.
fn creation_key(html: &str) -> String {
    html.split("name=\"creation_key\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the form carries a creation key")
        .to_owned()
}

/// Posts the new-application form, as the page gives it, with `fields` over sensible defaults.
async fn post_new(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    let (page, csrf) = app.form_page(&app.client, LIST).await;
    let key = creation_key(&page);
    let mut form: Vec<(&str, &str)> = vec![
        ("name", "Team wiki"),
        ("redirect_uris", "https://wiki.example.com/callback"),
        ("creation_key", &key),
        ("csrf_token", &csrf),
    ];
    for (k, v) in fields {
        form.retain(|(f, _)| f != k);
        form.push((k, v));
    }
    app.post_form(&app.client, LIST, &form).await
}

/// Creates a confidential application on the page; returns (id, client id, secret).
async fn created(app: &TestApp) -> (i64, String, String) {
    let r = post_new(app, &[]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("it will not be shown again"), "{html}");
    let client_id = code(&html, "client-id");
    let id: i64 = sqlx::query_scalar("SELECT id FROM oidc_applications WHERE client_id = $1")
        .bind(client_id.clone())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    (id, client_id, code(&html, "client-secret"))
}

fn draft(uris: &str) -> ApplicationDraft {
    ApplicationDraft {
        name: "Shop".into(),
        redirect_uris: uris.into(),
        ..ApplicationDraft::default()
    }
}

#[tokio::test]
async fn a_new_confidential_application_shows_its_secret_once_and_stores_only_its_hash() {
    let app = spawn_app().await;
    root(&app).await;
    let (id, client_id, secret) = created(&app).await;
    assert_eq!(client_id.len(), 24);
    assert!(
        client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(secret.len(), 43, "256 bits, URL-safe base64");
    let (hash, method): (Option<String>, String) =
        sqlx::query_as("SELECT secret_hash, auth_method FROM oidc_applications WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        hash.as_deref(),
        Some(portcullis::token::hash(&secret).as_str())
    );
    assert_eq!(method, "client_secret_basic");
    // No column of the application, and no audit entry, holds the secret in clear.
    let row: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT client_id, name, COALESCE(secret_hash, ''), allowed_scopes FROM oidc_applications",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert!(!format!("{row:?}").contains(&secret));
    let audit: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(!audit.concat().contains(&secret));
    // The application's page has the client id and the discovery URL, never the secret.
    let page = app.text_with(&app.client, &format!("{LIST}/{id}")).await;
    assert!(!page.contains(&secret));
    assert_eq!(code(&page, "client-id"), client_id);
    assert_eq!(
        code(&page, "discovery-url"),
        format!("{}/.well-known/openid-configuration", app.address)
    );
    let apps = Applications::from(&app.state);
    assert!(
        apps.authenticate(&client_id, Presented::Basic(&secret))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn each_invalid_field_is_refused_with_its_name_the_value_and_what_is_allowed() {
    let app = spawn_app().await;
    root(&app).await;
    let cases: [(&[(&str, &str)], &str); 11] = [
        (
            &[("redirect_uris", "http://wiki.example.com/cb")],
            "redirect_uris: &#34;http://wiki.example.com/cb&#34; uses http on wiki.example.com",
        ),
        (
            &[("redirect_uris", "https://*.example.com/cb")],
            "redirect_uris: &#34;https://*.example.com/cb&#34; contains a wildcard",
        ),
        (
            &[("redirect_uris", "https://wiki.example.com/cb#top")],
            "redirect_uris: &#34;https://wiki.example.com/cb#top&#34; has a fragment",
        ),
        (
            &[("redirect_uris", "")],
            "redirect_uris: register at least one redirect URI",
        ),
        (
            &[("realm", "admin"), ("allowed_scopes", "openid accounts")],
            "allowed_scopes: accounts describes client accounts; it is only for applications of the client realm",
        ),
        (
            &[("allowed_scopes", "openid roles")],
            "allowed_scopes: roles describes admin roles; it is only for applications of the admin realm",
        ),
        (
            &[("allowed_scopes", "profile email")],
            "allowed_scopes: &#34;profile email&#34; lacks openid",
        ),
        (
            &[("id_token_seconds", "601")],
            "id_token_seconds: &#34;601&#34; is not a number of seconds from 60 to 600",
        ),
        (
            &[("access_token_seconds", "599")],
            "access_token_seconds: &#34;599&#34; is not a number of seconds from 600 to 3600",
        ),
        (
            &[("refresh_token_seconds", "7776001")],
            "refresh_token_seconds: &#34;7776001&#34; is not a number of seconds from 3600 to 7776000",
        ),
        (
            &[("kind", "public"), ("auth_method", "client_secret_basic")],
            "auth_method: client_secret_basic needs a secret, which a public application cannot keep",
        ),
    ];
    for (fields, says) in cases {
        let r = post_new(&app, fields).await;
        assert_eq!(r.status(), 422, "{fields:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains(says), "{fields:?}: {html}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_applications")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing invalid was stored");
    // Loopback http is allowed, and a name of 101 characters is not.
    let long = "n".repeat(101);
    let r = post_new(&app, &[("name", &long)]).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("name: give the application a name of 1 to 100 characters")
    );
    for uri in [
        "http://127.0.0.1:8400/callback",
        "http://localhost/cb",
        "http://[::1]:9000/cb",
    ] {
        let r = post_new(&app, &[("redirect_uris", uri)]).await;
        assert_eq!(r.status(), 200, "{uri}");
    }
    let admin_realm = post_new(
        &app,
        &[("realm", "admin"), ("allowed_scopes", "openid roles")],
    )
    .await;
    assert_eq!(admin_realm.status(), 200);
}

#[tokio::test]
async fn a_reset_secret_replaces_the_old_one_at_once() {
    let app = spawn_app().await;
    root(&app).await;
    let (id, client_id, old) = created(&app).await;
    let page = format!("{LIST}/{id}");
    let (_, csrf) = app.form_page(&app.client, &page).await;
    let r = app
        .post_form(
            &app.client,
            &format!("{page}/secret"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("it will not be shown again"));
    assert_eq!(code(&html, "client-id"), client_id);
    let new = code(&html, "client-secret");
    assert_ne!(new, old);
    let apps = Applications::from(&app.state);
    assert!(matches!(
        apps.authenticate(&client_id, Presented::Basic(&old)).await,
        Err(ClientAuthError::WrongSecret)
    ));
    assert!(
        apps.authenticate(&client_id, Presented::Basic(&new))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn each_cause_of_a_failed_client_authentication_is_told_apart() {
    let app = spawn_app().await;
    let admin = root(&app).await;
    let apps = Applications::from(&app.state);
    let basic = apps
        .create(admin, &draft("https://shop.example.com/cb"))
        .await
        .unwrap();
    let secret = basic.secret.clone().unwrap();
    let id = &basic.application.client_id;
    let post = apps
        .create(
            admin,
            &ApplicationDraft {
                auth_method: "client_secret_post".into(),
                ..draft("https://shop.example.com/cb")
            },
        )
        .await
        .unwrap();
    let public = apps
        .create(
            admin,
            &ApplicationDraft {
                kind: "public".into(),
                ..draft("https://spa.example.com/cb")
            },
        )
        .await
        .unwrap();
    assert!(
        public.secret.is_none(),
        "a public application gets no secret"
    );

    assert!(matches!(
        apps.authenticate("no-such-client", Presented::Basic(&secret))
            .await,
        Err(ClientAuthError::UnknownClient)
    ));
    assert!(matches!(
        apps.authenticate(id, Presented::Basic("not-the-secret"))
            .await,
        Err(ClientAuthError::WrongSecret)
    ));
    match apps.authenticate(id, Presented::Post(&secret)).await {
        Err(ClientAuthError::MethodMismatch { registered, used }) => {
            assert_eq!(
                (registered, used),
                (AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        apps.authenticate(id, Presented::None).await,
        Err(ClientAuthError::ConfidentialClientSentNone)
    ));
    let public_id = &public.application.client_id;
    assert!(matches!(
        apps.authenticate(public_id, Presented::Post("anything"))
            .await,
        Err(ClientAuthError::PublicClientSentSecret)
    ));
    assert!(apps.authenticate(public_id, Presented::None).await.is_ok());
    let post_secret = post.secret.unwrap();
    assert!(
        apps.authenticate(&post.application.client_id, Presented::Post(&post_secret))
            .await
            .is_ok()
    );
    assert!(
        apps.authenticate(id, Presented::Basic(&secret))
            .await
            .is_ok()
    );
    assert_eq!(
        ClientAuthError::MethodMismatch {
            registered: AuthMethod::ClientSecretBasic,
            used: AuthMethod::ClientSecretPost
        }
        .to_string(),
        "the application authenticated with client_secret_post but is registered for client_secret_basic"
    );
}

#[tokio::test]
async fn redirect_uris_match_exactly_and_the_closest_registered_one_is_described() {
    let app = spawn_app().await;
    let admin = root(&app).await;
    let apps = Applications::from(&app.state);
    let created = apps
        .create(
            admin,
            &ApplicationDraft {
                post_logout_redirect_uris: "https://shop.example.com/bye".into(),
                ..draft("https://shop.example.com/callback\nhttps://shop.example.com:8443/admin/callback")
            },
        )
        .await
        .unwrap();
    let a = &created.application;
    assert!(Applications::redirect_uri_allowed(
        a,
        "https://shop.example.com/callback",
        UriKind::Login
    ));
    for refused in [
        "https://shop.example.com/callback/",
        "https://shop.example.com:444/callback",
        "https://shop.example.com/Callback",
        "https://shop.example.com/callback?x=1",
        "http://shop.example.com/callback",
    ] {
        assert!(
            !Applications::redirect_uri_allowed(a, refused, UriKind::Login),
            "{refused}"
        );
    }
    // The lists are kept apart.
    assert!(!Applications::redirect_uri_allowed(
        a,
        "https://shop.example.com/bye",
        UriKind::Login
    ));
    assert!(Applications::redirect_uri_allowed(
        a,
        "https://shop.example.com/bye",
        UriKind::PostLogout
    ));

    let closest = |sent: &str| Applications::closest_redirect_uri(a, sent, UriKind::Login).unwrap();
    let c = closest("https://shop.example.com/callback/");
    assert_eq!(c.registered, "https://shop.example.com/callback");
    assert!(
        c.difference.starts_with("trailing slash"),
        "{}",
        c.difference
    );
    let c = closest("https://shop.example.com:8443/admin/cb");
    assert_eq!(c.registered, "https://shop.example.com:8443/admin/callback");
    assert_eq!(c.difference, "path /admin/cb instead of /admin/callback");
    assert_eq!(
        closest("https://shop.example.com:8080/callback").difference,
        "port 8080 instead of 443"
    );
    assert_eq!(
        closest("http://shop.example.com/callback").difference,
        "scheme http instead of https, port 80 instead of 443"
    );
    assert_eq!(
        closest("https://shop.example.org/callback").difference,
        "host shop.example.org instead of shop.example.com"
    );
}

#[tokio::test]
async fn refusals_are_recorded_counted_and_shown_on_the_application_page() {
    let app = spawn_app().await;
    let admin = root(&app).await;
    let apps = Applications::from(&app.state);
    let created = apps
        .create(admin, &draft("https://shop.example.com/callback"))
        .await
        .unwrap();
    let a = &created.application;
    apps.record_refusal(
        Some(a.id),
        &a.client_id,
        "authorize",
        REDIRECT_URI_MISMATCH,
        "https://shop.example.com/callback/",
    )
    .await
    .unwrap();
    apps.record_refusal(
        Some(a.id),
        &a.client_id,
        "end_session",
        POST_LOGOUT_URI_MISMATCH,
        "https://shop.example.com/bye",
    )
    .await
    .unwrap();
    let cause = ClientAuthError::WrongSecret;
    apps.record_refusal(
        Some(a.id),
        &a.client_id,
        "token",
        cause.reason(),
        &cause.to_string(),
    )
    .await
    .unwrap();
    apps.record_refusal(
        Some(a.id),
        &a.client_id,
        "token",
        cause.reason(),
        &cause.to_string(),
    )
    .await
    .unwrap();
    apps.record_refusal(
        None,
        "typo-client",
        "token",
        "unknown_client",
        "no application has this client id",
    )
    .await
    .unwrap();

    let html = app
        .text_with(&app.client, &format!("{LIST}/{}", a.id))
        .await;
    assert!(html.contains("<code>wrong_secret</code>"), "{html}");
    assert!(html.contains("the client secret is wrong"), "{html}");
    assert!(html.contains(
        "Sent <code>https://shop.example.com/callback/</code>; closest registered <code>https://shop.example.com/callback</code>: trailing slash"
    ), "{html}");
    assert!(
        html.contains(
            "Sent <code>https://shop.example.com/bye</code>; no URI of this kind is registered"
        ),
        "{html}"
    );

    let mut counts: Vec<(Option<String>, String, i64)> = apps
        .refusal_counts_since(app.state.clock.unix() - 86_400)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.application.map(|(_, name)| name), c.reason, c.count))
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            (None, "unknown_client".to_owned(), 1),
            (
                Some("Shop".to_owned()),
                POST_LOGOUT_URI_MISMATCH.to_owned(),
                1
            ),
            (Some("Shop".to_owned()), REDIRECT_URI_MISMATCH.to_owned(), 1),
            (Some("Shop".to_owned()), "wrong_secret".to_owned(), 2),
        ]
    );
    assert!(
        apps.refusal_counts_since(app.state.clock.unix() + 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_role_without_manage_oidc_applications_is_denied_and_one_with_it_may() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let sam = app
        .admin_with_role("sam", "Helpdesk", &["main_homepage", "manage_licenses"])
        .await;
    let r = sam.get(app.url(LIST)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("You need permission to manage OpenID Connect applications"),
        "{html}"
    );
    assert!(!bar_links(&app.text_with(&sam, "/admin").await).contains(&LIST.to_owned()));
    let csrf = csrf_from(&app.text_with(&sam, "/admin").await);
    let r = app
        .post_form(
            &sam,
            LIST,
            &[
                ("name", "Sneaky"),
                ("redirect_uris", "https://x.example/cb"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let ada = app
        .admin_with_role("ada", "Integrator", &["manage_oidc_applications"])
        .await;
    assert_eq!(app.status_with(&ada, LIST).await, 200);
    // Their only page is where /admin lands them.
    let r = ada.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(location(&r), LIST);
    assert!(bar_links(&app.text_with(&ada, LIST).await).contains(&LIST.to_owned()));
}

#[tokio::test]
async fn every_change_is_audited_and_deleting_removes_the_uris_and_refusals() {
    let app = spawn_app().await;
    root(&app).await;
    let (id, client_id, _) = created(&app).await;
    let page = format!("{LIST}/{id}");
    let apps = Applications::from(&app.state);
    apps.record_refusal(
        Some(id),
        &client_id,
        "token",
        "wrong_secret",
        "the client secret is wrong",
    )
    .await
    .unwrap();

    // Edit: becomes public (the secret goes), with a post-logout URI.
    let (_, csrf) = app.form_page(&app.client, &page).await;
    let r = app
        .post_form(
            &app.client,
            &page,
            &[
                ("name", "Team wiki (SPA)"),
                ("kind", "public"),
                (
                    "redirect_uris",
                    "https://wiki.example.com/callback\nhttps://wiki.example.com/silent",
                ),
                ("post_logout_redirect_uris", "https://wiki.example.com/"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let a = apps.find(id).await.unwrap().unwrap();
    assert_eq!(a.name, "Team wiki (SPA)");
    assert_eq!(a.redirect_uris.len(), 2);
    assert_eq!(a.secret_set_at, None);
    assert!(apps.authenticate(&client_id, Presented::None).await.is_ok());
    let hash: Option<String> =
        sqlx::query_scalar("SELECT secret_hash FROM oidc_applications WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(hash, None, "a public application keeps no secret");

    // Deleting needs the box ticked.
    let (_, csrf) = app.form_page(&app.client, &page).await;
    let r = app
        .post_form(
            &app.client,
            &format!("{page}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Tick the box to confirm the deletion")
    );
    assert!(apps.find(id).await.unwrap().is_some());
    let r = app
        .post_form(
            &app.client,
            &format!("{page}/delete"),
            &[("confirm", "yes"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), LIST);
    for (table, query) in [
        (
            "oidc_applications",
            "SELECT COUNT(*) FROM oidc_applications",
        ),
        (
            "oidc_redirect_uris",
            "SELECT COUNT(*) FROM oidc_redirect_uris",
        ),
        ("oidc_refusals", "SELECT COUNT(*) FROM oidc_refusals"),
    ] {
        let left: i64 = sqlx::query_scalar(query)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    assert_eq!(app.status_with(&app.client, &page).await, 404);

    let actions: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, action, subject FROM audit_log WHERE action LIKE 'oidc.%' ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    let actor = app.admin_actor("root").await;
    let subject = format!("oidc_application:{id}");
    assert_eq!(
        actions,
        [
            "oidc.application_created",
            "oidc.application_updated",
            "oidc.application_deleted"
        ]
        .map(|a| (actor.clone(), a.to_owned(), subject.clone()))
    );
}

#[tokio::test]
async fn a_secret_reset_is_audited_and_a_public_application_has_none_to_reset() {
    let app = spawn_app().await;
    let admin = root(&app).await;
    let apps = Applications::from(&app.state);
    let (id, _, _) = created(&app).await;
    apps.reset_secret(admin, id).await.unwrap();
    let reset: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'oidc.application_secret_reset' AND subject = $1",
    )
    .bind(format!("oidc_application:{id}"))
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(reset, 1);
    let public = apps
        .create(
            admin,
            &ApplicationDraft {
                kind: "public".into(),
                ..draft("https://spa.example.com/cb")
            },
        )
        .await
        .unwrap();
    let page = format!("{LIST}/{}", public.application.id);
    let html = app.text_with(&app.client, &page).await;
    assert!(!html.contains("Reset the secret"));
    let r = app
        .post_form(
            &app.client,
            &format!("{page}/secret"),
            &[("csrf_token", &csrf_from(&html))],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("is a public application: it has no secret")
    );
}

#[tokio::test]
async fn the_doctor_finds_nothing_to_report_without_refusals_in_the_last_day() {
    let app = spawn_app().await;
    let admin = root(&app).await;
    let apps = Applications::from(&app.state);
    let a = apps
        .create(admin, &draft("https://shop.example.com/cb"))
        .await
        .unwrap();
    apps.record_refusal(
        Some(a.application.id),
        &a.application.client_id,
        "token",
        "wrong_secret",
        "old",
    )
    .await
    .unwrap();
    // A day and a bit later the refusal is out of the window.
    app.clock.advance(86_400 + 60);
    let check = app.doctor_check("oidc.clients").await;
    assert_eq!(
        check.severity,
        portcullis::doctor::Severity::Ok,
        "{check:?}"
    );
    assert_eq!(
        check.summary,
        "No OpenID Connect request was refused in the last 24 hours."
    );
}

#[tokio::test]
async fn the_doctor_warns_of_refusals_per_application_and_reason_with_the_next_step() {
    let app = spawn_app().await;
    let admin = root(&app).await;
    let apps = Applications::from(&app.state);
    let a = apps
        .create(admin, &draft("https://shop.example.com/cb"))
        .await
        .unwrap()
        .application;
    for _ in 0..3 {
        apps.record_refusal(
            Some(a.id),
            &a.client_id,
            "token",
            "wrong_secret",
            "the client secret is wrong",
        )
        .await
        .unwrap();
    }
    apps.record_refusal(
        Some(a.id),
        &a.client_id,
        "authorize",
        REDIRECT_URI_MISMATCH,
        "https://shop.example.com/cb/",
    )
    .await
    .unwrap();
    apps.record_refusal(
        None,
        "typo",
        "token",
        "unknown_client",
        "no application has this client id",
    )
    .await
    .unwrap();
    let check = app.doctor_check("oidc.clients").await;
    assert_eq!(
        check.severity,
        portcullis::doctor::Severity::Warning,
        "{check:?}"
    );
    assert!(
        check
            .summary
            .starts_with("5 OpenID Connect request(s) refused in the last 24 hours"),
        "{check:?}"
    );
    let details = check.details.join("\n");
    let page = format!("Shop (/admin/oidc/applications/{})", a.id);
    assert!(
        details.contains(&format!("{page}: wrong_secret ×3; put the current secret")),
        "{details}"
    );
    assert!(
        details.contains(&format!(
            "{page}: redirect_uri_mismatch ×1; compare the URI sent"
        )),
        "{details}"
    );
    assert!(
        details.contains("unknown client ids: unknown_client ×1; check the client id"),
        "{details}"
    );
}

#[tokio::test]
async fn the_new_application_form_sent_twice_creates_one_application() {
    // A reload of the page that shows the secret sends the form again; so does a double click.
    let app = spawn_app().await;
    root(&app).await;
    let (page, csrf) = app.form_page(&app.client, LIST).await;
    let key = creation_key(&page);
    let form = [
        ("name", "Team wiki"),
        ("redirect_uris", "https://wiki.example.com/callback"),
        ("creation_key", key.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let first = app.post_form(&app.client, LIST, &form).await;
    assert_eq!(first.status(), 200);
    let html = first.text().await.unwrap();
    let client_id = code(&html, "client-id");
    let secret = code(&html, "client-secret");

    let again = app.post_form(&app.client, LIST, &form).await;
    assert_eq!(again.status(), 303);
    let id: i64 = sqlx::query_scalar("SELECT id FROM oidc_applications WHERE client_id = $1")
        .bind(&client_id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        location(&again),
        format!("{LIST}/{id}?done=already-created")
    );
    let shown = app.text_with(&app.client, &location(&again)).await;
    assert!(
        shown.contains("This application was created already"),
        "{shown}"
    );
    assert!(!shown.contains(&secret), "the secret is never shown again");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_applications")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 1, "one application, one secret");
    // The secret of the one application is the one that was shown.
    let apps = Applications::from(&app.state);
    assert!(
        apps.authenticate(&client_id, Presented::Basic(&secret))
            .await
            .is_ok()
    );

    // A new form sent twice at once (a double click reaching two workers): one application,
    // one secret page, and the other answer leads to it.
    let (page, _) = app.form_page(&app.client, LIST).await;
    let key = creation_key(&page);
    let form = [
        ("name", "Status page"),
        ("redirect_uris", "https://status.example.com/callback"),
        ("creation_key", key.as_str()),
        ("csrf_token", csrf.as_str()),
    ];
    let (a, b) = tokio::join!(
        app.post_form(&app.client, LIST, &form),
        app.post_form(&app.client, LIST, &form)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 303]);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_applications")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 2);

    // The page again: a new key, a new application.
    let r = post_new(&app, &[("name", "Helpdesk")]).await;
    assert_eq!(r.status(), 200);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_applications")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 3);
}
