//! Issue 18, items 4, 7, 9 (password notices), 11, 14 (length, strength, meter, show
//! password) and 19, on a running server: reset links end when the password or the address
//! changes, an email change waits for the new address and can be undone from the old one,
//! registration does not tell a taken address apart, and a dead reset link says what to do.

use crate::helpers::smtp::{SmtpPeer, link};
use crate::helpers::*;
use portcullis::mail::sender::run_once;

/// A password for these tests: long and not guessable, so it survives stricter defaults.
const NEW_PASSWORD: &str = "tidal-Quartz-lantern-91";

async fn request_reset(app: &TestApp, email: &str) {
    let (_, csrf) = app.form_page(&cookieless_client(), "/password/reset").await;
    let r = app
        .post_form(
            &cookieless_client(),
            "/password/reset",
            &[("email", email), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// Every queued message to `to`, oldest first, as (template, subject, text).
async fn mail_to(app: &TestApp, to: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT template, subject, text_body FROM mail_messages WHERE to_addr = $1 ORDER BY id",
    )
    .bind(to)
    .fetch_all(&app.state.db)
    .await
    .unwrap()
}

/// The path of every reset link mailed to `to`, oldest first.
async fn reset_paths(app: &TestApp, to: &str) -> Vec<String> {
    mail_to(app, to)
        .await
        .into_iter()
        .filter(|(template, _, _)| template == "password_reset")
        .map(|(_, _, text)| link(&text, &app.url("/password/reset/")).replace(&app.address, ""))
        .collect()
}

async fn set_password_with(app: &TestApp, path: &str, password: &str) -> reqwest::Response {
    let browser = new_client();
    // The request form's anonymous token: the link's own form may not open any more.
    let (_, csrf) = app.form_page(&browser, "/password/reset").await;
    app.post_form(
        &browser,
        path,
        &[
            ("password", password),
            ("password_confirm", password),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

async fn ask_email_change(app: &TestApp, browser: &reqwest::Client, to: &str) -> reqwest::Response {
    let (_, csrf) = app.form_page(browser, "/account/email").await;
    app.post_form(
        browser,
        "/account/email",
        &[
            ("email", to),
            ("current_password", PASSWORD),
            ("csrf_token", &csrf),
        ],
    )
    .await
}

#[tokio::test]
async fn completing_one_of_two_reset_links_revokes_the_other() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    request_reset(&app, &user.email).await;
    request_reset(&app, &user.email).await;
    let links = reset_paths(&app, &user.email).await;
    assert_eq!(links.len(), 2);
    assert_eq!(app.get(&links[1]).await.status(), 200, "both work at first");
    assert_eq!(
        set_password_with(&app, &links[0], NEW_PASSWORD)
            .await
            .status(),
        303
    );
    let r = app.get(&links[1]).await;
    assert_eq!(r.status(), 410, "the other link no longer works");
    let body = r.text().await.unwrap();
    assert!(body.contains("This reset link no longer works"), "{body}");
    assert!(body.contains("ends older links early"), "{body}");
}

#[tokio::test]
async fn changing_the_password_revokes_reset_links_and_mails_a_notice() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    request_reset(&app, &user.email).await;
    let browser = app.signed_in_client(&user.email).await;
    let (_, csrf) = app.form_page(&browser, "/account/password").await;
    let r = app
        .post_form(
            &browser,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let links = reset_paths(&app, &user.email).await;
    assert_eq!(app.get(&links[0]).await.status(), 410);
    // The link cannot set the password back either.
    assert_eq!(
        set_password_with(&app, &links[0], PASSWORD).await.status(),
        410
    );
    let notices: Vec<_> = mail_to(&app, &user.email)
        .await
        .into_iter()
        .filter(|(_, subject, _)| subject.contains("password was changed"))
        .collect();
    assert_eq!(notices.len(), 1, "one notice of the change (ASVS 2.2.3)");
    assert!(notices[0].2.contains("/password/reset"), "{}", notices[0].2);
}

#[tokio::test]
async fn a_completed_reset_mails_a_notice() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    request_reset(&app, &user.email).await;
    let links = reset_paths(&app, &user.email).await;
    assert_eq!(
        set_password_with(&app, &links[0], NEW_PASSWORD)
            .await
            .status(),
        303
    );
    let templates: Vec<String> = mail_to(&app, &user.email)
        .await
        .into_iter()
        .map(|(t, _, _)| t)
        .collect();
    assert_eq!(templates, ["password_reset", "password_changed"]);
}

#[tokio::test]
async fn a_used_reset_link_says_so_and_what_to_do() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    request_reset(&app, &user.email).await;
    let links = reset_paths(&app, &user.email).await;
    assert_eq!(
        set_password_with(&app, &links[0], NEW_PASSWORD)
            .await
            .status(),
        303
    );
    let r = app.get(&links[0]).await;
    assert_eq!(r.status(), 410);
    let body = r.text().await.unwrap();
    assert!(body.contains("This reset link was already used"), "{body}");
    assert!(
        body.contains(
            "Request a new link at /password/reset: each link works once, for 120 minutes"
        ),
        "{body}"
    );
    assert!(!body.contains("Please try again"), "{body}");
    let r = app
        .get(&format!("/password/reset/{}", "Z".repeat(43)))
        .await;
    assert_eq!(r.status(), 404);
    let body = r.text().await.unwrap();
    assert!(body.contains("This reset link is not valid"), "{body}");
    assert!(
        body.contains("Request a new link at /password/reset"),
        "{body}"
    );
}

#[tokio::test]
async fn an_email_change_waits_for_the_new_address_and_then_revokes_reset_links() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let browser = app.signed_in_client(&user.email).await;
    request_reset(&app, &user.email).await;
    assert_eq!(
        ask_email_change(&app, &browser, "ada@new.example")
            .await
            .status(),
        200
    );
    // Before confirmation: the old address signs in, the new one does not.
    let stored: String = sqlx::query_scalar("SELECT email FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, "ada@example.com");
    assert_eq!(
        app.client_login_with(&new_client(), "ada@new.example", PASSWORD)
            .await
            .status(),
        401,
        "the unconfirmed address is refused"
    );
    assert_eq!(
        app.client_login_with(&new_client(), "ada@example.com", PASSWORD)
            .await
            .status(),
        303
    );
    let confirm = mail_to(&app, "ada@new.example").await;
    assert_eq!(confirm.len(), 1);
    let verify = link(&confirm[0].2, &app.url("/verify-email/")).replace(&app.address, "");
    assert_eq!(app.get(&verify).await.status(), 200);
    // After: the new one signs in, the old one does not, and the old reset link is dead.
    assert_eq!(
        app.client_login_with(&new_client(), "ada@new.example", PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(
        app.client_login_with(&new_client(), "ada@example.com", PASSWORD)
            .await
            .status(),
        401
    );
    let links = reset_paths(&app, "ada@example.com").await;
    assert_eq!(app.get(&links[0]).await.status(), 410);
    let verified: Option<i64> = sqlx::query_scalar("SELECT email_verified_at FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(verified.is_some(), "the new address is confirmed");
}

#[tokio::test]
async fn the_old_address_undoes_a_confirmed_change_and_everyone_is_signed_out() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let thief = app.signed_in_client(&user.email).await;
    assert_eq!(
        ask_email_change(&app, &thief, "thief@evil.example")
            .await
            .status(),
        200
    );
    let confirm = mail_to(&app, "thief@evil.example").await;
    let verify = link(&confirm[0].2, &app.url("/verify-email/")).replace(&app.address, "");
    assert_eq!(app.get(&verify).await.status(), 200);
    let notice = mail_to(&app, "ada@example.com").await;
    assert_eq!(notice.len(), 1, "the old address is told");
    assert!(
        notice[0].2.contains("thief@evil.example"),
        "{}",
        notice[0].2
    );
    let undo = link(&notice[0].2, &app.url("/email/revert/")).replace(&app.address, "");
    // Six days later the link still works; opening it changes nothing by itself.
    app.clock.advance(6 * 24 * 3600);
    // Meanwhile the thief asked for a reset link at the new address, to use later.
    request_reset(&app, "thief@evil.example").await;
    let thief_link = reset_paths(&app, "thief@evil.example").await.remove(0);
    assert_eq!(app.get(&thief_link).await.status(), 200);
    let owner = new_client();
    let (page, csrf) = app.form_page(&owner, &undo).await;
    assert!(page.contains("Keep ada@example.com"), "{page}");
    let stored: String = sqlx::query_scalar("SELECT email FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, "thief@evil.example");
    let r = app.post_form(&owner, &undo, &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Your address is ada@example.com again"),
        "{body}"
    );
    assert!(body.contains("reset it now"), "{body}");
    let stored: String = sqlx::query_scalar("SELECT email FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, "ada@example.com");
    // The thief's session and reset link are gone; the owner signs in with the old address.
    let r = thief.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(app.get(&thief_link).await.status(), 410);
    assert_eq!(
        app.client_login_with(&new_client(), "ada@example.com", PASSWORD)
            .await
            .status(),
        303
    );
    // Once only.
    assert_eq!(app.get(&undo).await.status(), 410);
}

#[tokio::test]
async fn undoing_before_confirmation_cancels_the_pending_change() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let browser = app.signed_in_client(&user.email).await;
    ask_email_change(&app, &browser, "ada@new.example").await;
    let notice = mail_to(&app, "ada@example.com").await;
    let undo = link(&notice[0].2, &app.url("/email/revert/")).replace(&app.address, "");
    let owner = new_client();
    let (_, csrf) = app.form_page(&owner, &undo).await;
    assert_eq!(
        app.post_form(&owner, &undo, &[("csrf_token", &csrf)])
            .await
            .status(),
        200
    );
    let confirm = mail_to(&app, "ada@new.example").await;
    let verify = link(&confirm[0].2, &app.url("/verify-email/")).replace(&app.address, "");
    assert_eq!(
        app.get(&verify).await.status(),
        410,
        "the change was cancelled"
    );
    let stored: String = sqlx::query_scalar("SELECT email FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, "ada@example.com");
}

async fn register(app: &TestApp, email: &str) -> (u16, String, bool) {
    let browser = new_client();
    let (_, csrf) = app.form_page(&browser, "/register").await;
    let r = app
        .post_form(
            &browser,
            "/register",
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("email", email),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let status = r.status().as_u16();
    let session = set_cookie(&r, "portcullis_client").is_some();
    (status, r.text().await.unwrap(), session)
}

#[tokio::test]
async fn registering_a_taken_address_answers_as_for_a_new_one_and_mails_the_owner() {
    let peer = SmtpPeer::start("accept", None);
    let port = peer.port;
    let app = spawn_with(move |c| {
        c.mail.transport = "smtp".into();
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = port;
        c.mail.smtp_tls = "none".into();
        c.mail.smtp_timeout_seconds = 5;
    })
    .await;
    app.create_user("ada@example.com").await;
    let (new_status, new_page, new_session) = register(&app, "grace@example.com").await;
    let (taken_status, taken_page, taken_session) = register(&app, "ada@example.com").await;
    assert_eq!((new_status, taken_status), (200, 200));
    assert!(
        !new_session && !taken_session,
        "nobody is signed in by registering"
    );
    assert_eq!(
        new_page.replace("grace@example.com", "ADDRESS"),
        taken_page.replace("ada@example.com", "ADDRESS"),
        "the same page, word for word, but for the address typed (and the form token)"
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(users, 2);
    run_once(&app.state).await.unwrap();
    let messages = peer.messages();
    let to_ada: Vec<_> = messages
        .iter()
        .filter(|m| m.contains("To: ada@example.com"))
        .collect();
    assert_eq!(to_ada.len(), 1, "{messages:?}");
    assert!(
        to_ada[0].contains("someone tried to create a new"),
        "{}",
        to_ada[0]
    );
    assert!(to_ada[0].contains("/password/reset"), "{}", to_ada[0]);
    // Ada's password still works; the registrant's does not.
    assert_eq!(
        app.client_login_with(&new_client(), "ada@example.com", PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(
        app.client_login_with(&new_client(), "ada@example.com", NEW_PASSWORD)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn an_eleven_character_password_is_refused_by_default_in_both_realms() {
    let app = spawn_app().await;
    let (_, csrf) = app.form_page(&app.client, "/register").await;
    let r = app
        .post_form(
            &app.client,
            "/register",
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("email", "grace@example.com"),
                ("password", "qZ7#mv2!kPw"),
                ("password_confirm", "qZ7#mv2!kPw"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Use at least 12 characters.")
    );
    assert_eq!(app.state.config.client_min_password_length, 12);
    assert_eq!(app.state.config.admin_min_password_length, 12);
}

#[tokio::test]
async fn a_long_but_weak_password_is_refused_with_the_reason() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let browser = app.signed_in_client(&user.email).await;
    let (_, csrf) = app.form_page(&browser, "/account/password").await;
    for weak in ["passwordpassword", "ada@example.com1"] {
        let r = app
            .post_form(
                &browser,
                "/account/password",
                &[
                    ("current_password", PASSWORD),
                    ("password", weak),
                    ("password_confirm", weak),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(r.status(), 422, "{weak}");
        let body = r.text().await.unwrap();
        assert!(body.contains("id=\"password-error\""), "{body}");
        assert!(
            body.contains("too easy to guess") || body.contains("most commonly used"),
            "{weak}: {body}"
        );
    }
}

/// Whether `body` has the meter, the "Show password" control (both hidden until the script
/// runs, so a browser without JavaScript shows the plain form) and the script file.
fn has_password_tools(body: &str) -> bool {
    body.contains("<meter class=\"strength\" id=\"password-meter\"")
        && body.contains("data-for=\"password\"")
        && body.contains("data-reveal=\"password password_confirm\"")
        && body.contains("hidden>Show password</button>")
        && body.contains("<script src=\"/static/password.js\" defer></script>")
}

#[tokio::test]
async fn every_new_password_page_has_the_meter_and_the_show_password_control() {
    let app = spawn_app().await;
    // Setup first: it exists only while there is no admin.
    let setup = portcullis::account::setup_link_if_needed(&app.state)
        .await
        .unwrap()
        .expect("no admin yet")
        .replace(&app.address, "");
    let mut pages = vec![("setup", app.text_with(&new_client(), &setup).await)];
    pages.push(("register", app.text_with(&new_client(), "/register").await));
    let user = app.create_user("ada@example.com").await;
    request_reset(&app, &user.email).await;
    let reset = reset_paths(&app, &user.email).await.remove(0);
    pages.push(("reset", app.text_with(&new_client(), &reset).await));
    let ada = app.signed_in_client(&user.email).await;
    pages.push((
        "client password",
        app.text_with(&ada, "/account/password").await,
    ));
    app.create_admin("alice").await;
    let alice = app.signed_in_admin("alice").await;
    pages.push((
        "admin password",
        app.text_with(&alice, "/admin/account/password").await,
    ));
    let (_, csrf) = app.form_page(&ada, "/account/users").await;
    let r = app
        .post_form(
            &ada,
            "/account/users/invite",
            &[("email", "newcomer@example.com"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let invite = mail_to(&app, "newcomer@example.com").await.remove(0).2;
    let invite = link(&invite, &app.url("/invite/")).replace(&app.address, "");
    pages.push(("invitation", app.text_with(&new_client(), &invite).await));
    for (name, body) in &pages {
        assert!(has_password_tools(body), "{name}: {body}");
    }
    let r = app.get("/static/password.js").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(r.text().await.unwrap().contains("Show password"));
}
