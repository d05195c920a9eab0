//! The audit log page: filters (each of actor, action and subject shows exactly the matching
//! events), paging, bad filter input, the CSV export (quoting, formula defusing, itself
//! audited), the permission gate, and retention cleanup.

use crate::helpers::{PASSWORD, SUPPORT_OPERATOR, TestApp, new_client, spawn_app, spawn_with};

/// Stores a `system` event now, with plain SQL: the test's own rows to page through and purge,
/// not an operation of Portcullis (no service writes made-up actions).
async fn store_event(app: &TestApp, action: &str, subject: &str) {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject, detail, ip, user_agent) \
         VALUES ($1, 'system', $2, $3, '', '', '')",
    )
    .bind(app.state.clock.unix())
    .bind(action)
    .bind(subject)
    .execute(&app.state.db)
    .await
    .unwrap();
}

/// A client whose user agent is a spreadsheet formula with a comma and quotes in it.
fn hostile_browser() -> reqwest::Client {
    portcullis::net::http::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("=HYPERLINK(\"http://evil.example\",\"a,b\")")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_page_filters_events_and_the_export_is_safe_csv_and_audited() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    app.create_user("ada@example.com").await;
    // A failed client sign-in from a hostile user agent, and a successful one.
    let evil = hostile_browser();
    let r = app
        .client_login_with(&evil, "ada@example.com", "wrong-password")
        .await;
    assert_eq!(r.status(), 401);
    let r = app
        .client_login_with(&new_client(), "ada@example.com", PASSWORD)
        .await;
    assert_eq!(r.status(), 303);
    app.admin_login(&admin).await;

    let page = app.get("/admin/audit").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("signin.failure"), "{html}");
    assert!(html.contains("signin.success"));
    assert!(
        html.contains("=HYPERLINK(&quot;http://evil.example&quot;")
            || html.contains("=HYPERLINK(&#34;http://evil.example&#34;"),
        "the user agent is shown, escaped"
    );

    // The action filter takes a prefix; the actor filter is exact.
    let html = app
        .get("/admin/audit?action=signin.failure")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("signin.failure"));
    assert!(!html.contains("<code>signin.success</code>"), "{html}");
    let html = app
        .get("/admin/audit?action=signin&actor=nobody:0")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("No events match."));

    // A day range that excludes today finds nothing; today finds the events.
    let html = app
        .get("/admin/audit?from=2026-11-01&to=2026-11-27")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("No events match."));
    let html = app
        .get("/admin/audit?from=2026-11-28&to=2026-11-28")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("signin.failure"));

    // A malformed date is a 400 with the message next to its field, not an empty result.
    let r = app.get("/admin/audit?to=28%2F11%2F2026").await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"to-error\""), "{html}");
    assert!(html.contains("use the form 2026-11-28"));
    let r = app.get("/admin/audit.csv?from=yesterday").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("from filter"));

    // The export: a CSV attachment with every matching event, formulas defused, quoting right.
    let r = app.get("/admin/audit.csv?action=signin").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"portcullis-audit-")
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "id,time_utc,actor,action,subject,detail,ip,user_agent"
    );
    // root's sign-in, ada's success, ada's failure: newest first.
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[1].contains(",admin:1,signin.success,admin:1,"),
        "{csv}"
    );
    let failure = lines[3];
    assert!(failure.contains(",2026-11-28T12:00:00Z,anonymous,signin.failure,ada@example.com,"));
    assert!(
        failure.ends_with(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"a,b\"\")\""),
        "the formula is defused and quoted: {failure}"
    );

    // The export itself is an audit event.
    let (actor, detail): (String, String) =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'audit.exported'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(actor.starts_with("admin:"));
    assert!(
        detail.starts_with("3 event(s); filters: action=signin"),
        "{detail}"
    );
}

#[tokio::test]
async fn pages_hold_a_hundred_events_and_link_to_older_ones() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    for i in 0..150 {
        store_event(&app, "test.event", &format!("item-{i:03}")).await;
    }
    app.admin_login(&admin).await;
    let html = app
        .get("/admin/audit?action=test")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("<code>test.event</code>").count(), 100);
    assert!(html.contains("item-149") && !html.contains("item-049"));
    let older = html
        .split("<a href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|href| href.contains("before="))
        .expect("a link to older events")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let html = app.get(&older).await.text().await.unwrap();
    assert_eq!(
        html.matches("<code>test.event</code>").count(),
        50,
        "{older}"
    );
    assert!(html.contains("item-049") && !html.contains("item-050"));
    assert!(!html.contains("before="), "the last page has no older link");
    let csv = app
        .get("/admin/audit.csv?action=test.event")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.matches(",test.event,").count(),
        150,
        "the export is not paged"
    );
}

#[tokio::test]
async fn a_role_without_the_permission_is_refused_with_the_reason() {
    let app = spawn_app().await;
    app.create_admin("root").await;
    let support = app.create_admin_in_role("helpdesk", SUPPORT_OPERATOR).await;
    let browser = app.signed_in_admin(&support.username).await;
    for path in ["/admin/audit", "/admin/audit.csv"] {
        let r = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains("view_audit_log"), "{html}");
    }
}

#[tokio::test]
async fn retention_removes_only_events_older_than_the_setting() {
    let app = spawn_with(|c| c.audit.retention_days = 30).await;
    let insert = |action: &'static str| store_event(&app, action, "");
    for _ in 0..12_000 {
        insert("old.event").await;
    }
    app.clock.advance(20 * 86_400);
    insert("recent.event").await;
    app.clock.advance(11 * 86_400);
    // More than two batches are past retention; the recent one is 11 days old.
    let removed = portcullis::scheduler::housekeeping::audit(&app.state)
        .await
        .unwrap()
        .rows;
    assert_eq!(removed, 12_000);
    let left: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, ["recent.event"]);

    // 0 keeps everything.
    let keep = spawn_with(|c| c.audit.retention_days = 0).await;
    store_event(&keep, "kept", "").await;
    keep.clock.advance(10_000 * 86_400);
    assert_eq!(
        portcullis::scheduler::housekeeping::audit(&keep.state)
            .await
            .unwrap()
            .rows,
        0
    );
}

/// The events a page shows, newest first, as (actor, action, subject).
fn shown(html: &str) -> Vec<(String, String, String)> {
    html.split("<tr><td>")
        .skip(1)
        .map(|row| {
            let cells: Vec<&str> = row.split("</td>").collect();
            let text = |i: usize| {
                cells[i]
                    .trim_start_matches("<td>")
                    .trim_start_matches("<code>")
                    .trim_end_matches("</code>")
                    .to_owned()
            };
            (text(1), text(2), text(3))
        })
        .collect()
}

#[tokio::test]
async fn the_actor_and_subject_filters_show_the_matching_events_and_no_others() {
    let app = spawn_app().await;
    let admin = app.create_admin("root").await;
    for email in ["ada@example.com", "bob@example.com"] {
        app.create_user(email).await;
        let r = app
            .client_login_with(&new_client(), email, "wrong-password")
            .await;
        assert_eq!(r.status(), 401);
        let r = app.client_login_with(&new_client(), email, PASSWORD).await;
        assert_eq!(r.status(), 303);
    }
    app.admin_login(&admin).await;
    let all: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, action, subject FROM audit_log ORDER BY id DESC")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    // Ada's sign-in is the oldest success; its actor is Ada as the log names her.
    let ada = all
        .iter()
        .rev()
        .find(|(_, action, _)| action == "signin.success")
        .unwrap()
        .0
        .clone();
    for (query, actor, subject) in [
        (
            format!(
                "actor={}",
                url::form_urlencoded::byte_serialize(ada.as_bytes()).collect::<String>()
            ),
            Some(ada.as_str()),
            None,
        ),
        ("actor=anonymous".to_owned(), Some("anonymous"), None),
        (
            "subject=bob%40example.com".to_owned(),
            None,
            Some("bob@example.com"),
        ),
        (
            "actor=anonymous&subject=ada%40example.com".to_owned(),
            Some("anonymous"),
            Some("ada@example.com"),
        ),
    ] {
        let expected: Vec<_> = all
            .iter()
            .filter(|(a, _, s)| actor.is_none_or(|x| a == x) && subject.is_none_or(|x| s == x))
            .cloned()
            .collect();
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "{query} separates the events: {all:?}"
        );
        let r = app.get(&format!("/admin/audit?{query}")).await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert_eq!(shown(&html), expected, "{query}");
    }
}
