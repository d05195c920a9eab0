//! Bad input gets a clear 4xx, never a 500 or a panic; every response carries security headers.

use crate::helpers::*;

#[tokio::test]
async fn garbage_cookies_are_ignored() {
    let app = spawn_app().await;
    for cookie in [
        "portcullis_client=%%%",
        "portcullis_client=",
        "=;;;===",
        "portcullis_admin=\"unterminated",
        &format!("portcullis_client={}", "x".repeat(5000)),
    ] {
        let r = cookieless_client()
            .get(app.url("/login"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "cookie {cookie:?}");
    }
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = spawn_app().await;
    let big = "a".repeat(100 * 1024);
    let r = app
        .post_form(&app.client, "/login", &[("email", big.as_str())])
        .await;
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn invalid_utf8_and_malformed_forms_are_400_not_500() {
    let app = spawn_app().await;
    let (_, csrf) = app.form_page(&app.client, "/login").await;
    let mut body = format!("csrf_token={csrf}&email=").into_bytes();
    body.extend_from_slice(&[0xff, 0xfe, 0x80]);
    body.extend_from_slice(b"&password=x");
    let r = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/json")
        .header("x-csrf-token", &csrf)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn overlong_fields_are_answered_not_crashed_on() {
    let app = spawn_app().await;
    let (_, csrf) = app.form_page(&app.client, "/login").await;
    let long = "x".repeat(20_000);
    let r = app
        .post_form(
            &app.client,
            "/login",
            &[
                ("email", long.as_str()),
                ("password", &long),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn unknown_routes_are_404_pages_and_json_when_asked() {
    let app = spawn_app().await;
    let r = app.get("/no/such/page").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("Page not found"));
    let r = app
        .client
        .get(app.url("/no/such/page"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["error"], "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_405() {
    let app = spawn_app().await;
    let r = app.client.delete(app.url("/login")).send().await.unwrap();
    assert!(r.status() == 405 || r.status() == 403, "{}", r.status());
    let r = app
        .client
        .put(app.url("/clientarea"))
        .header("x-csrf-token", "x")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    let r = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert!(r.status().is_client_error());
}

#[tokio::test]
async fn a_missing_or_broken_host_header_is_400() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/login"))
        .header("host", "bad host name")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/login",
        "/admin/login",
        "/no-such",
        "/healthz",
        "/static/portcullis.css",
    ] {
        let r = app.get(path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("CSP on {path}"))
            .to_str()
            .unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert!(h.get("referrer-policy").is_some());
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS on http"
        );
        assert_eq!(
            h.get("cross-origin-opener-policy").unwrap(),
            "same-origin",
            "loopback is a trustworthy origin"
        );
    }
    // Plain http on a public name: browsers ignore COOP there (Chromium says so in the console
    // of every page), so it is not sent; the rest is.
    let public = spawn_with(|c| c.server.system_url = "http://portal.example.com/".into()).await;
    let r = public.get("/healthz").await;
    assert!(r.headers().get("cross-origin-opener-policy").is_none());
    assert!(r.headers().get("content-security-policy").is_some());
}

#[tokio::test]
async fn healthz_answers_without_a_session_or_a_write() {
    let app = spawn_app().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn pages_have_labelled_inputs_and_no_inline_script() {
    let app = spawn_app().await;
    for path in ["/login", "/admin/login", "/register"] {
        let body = app.get(path).await.text().await.unwrap();
        // Script files only (the new-password forms load /static/password.js), never inline.
        for tag in body.split("<script").skip(1) {
            assert!(tag.starts_with(" src=\"/static/"), "{path}: inline script");
        }
        for id in body
            .split("<input id=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
        {
            assert!(
                body.contains(&format!("<label for=\"{id}\"")),
                "{path}: input {id} has a label"
            );
        }
    }
}
