//! F05 · "Login Details Incorrect" because of the System URL.

use crate::helpers::*;
use portcullis::doctor::Severity;

fn other_host(app: &TestApp, path: &str) -> String {
    // localhost reaches the same server but is another origin than http://127.0.0.1:PORT.
    format!("http://localhost:{}{path}", app.port)
}

#[tokio::test]
async fn f05_a_page_opened_on_another_host_redirects_308_to_the_system_url_keeping_path_and_query()
{
    let app = spawn_app().await;
    let r = app
        .client
        .get(other_host(&app, "/login?next=%2Finvoices"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(location(&r), app.url("/login?next=%2Finvoices"));
}

#[tokio::test]
async fn f05_a_sign_in_posted_to_another_host_is_explained_not_called_incorrect() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let (_, csrf) = app.form_page(&app.client, "/login").await;
    let r = app
        .client
        .post(other_host(&app, "/login"))
        .form(&[
            ("email", user.email.as_str()),
            ("password", &user.password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 421);
    let body = r.text().await.unwrap();
    assert!(!body.contains("Login Details Incorrect"));
    assert!(
        body.contains(&format!("http://localhost:{}", app.port)),
        "names the origin used: {body}"
    );
    assert!(body.contains(&app.url("/")), "names the System URL: {body}");
}

#[tokio::test]
async fn f05_signing_in_on_the_system_url_works() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    assert_eq!(app.client_login(&user).await.status(), 200);
}

#[tokio::test]
async fn f05_the_doctor_reports_requests_on_other_origins() {
    let app = spawn_app().await;
    let ok = app.doctor_check("system_url").await;
    assert_eq!(ok.severity, Severity::Ok, "{ok:?}");
    app.client
        .get(other_host(&app, "/login"))
        .send()
        .await
        .unwrap();
    let check = app.doctor_check("system_url").await;
    assert_eq!(check.severity, Severity::Warning);
    assert!(
        check
            .summary
            .contains(&format!("http://localhost:{}", app.port)),
        "{}",
        check.summary
    );
    assert!(check.next_step.contains("server.system_url"));
}

#[tokio::test]
async fn f05_https_system_url_behind_a_trusted_proxy_is_served_and_plain_http_is_redirected() {
    let app = spawn_with(|c| c.server.system_url = "https://portal.example.com/".into()).await;
    let proxied = app
        .client
        .get(app.url("/login"))
        .header("host", "portal.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 200);
    assert!(proxied.headers().get("strict-transport-security").is_some());
    let plain = app
        .client
        .get(app.url("/login"))
        .header("host", "portal.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 308);
    assert_eq!(location(&plain), "https://portal.example.com/login");
}

#[tokio::test]
async fn f05_forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_with(|c| {
        c.server.system_url = "https://portal.example.com/".into();
        c.proxy.trusted = vec![];
    })
    .await;
    let r = app
        .client
        .get(app.url("/login"))
        .header("host", "portal.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308, "an untrusted peer cannot claim https");
}

#[tokio::test]
async fn f05_https_cookies_are_secure_and_host_prefixed() {
    let app = spawn_with(|c| c.server.system_url = "https://portal.example.com/".into()).await;
    let user = app.create_user("ada@example.com").await;
    let page = app
        .client
        .get(app.url("/login"))
        .header("host", "portal.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = app
        .client
        .post(app.url("/login"))
        .header("host", "portal.example.com")
        .header("x-forwarded-proto", "https")
        .form(&[
            ("email", user.email.as_str()),
            ("password", &user.password),
            ("csrf_token", &csrf_from(&page)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let line = set_cookie_line(&r, "__Host-portcullis_client").expect("__Host- cookie");
    assert!(
        line.contains("Secure")
            && line.contains("Path=/")
            && !line.to_lowercase().contains("domain"),
        "{line}"
    );
}

#[tokio::test]
async fn f05_healthz_answers_on_any_host() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(other_host(&app, "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
