//! Forward authentication's endpoints asked directly, the way a proxy on loopback (a trusted
//! proxy by default) asks them (issue 20 items 1-5): the verdicts and their statuses, the
//! identity headers, the rules (first match, no match denied, paths judged as an upstream
//! resolves them), the sign-in round trip that returns only to protected hosts, the loop page
//! and the proxy-setup pages (F18), the parent-domain cookie, and sign-out ending access.
//! `forward_auth_proxies.rs` puts real nginx, Caddy and Traefik in front.

use crate::helpers::*;
use reqwest::header::COOKIE;

const RULES: [&str; 5] = [
    "status.test /public bypass",
    "status.test / client",
    "billing.test / client:invoices",
    "ops.test / admin:view_system_health",
    "closed.test / deny",
];

async fn app() -> TestApp {
    spawn_with(|c| c.forward_auth.rules = RULES.iter().map(|r| (*r).to_owned()).collect()).await
}

/// What the nginx endpoint answers for `url` with `cookie` (a `Cookie` header value, or none).
async fn ask_nginx(app: &TestApp, url: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut r = cookieless_client()
        .get(app.url("/forward-auth/nginx"))
        .header("x-original-url", url)
        .header("x-original-method", "GET");
    if let Some(c) = cookie {
        r = r.header(COOKIE, c);
    }
    r.send().await.unwrap()
}

/// What the Traefik/Caddy endpoint answers for a request to `proto://host uri`.
async fn ask_proxy(
    app: &TestApp,
    (proto, host, uri): (&str, &str, &str),
    accept: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut r = cookieless_client()
        .get(app.url("/forward-auth/proxy"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", proto)
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri)
        .header("accept", accept);
    if let Some(c) = cookie {
        r = r.header(COOKIE, c);
    }
    r.send().await.unwrap()
}

/// Signs `email` in with a fresh browser and returns the session's `Cookie` header value.
async fn client_cookie(app: &TestApp, email: &str) -> String {
    let browser = new_client();
    let r = app.client_login_with(&browser, email, PASSWORD).await;
    let value = set_cookie(&r, "portcullis_client").expect("a session cookie");
    format!("portcullis_client={value}")
}

async fn admin_cookie(app: &TestApp, username: &str) -> String {
    let browser = new_client();
    let r = app.admin_login_with(&browser, username, PASSWORD).await;
    let value = set_cookie(&r, "portcullis_admin").expect("a session cookie");
    format!("portcullis_admin={value}")
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

#[tokio::test]
async fn nginx_gets_401_with_the_sign_in_url_then_200_with_who_it_is() {
    let app = app().await;
    app.create_user("ada@example.com").await;
    let r = ask_nginx(&app, "http://status.test/board?x=1", None).await;
    assert_eq!(r.status(), 401);
    let to = location(&r);
    let expected = format!(
        "{}/forward-auth/signin?rd=http%3A%2F%2Fstatus.test%2Fboard%3Fx%3D1",
        app.address
    );
    assert_eq!(to, expected);

    let cookie = client_cookie(&app, "ada@example.com").await;
    let r = ask_nginx(&app, "http://status.test/board", Some(&cookie)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "remote-user").as_deref(),
        Some("ada@example.com")
    );
    assert_eq!(
        header(&r, "remote-email").as_deref(),
        Some("ada@example.com")
    );
    let subject = header(&r, "remote-subject").unwrap();
    assert!(subject.starts_with("client:"), "{subject}");
    assert!(header(&r, "remote-account").is_some(), "the active account");
    let permissions = header(&r, "remote-permissions").unwrap();
    assert!(
        permissions.contains("invoices"),
        "an owner holds all: {permissions}"
    );

    // The bypass rule comes first for /public: anyone, and no identity at all. Every identity
    // header is named, empty, so that a proxy copying them replaces what the browser sent.
    let r = ask_nginx(&app, "http://status.test/public/logo.png", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "remote-user").as_deref(), Some(""));
    let r = ask_nginx(&app, "http://status.test/public/logo.png", Some(&cookie)).await;
    for name in [
        "remote-user",
        "remote-email",
        "remote-subject",
        "remote-groups",
        "remote-account",
        "remote-permissions",
    ] {
        assert_eq!(
            header(&r, name).as_deref(),
            Some(""),
            "bypass sends no {name}"
        );
    }
    // ...but a path that climbs out of /public is judged where it lands.
    let r = ask_nginx(&app, "http://status.test/public/%2e%2e/board", None).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn traefik_and_caddy_get_a_redirect_for_a_browser_and_401_for_an_api_client() {
    let app = app().await;
    let page = "text/html,application/xhtml+xml,*/*;q=0.8";
    let r = ask_proxy(&app, ("http", "status.test", "/board"), page, None).await;
    assert_eq!(r.status(), 302);
    assert!(
        location(&r).contains("/forward-auth/signin?rd=http%3A%2F%2Fstatus.test%2Fboard"),
        "{}",
        location(&r)
    );
    let r = ask_proxy(
        &app,
        ("http", "status.test", "/api/x"),
        "application/json",
        None,
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = cookieless_client()
        .get(app.url("/forward-auth/proxy"))
        .header("x-forwarded-method", "POST")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "status.test")
        .header("x-forwarded-uri", "/form")
        .header("accept", page)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a POST cannot be replayed after signing in"
    );
}

#[tokio::test]
async fn permissions_decide_and_a_refusal_says_what_is_missing() {
    let app = app().await;
    app.create_user("owner@example.com").await;
    app.create_user("clerk@example.com").await;
    app.add_to_account("owner@example.com", "clerk@example.com", &["tickets"])
        .await;
    // The clerk works in the owner's account, where they may open tickets only.
    let browser = new_client();
    let r = app
        .client_login_with(&browser, "clerk@example.com", PASSWORD)
        .await;
    let clerk = format!(
        "portcullis_client={}",
        set_cookie(&r, "portcullis_client").unwrap()
    );
    app.follow_sign_in(&browser, &r).await;
    let shared = app.account_owned_by("owner@example.com").await;
    app.switch_account(&browser, shared).await;
    let r = ask_nginx(&app, "http://billing.test/", Some(&clerk)).await;
    assert_eq!(r.status(), 403);
    let why = r.text().await.unwrap();
    assert!(why.contains("invoices") && why.contains("rule 3"), "{why}");

    app.create_admin("root").await;
    let role = app.create_role("Watchers", &["view_system_health"]).await;
    app.create_admin_in_role("watcher", role).await;
    app.create_admin_in_role("seller", SALES_OPERATOR).await;
    let watcher = admin_cookie(&app, "watcher").await;
    let r = ask_nginx(&app, "http://ops.test/grafana", Some(&watcher)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "remote-user").as_deref(), Some("watcher"));
    let groups = header(&r, "remote-groups").unwrap();
    assert_eq!(groups, "Watchers,view_system_health");
    let seller = admin_cookie(&app, "seller").await;
    let r = ask_nginx(&app, "http://ops.test/grafana", Some(&seller)).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("view_system_health"));
    // A client-area session is no admin session.
    let r = ask_nginx(&app, "http://ops.test/", Some(&clerk)).await;
    assert_eq!(r.status(), 401);

    // Deny, and a host no rule names: refused to everyone.
    let r = ask_nginx(&app, "http://closed.test/", Some(&clerk)).await;
    assert_eq!(r.status(), 403);
    let r = ask_nginx(&app, "http://elsewhere.test/", Some(&clerk)).await;
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("No forward-authentication rule covers")
    );
}

#[tokio::test]
async fn the_round_trip_returns_to_the_protected_url_after_signing_in() {
    let app = app().await;
    let user = app.create_user("ada@example.com").await;
    let browser = new_client();
    let rd = "http://status.test/board?tab=2";
    let start = format!("/forward-auth/signin?rd={}", urlencode(rd));
    let r = browser.get(app.url(&start)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
    // The sign-in form's answer ends at the protected host, so the page's policy lets a form
    // lead there (Chromium applies form-action to the redirects after a POST).
    let csp = |r: &reqwest::Response| header(r, "content-security-policy").unwrap();
    let r = browser.get(app.url("/login")).send().await.unwrap();
    assert!(
        csp(&r).contains("form-action 'self' http://status.test;"),
        "{}",
        csp(&r)
    );
    // A return cookie the browser wrote itself, for a host no rule protects, adds nothing.
    let forged = cookieless_client()
        .get(app.url("/login"))
        .header(COOKIE, "portcullis_client_return=https://evil.example/")
        .send()
        .await
        .unwrap();
    assert!(
        csp(&forged).contains("form-action 'self';"),
        "{}",
        csp(&forged)
    );
    let r = app
        .client_login_with(&browser, &user.email, &user.password)
        .await;
    assert_eq!(r.status(), 303);
    let landing = location(&r);
    assert!(
        landing.starts_with("/forward-auth/signin?signed_in="),
        "{landing}"
    );
    let r = browser.get(app.url(&landing)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), rd);
    // The return address is used once: the next sign-in goes home.
    let r = browser
        .get(app.url("/forward-auth/signin"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/clientarea");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_round_trip_never_sends_anyone_to_a_host_nobody_protects() {
    let app = app().await;
    for rd in [
        "https://evil.example.org/",
        "http://status.test.evil.org/",
        "javascript:alert(1)",
        "//evil.example.org/",
        "http://user:pw@status.test/",
    ] {
        let r = cookieless_client()
            .get(app.url(&format!("/forward-auth/signin?rd={}", urlencode(rd))))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{rd}");
        assert!(location(&r).is_empty(), "{rd} must not redirect");
        let page = r.text().await.unwrap();
        assert!(page.contains("does not send you"), "{rd}: {page}");
    }
}

#[tokio::test]
async fn f18_a_browser_bounced_back_signed_in_sees_why_instead_of_a_loop() {
    let app = app().await;
    app.create_user("ada@example.com").await;
    let browser = app.signed_in_client("ada@example.com").await;
    let start = format!(
        "/forward-auth/signin?rd={}",
        urlencode("http://status.test/")
    );
    // The proxy never sees the host-only cookie, so each visit comes straight back here.
    for _ in 1..portcullis::forward_auth::LOOP_RETURNS {
        let r = browser.get(app.url(&start)).send().await.unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "http://status.test/");
    }
    let r = browser.get(app.url(&start)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("does not see it"), "{page}");
    assert!(
        page.contains("host-only") && page.contains("forward_auth.cookie_domain"),
        "{page}"
    );
}

#[tokio::test]
async fn f18_an_untrusted_proxy_and_a_missing_original_url_are_named() {
    let untrusting = spawn_with(|c| {
        c.forward_auth.rules = RULES.iter().map(|r| (*r).to_owned()).collect();
        c.proxy.trusted = vec!["10.9.9.9".into()];
    })
    .await;
    let r = ask_nginx(&untrusting, "http://status.test/", None).await;
    assert_eq!(r.status(), 401);
    let to = location(&r);
    assert!(
        to.ends_with("/forward-auth/signin?problem=untrusted_proxy"),
        "{to}"
    );
    let page = cookieless_client().get(&to).send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("proxy.trusted"));

    let app = app().await;
    let r = cookieless_client()
        .get(app.url("/forward-auth/nginx"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(location(&r).ends_with("problem=no_original_url"));
    let page = cookieless_client().get(location(&r)).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("X-Original-URL"));
}

#[tokio::test]
async fn signing_out_ends_access_on_every_protected_host() {
    let app = app().await;
    app.create_user("ada@example.com").await;
    let browser = new_client();
    let r = app
        .client_login_with(&browser, "ada@example.com", PASSWORD)
        .await;
    let cookie = format!(
        "portcullis_client={}",
        set_cookie(&r, "portcullis_client").unwrap()
    );
    app.follow_sign_in(&browser, &r).await;
    for host in ["http://status.test/", "http://billing.test/"] {
        assert_eq!(
            ask_nginx(&app, host, Some(&cookie)).await.status(),
            200,
            "{host}"
        );
    }
    let csrf = csrf_from(&app.text_with(&browser, "/clientarea").await);
    app.sign_out(&browser, "/logout", &csrf).await;
    for host in ["http://status.test/", "http://billing.test/"] {
        assert_eq!(
            ask_nginx(&app, host, Some(&cookie)).await.status(),
            401,
            "{host}"
        );
    }
}

#[tokio::test]
async fn the_parent_domain_cookie_is_opt_in_and_named_for_it() {
    let host_only = app().await;
    host_only.create_user("ada@example.com").await;
    let r = host_only
        .client_login_with(&new_client(), "ada@example.com", PASSWORD)
        .await;
    let line = set_cookie_line(&r, "portcullis_client").unwrap();
    assert!(
        !line.to_ascii_lowercase().contains("domain="),
        "host-only by default: {line}"
    );

    let scoped = spawn_with(|c| {
        c.server.system_url = "http://portal.fa.test/".into();
        c.forward_auth.cookie_domain = "fa.test".into();
    })
    .await;
    scoped.create_user("ada@example.com").await;
    let browser = new_client();
    let page = browser
        .get(scoped.url("/login"))
        .header("host", "portal.fa.test")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_from(&page);
    let r = browser
        .post(scoped.url("/login"))
        .header("host", "portal.fa.test")
        .form(&[
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let line = set_cookie_line(&r, "portcullis_client").unwrap();
    assert!(line.contains("Domain=fa.test"), "{line}");
}

#[tokio::test]
async fn the_admin_page_answers_why_a_request_was_denied_in_the_services_words() {
    let app = app().await;
    app.create_user("ada@example.com").await;
    app.create_admin("root").await;
    let admin = app.signed_in_admin("root").await;

    // The rules in force, in order.
    let page = app.text_with(&admin, "/admin/forward-auth").await;
    let shown: Vec<usize> = RULES
        .iter()
        .map(|r| page.find(&format!("<code>{r}</code>")).expect(r))
        .collect();
    assert!(shown.is_sorted(), "{page}");

    // A URL and a person: the rule and the verdict, as ForwardAuth::explain words them.
    let url = "http://billing.test/pay";
    let asked = format!(
        "/admin/forward-auth?url={}&who=user&name={}",
        urlencode(url),
        urlencode("ada@example.com")
    );
    let page = app.text_with(&admin, &asked).await;
    let person = portcullis::forward_auth::explain::Person::User("ada@example.com".into());
    let said = portcullis::forward_auth::ForwardAuth::from(&app.state)
        .explain(url, Some(&person))
        .await
        .unwrap();
    assert!(
        page.contains("Rule 3: billing.test / client:invoices"),
        "{page}"
    );
    let escaped = |s: &str| s.replace('\'', "&#39;").replace('"', "&#34;");
    assert!(page.contains(&escaped(&said.outcome)), "{page}");
    assert!(said.details[0].starts_with("ada@example.com passes"));
    assert!(page.contains(&escaped(&said.details[0])), "{page}");

    // Naming no one for "an administrator" asks for the name and judges for anyone.
    let page = app
        .text_with(
            &admin,
            &format!("/admin/forward-auth?url={}&who=admin", urlencode(url)),
        )
        .await;
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("Rule 3: billing.test / client:invoices"));

    // Bad input is answered on the page, escaped, never as an error.
    for bad in [
        "/admin/forward-auth?url=not%20a%20url&who=%00",
        "/admin/forward-auth?url=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/admin/forward-auth?url=http%3A%2F%2Fnobody.test%2F&who=root",
        "/admin/forward-auth?url=%ZZ&name=%FF",
    ] {
        let r = admin.get(app.url(bad)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{bad}");
        let page = r.text().await.unwrap();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(
            page.contains("cannot be judged") || page.contains("no rule covers"),
            "{bad}: {page}"
        );
    }
}
