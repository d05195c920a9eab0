//! The authorization request's refusals as the service makes them on a running server (F14):
//! until the client and its redirect URI are known, nothing is redirected and the refusal is
//! recorded for the application's page; after that, errors carry the state back.

use crate::helpers::*;
use portcullis::domain::AdminId;
use portcullis::oidc::application::Applications;
use portcullis::oidc::authorize::{PageRefusal, Params, Refusal};
use portcullis::oidc::draft::ApplicationDraft;

async fn registered(app: &TestApp) -> (Applications, String) {
    let admin = app.create_admin("root").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM admins WHERE username = $1")
        .bind(&admin.username)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let applications = Applications::from(&app.state);
    let created = applications
        .create(
            AdminId(id),
            &ApplicationDraft {
                name: "Billing".into(),
                redirect_uris: "https://billing.example.com/callback".into(),
                ..ApplicationDraft::default()
            },
        )
        .await
        .unwrap();
    (applications, created.application.client_id)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn refusals(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT reason, detail FROM oidc_refusals ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn f14_a_redirect_uri_with_a_trailing_slash_is_shown_at_portcullis_and_recorded_with_the_closest()
 {
    let app = spawn_app().await;
    let (applications, client_id) = registered(&app).await;
    let sent = pairs(&[
        ("client_id", &client_id),
        ("redirect_uri", "https://billing.example.com/callback/"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s1"),
    ]);
    let refused = applications
        .authorization_request(&Params::new(&sent))
        .await
        .unwrap_err();
    let Refusal::Page(page) = refused else {
        panic!("redirected to an unregistered URI: {refused:?}");
    };
    let PageRefusal::RedirectUriMismatch {
        application,
        closest,
        ..
    } = &page
    else {
        panic!("{page:?}");
    };
    assert_eq!(application, "Billing");
    let (registered, difference) = closest.clone().unwrap();
    assert_eq!(registered, "https://billing.example.com/callback");
    assert!(difference.contains("trailing slash"), "{difference}");
    assert!(
        page.message()
            .contains("Billing asked to return you to an address it has not registered")
    );
    assert_eq!(
        refusals(&app).await,
        [(
            "redirect_uri_mismatch".to_owned(),
            "https://billing.example.com/callback/".to_owned()
        )]
    );
}

#[tokio::test]
async fn an_unknown_client_or_a_missing_redirect_uri_is_never_redirected() {
    let app = spawn_app().await;
    let (applications, client_id) = registered(&app).await;
    for (list, expected) in [
        (
            pairs(&[("redirect_uri", "https://evil.example/cb")]),
            "NoClientId",
        ),
        (
            pairs(&[
                ("client_id", "nobody"),
                ("redirect_uri", "https://evil.example/cb"),
            ]),
            "UnknownClient",
        ),
        (pairs(&[("client_id", &client_id)]), "NoRedirectUri"),
        (
            // Another repeated name first must not hide the repeated redirect URI.
            pairs(&[
                ("client_id", &client_id),
                ("scope", "openid"),
                ("scope", "openid email"),
                ("redirect_uri", "https://billing.example.com/callback"),
                ("redirect_uri", "https://evil.example/cb"),
            ]),
            "Repeated",
        ),
    ] {
        let refused = applications
            .authorization_request(&Params::new(&list))
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, Refusal::Page(p) if format!("{p:?}").starts_with(expected)),
            "{list:?}: {refused:?}"
        );
    }
    let reasons: Vec<String> = refusals(&app).await.into_iter().map(|(r, _)| r).collect();
    assert_eq!(reasons, ["unknown_client", "no_redirect_uri"]);
}

#[tokio::test]
async fn after_the_uri_is_trusted_an_error_goes_back_to_it_with_the_state_and_is_recorded() {
    let app = spawn_app().await;
    let (applications, client_id) = registered(&app).await;
    let sent = pairs(&[
        ("client_id", &client_id),
        ("redirect_uri", "https://billing.example.com/callback"),
        ("response_type", "code"),
        ("scope", "openid roles"),
        ("state", "xyz"),
    ]);
    let Refusal::Redirect(back) = applications
        .authorization_request(&Params::new(&sent))
        .await
        .unwrap_err()
    else {
        panic!("not sent back");
    };
    assert_eq!(back.error, "invalid_scope");
    let location = back.location(&app.address);
    assert!(
        location.starts_with("https://billing.example.com/callback?error=invalid_scope"),
        "{location}"
    );
    assert!(location.contains("&state=xyz&"), "{location}");
    assert!(
        location.ends_with(&format!(
            "iss={}",
            url::form_urlencoded::byte_serialize(app.address.as_bytes()).collect::<String>()
        )),
        "{location}"
    );
    assert_eq!(refusals(&app).await[0].0, "invalid_scope");

    let good = pairs(&[
        ("client_id", &client_id),
        ("redirect_uri", "https://billing.example.com/callback"),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "xyz"),
        ("nonce", "n"),
    ]);
    let request = applications
        .authorization_request(&Params::new(&good))
        .await
        .unwrap();
    assert_eq!(request.state.as_deref(), Some("xyz"));
    assert_eq!(request.redirect_uri, "https://billing.example.com/callback");
    assert_eq!(request.scopes, ["openid", "email"]);
}

#[tokio::test]
async fn refusals_older_than_a_month_are_removed_by_the_links_cleanup() {
    let app = spawn_app().await;
    let (applications, _) = registered(&app).await;
    let unknown = pairs(&[("client_id", "nobody")]);
    let _ = applications
        .authorization_request(&Params::new(&unknown))
        .await;
    app.clock
        .advance(portcullis::scheduler::housekeeping::OIDC_REFUSALS_KEPT_SECONDS - 60);
    let _ = applications
        .authorization_request(&Params::new(&unknown))
        .await;
    app.clock.advance(120);
    portcullis::scheduler::housekeeping::links(&app.state)
        .await
        .unwrap();
    // The first is past a month, the second not.
    assert_eq!(refusals(&app).await.len(), 1);
}
