//! F18's diagnosis, `forward_auth.setup`, reproduced on a running server: each cause is made
//! the way a misconfigured proxy or cookie makes it (a check from an untrusted address, one
//! without the original URL, a host no rule covers, a signed-in browser bounced back, rules on
//! hosts the session cookie never reaches), and the check names it with its next step. What
//! the proxies sent counts for 24 hours.

use crate::helpers::*;
use portcullis::doctor::{CheckResult, Severity};

const ID: &str = "forward_auth.setup";

/// A portal at portal.fa.test whose parent-domain cookie reaches every protected host.
async fn scoped(trusted: Option<&str>) -> TestApp {
    spawn_with(|c| {
        c.server.system_url = "http://portal.fa.test/".into();
        c.forward_auth.cookie_domain = "fa.test".into();
        c.forward_auth.rules = vec![
            "status.fa.test /public bypass".into(),
            "status.fa.test / client".into(),
        ];
        if let Some(t) = trusted {
            c.proxy.trusted = vec![t.into()];
        }
    })
    .await
}

/// nginx's check for `url`, or with no original URL at all.
async fn ask_nginx(app: &TestApp, url: Option<&str>) -> reqwest::Response {
    let mut r = cookieless_client().get(app.url("/forward-auth/nginx"));
    if let Some(u) = url {
        r = r
            .header("x-original-url", u)
            .header("x-original-method", "GET");
    }
    r.send().await.unwrap()
}

fn shows(check: &CheckResult) -> String {
    format!("{check:#?}")
}

#[tokio::test]
async fn with_no_rules_and_no_checks_forward_authentication_is_not_in_use() {
    let app = spawn_app().await;
    let check = app.doctor_check(ID).await;
    assert_eq!(check.severity, Severity::Ok, "{}", shows(&check));
    assert!(check.summary.contains("not in use"), "{}", check.summary);
}

#[tokio::test]
async fn a_host_no_rule_covers_then_a_missing_original_url_are_named_for_24_hours() {
    let app = scoped(None).await;
    let check = app.doctor_check(ID).await;
    assert_eq!(check.severity, Severity::Ok, "{}", shows(&check));
    assert!(
        check
            .summary
            .starts_with("2 forward-authentication rule(s)")
    );

    // The proxy sends a host the rules do not name: denied, and counted.
    let r = ask_nginx(&app, Some("http://wiki.fa.test/page?token=secret")).await;
    assert_eq!(r.status(), 403);
    let check = app.doctor_check(ID).await;
    assert_eq!(check.severity, Severity::Warning, "{}", shows(&check));
    assert!(check.summary.contains("wiki.fa.test"), "{}", check.summary);
    assert!(check.next_step.contains("Add a rule for wiki.fa.test"));
    assert!(
        !shows(&check).contains("secret"),
        "the query is never kept: {}",
        shows(&check)
    );

    // A proxy block without X-Original-URL: an error, which leads; the host stays listed.
    let r = ask_nginx(&app, None).await;
    assert_eq!(r.status(), 401);
    let check = app.doctor_check(ID).await;
    assert_eq!(check.severity, Severity::Error, "{}", shows(&check));
    assert!(
        check.summary.contains("/forward-auth/nginx"),
        "{}",
        check.summary
    );
    assert!(check.cause.contains("X-Original-URL"), "{}", check.cause);
    assert!(check.next_step.contains("proxy_set_header X-Original-URL"));
    assert!(
        check
            .details
            .iter()
            .any(|d| d.starts_with("Also (warning)") && d.contains("wiki.fa.test")),
        "{:?}",
        check.details
    );

    // What the proxies sent is a day's evidence.
    app.clock.advance(25 * 3600);
    assert_eq!(app.doctor_check(ID).await.severity, Severity::Ok);
}

#[tokio::test]
async fn a_check_from_an_untrusted_address_names_the_address_and_proxy_trusted() {
    let app = scoped(Some("10.9.9.9")).await;
    let r = ask_nginx(&app, Some("http://status.fa.test/")).await;
    assert_eq!(r.status(), 401, "the setup page, not a decision");
    let check = app.doctor_check(ID).await;
    assert_eq!(check.severity, Severity::Error, "{}", shows(&check));
    assert!(check.summary.contains("127.0.0.1"), "{}", check.summary);
    assert!(check.summary.contains("not a trusted proxy"));
    assert!(
        check.next_step.contains("proxy.trusted"),
        "{}",
        check.next_step
    );
}

#[tokio::test]
async fn rules_on_hosts_the_cookie_never_reaches_are_named_before_anyone_loops() {
    // The default host-only cookie: only the portal's host sees it.
    let app = spawn_with(|c| {
        c.forward_auth.rules = vec![
            "status.test /public bypass".into(),
            "status.test / client".into(),
            "*.ops.test / admin".into(),
            "closed.test / deny".into(),
        ];
    })
    .await;
    let check = app.doctor_check(ID).await;
    assert_eq!(check.severity, Severity::Error, "{}", shows(&check));
    assert!(
        check
            .summary
            .starts_with("2 rule(s) ask for a sign-in on a host the session cookie never reaches, first rule 2 (status.test / client)"),
        "{}",
        check.summary
    );
    assert!(check.cause.contains("host-only"), "{}", check.cause);
    assert!(check.next_step.contains("forward_auth.cookie_domain"));
    assert!(
        check
            .details
            .iter()
            .any(|d| d.starts_with("rule 3 (*.ops.test / admin)")),
        "{:?}",
        check.details
    );

    // A parent-domain cookie reaches what is below its domain, and nothing else.
    let app = spawn_with(|c| {
        c.server.system_url = "http://portal.fa.test/".into();
        c.forward_auth.cookie_domain = "fa.test".into();
        c.forward_auth.rules = vec![
            "*.fa.test / client".into(),
            "status.other.test / client".into(),
        ];
    })
    .await;
    let check = app.doctor_check(ID).await;
    assert_eq!(check.severity, Severity::Error, "{}", shows(&check));
    assert!(
        check
            .summary
            .contains("first rule 2 (status.other.test / client)"),
        "{}",
        check.summary
    );
    assert!(check.cause.contains("scoped to fa.test"), "{}", check.cause);
    assert_eq!(check.details.len(), 1, "{:?}", check.details);
}

#[tokio::test]
async fn a_browser_bounced_back_signed_in_leads_with_the_loop_and_its_cause() {
    let app = spawn_with(|c| c.forward_auth.rules = vec!["status.test / client".into()]).await;
    app.create_user("ada@example.com").await;
    let browser = app.signed_in_client("ada@example.com").await;
    let start = format!(
        "/forward-auth/signin?rd={}",
        url::form_urlencoded::byte_serialize(b"http://status.test/board").collect::<String>()
    );
    for _ in 0..portcullis::forward_auth::LOOP_RETURNS {
        browser.get(app.url(&start)).send().await.unwrap();
    }
    let check = app.doctor_check(ID).await;
    assert_eq!(check.severity, Severity::Error, "{}", shows(&check));
    assert!(
        check
            .summary
            .contains("sent round in a loop, most often for status.test"),
        "{}",
        check.summary
    );
    assert!(
        check.cause.contains("host-only") && check.cause.contains("status.test"),
        "{}",
        check.cause
    );
    assert!(
        check.next_step.contains("http://status.test/board"),
        "{}",
        check.next_step
    );
    assert!(
        check
            .details
            .iter()
            .any(|d| d.starts_with("Also (error): 1 rule(s) ask for a sign-in")),
        "{:?}",
        check.details
    );
}
