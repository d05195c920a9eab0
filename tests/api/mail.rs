//! F10 (reset links) and F11 (mail delivery) against a real SMTP server process.

use crate::helpers::smtp::{SmtpPeer, closed_port, link};
use crate::helpers::*;
use portcullis::doctor::Severity;
use portcullis::mail::sender::run_once;

async fn app_with_smtp(
    port: u16,
    configure: impl FnOnce(&mut portcullis::config::RawConfig),
) -> TestApp {
    spawn_with(move |c| {
        c.mail.transport = "smtp".into();
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = port;
        c.mail.smtp_tls = "none".into();
        c.mail.smtp_timeout_seconds = 5;
        configure(c);
    })
    .await
}

async fn request_reset(app: &TestApp, path: &str, email: &str) -> reqwest::Response {
    let (_, csrf) = app.form_page(&cookieless_client(), path).await;
    app.post_form(
        &cookieless_client(),
        path,
        &[("email", email), ("csrf_token", &csrf)],
    )
    .await
}

#[tokio::test]
async fn f10_a_reset_link_from_a_real_smtp_server_works_even_opened_on_another_host() {
    let peer = SmtpPeer::start("accept", None);
    let app = app_with_smtp(peer.port, |_| {}).await;
    let user = app.create_user("ada@example.com").await;
    let phone = app.signed_in_client(&user.email).await;

    let r = request_reset(&app, "/password/reset", &user.email).await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("If an account uses that address")
    );
    assert_eq!(run_once(&app.state).await.unwrap().sent, 1);
    let messages = peer.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].contains("Subject: Reset your 127.0.0.1 password"),
        "{}",
        messages[0]
    );
    let reset_link = link(&messages[0], &app.url("/password/reset/"));

    // Opened on another origin: redirected to the System URL with the token intact.
    let elsewhere = reset_link.replace("127.0.0.1", "localhost");
    let r = app.client.get(&elsewhere).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(location(&r), reset_link);

    let browser = new_client();
    let page = browser
        .get(&reset_link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let new_password = "amber-lighthouse-orbit-2044";
    let r = browser
        .post(&reset_link)
        .form(&[
            ("password", new_password),
            ("password_confirm", new_password),
            ("csrf_token", &csrf_from(&page)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?reset=done");
    let login = app.text_with(&browser, "/login?reset=done").await;
    assert!(login.contains("Your password was changed"));

    assert_eq!(
        app.status_with(&phone, "/clientarea").await,
        303,
        "every session ended"
    );
    assert_eq!(
        app.client_login_with(&new_client(), &user.email, &user.password)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.client_login_with(&new_client(), &user.email, new_password)
            .await
            .status(),
        303
    );
    run_once(&app.state).await.unwrap();
    let notice = &peer.messages()[1];
    assert!(notice.contains("password was changed"), "{notice}");
    let bodies: String = sqlx::query_scalar(
        "SELECT text_body || html_body FROM mail_messages WHERE template = 'password_reset'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(
        bodies.is_empty(),
        "a sent reset link is not kept in the database"
    );
}

#[tokio::test]
async fn f10_unknown_expired_and_used_links_each_say_which() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let r = app
        .get(&format!("/password/reset/{}", "Z".repeat(43)))
        .await;
    assert_eq!(r.status(), 404);
    let body = r.text().await.unwrap();
    assert!(body.contains("This reset link is not valid"), "{body}");
    assert!(body.contains("not one we sent"), "{body}");

    request_reset(&app, "/password/reset", &user.email).await;
    let message: String = sqlx::query_scalar("SELECT text_body FROM mail_messages")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let path = link(&message, &app.url("/password/reset/")).replace(&app.address, "");
    assert_eq!(app.get(&path).await.status(), 200);
    app.clock.advance(2 * 3600 + 1);
    let r = app.get(&path).await;
    assert_eq!(r.status(), 410);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("This link expired at 2026-11-28 14:00 UTC")
    );

    app.clock.advance(-(2 * 3600 + 1));
    let (_, csrf) = app.form_page(&app.client, &path).await;
    let pw = "amber-lighthouse-orbit-2044";
    assert_eq!(
        app.post_form(
            &app.client,
            &path,
            &[
                ("password", pw),
                ("password_confirm", pw),
                ("csrf_token", &csrf)
            ]
        )
        .await
        .status(),
        303
    );
    let r = app.get(&path).await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("already used at"));
}

#[tokio::test]
async fn f10_requesting_a_reset_does_not_reveal_whether_the_account_exists() {
    let app = spawn_app().await;
    app.create_user("known@example.com").await;
    let known = request_reset(&app, "/password/reset", "known@example.com").await;
    let unknown = request_reset(&app, "/password/reset", "nobody@example.com").await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages WHERE template = 'password_reset'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(queued, 1);
}

#[tokio::test]
async fn f10_reset_requests_are_rate_limited_per_account() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    for _ in 0..6 {
        assert_eq!(
            request_reset(&app, "/password/reset", "ada@example.com")
                .await
                .status(),
            200
        );
    }
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(queued, 3);
}

#[tokio::test]
async fn f10_admins_reset_by_email_unless_the_setting_disables_it() {
    let app = spawn_app().await;
    app.create_admin("alice").await;
    request_reset(&app, "/admin/password/reset", "alice@example.com").await;
    let message: String = sqlx::query_scalar("SELECT text_body FROM mail_messages")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(message.contains(&app.url("/admin/password/reset/")));

    let off = spawn_with(|c| c.auth.admin_password_reset = false).await;
    off.create_admin("alice").await;
    let page = off.get("/admin/password/reset").await.text().await.unwrap();
    assert!(page.contains("switched off for administrators"));
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages")
        .fetch_one(&off.state.db)
        .await
        .unwrap();
    assert_eq!(queued, 0);
}

#[tokio::test]
async fn f11_a_refused_connection_is_retried_with_backoff_then_failed_with_the_reason_kept() {
    let app = app_with_smtp(closed_port(), |c| c.mail.max_attempts = 3).await;
    portcullis::mail::queue::send_generic(
        &app.state,
        "ada@example.com",
        "Your order #42",
        "Thanks.",
    )
    .await
    .unwrap();
    assert_eq!(run_once(&app.state).await.unwrap().retried, 1);
    app.clock.advance(59);
    assert_eq!(
        run_once(&app.state).await.unwrap(),
        portcullis::mail::sender::Summary::default(),
        "not due before the backoff"
    );
    app.clock.advance(1);
    assert_eq!(run_once(&app.state).await.unwrap().retried, 1);
    app.clock.advance(120);
    assert_eq!(run_once(&app.state).await.unwrap().failed, 1);
    let (state, attempts, reply): (String, i64, String) =
        sqlx::query_as("SELECT state, attempts, last_reply FROM mail_messages")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("failed", 3));
    assert!(
        reply.to_lowercase().contains("connect") || reply.to_lowercase().contains("refused"),
        "{reply}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_attempts")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows, 3);

    let transport = app.doctor_check("mail.transport").await;
    assert_eq!(transport.severity, Severity::Error);
    assert!(
        transport
            .summary
            .contains(&format!("127.0.0.1:{}", app.state.config.mail.smtp_port)),
        "{}",
        transport.summary
    );
    let queue = app.doctor_check("mail.queue").await;
    assert_eq!(queue.severity, Severity::Warning);
    assert!(queue.summary.contains("1 message(s) failed"));
}

#[tokio::test]
async fn f11_the_servers_4xx_and_5xx_replies_are_stored_on_the_message() {
    for (mode, code) in [("tempfail", "451"), ("permfail", "550")] {
        let peer = SmtpPeer::start(mode, None);
        let app = app_with_smtp(peer.port, |_| {}).await;
        portcullis::mail::queue::send_generic(&app.state, "ada@example.com", "Hello", "Body")
            .await
            .unwrap();
        assert_eq!(run_once(&app.state).await.unwrap().retried, 1);
        let reply: String = sqlx::query_scalar("SELECT last_reply FROM mail_messages")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert!(reply.starts_with(code), "{reply}");
        let admin = app.create_admin("alice").await;
        app.admin_login(&admin).await;
        let log = app
            .get("/admin/mail?state=queued")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            log.contains("ada@example.com") && log.contains(code),
            "{log}"
        );
    }
}

#[tokio::test]
async fn f11_smtp_auth_is_used_and_a_wrong_password_is_reported() {
    let peer = SmtpPeer::start("accept", Some("portal:s3cret"));
    let app = app_with_smtp(peer.port, |c| {
        c.mail.smtp_username = "portal".into();
        c.mail.smtp_password = "s3cret".into();
    })
    .await;
    assert_eq!(
        app.doctor_check("mail.transport").await.severity,
        Severity::Ok
    );
    portcullis::mail::queue::send_generic(&app.state, "ada@example.com", "Hello", "Body")
        .await
        .unwrap();
    assert_eq!(run_once(&app.state).await.unwrap().sent, 1);
    assert_eq!(peer.messages().len(), 1);

    let wrong = app_with_smtp(peer.port, |c| {
        c.mail.smtp_username = "portal".into();
        c.mail.smtp_password = "wrong".into();
        c.mail.smtp_timeout_seconds = 1;
    })
    .await;
    let check = wrong.doctor_check("mail.transport").await;
    assert_eq!(check.severity, Severity::Error, "{check:?}");
    assert!(
        check.summary.contains("535"),
        "the server's refusal is shown: {}",
        check.summary
    );
}

#[tokio::test]
async fn f11_with_sending_switched_off_mail_waits_and_the_doctor_says_so() {
    let app = spawn_with(|c| c.mail.enabled = false).await;
    portcullis::mail::queue::send_generic(&app.state, "ada@example.com", "Hello", "Body")
        .await
        .unwrap();
    assert_eq!(
        run_once(&app.state).await.unwrap(),
        portcullis::mail::sender::Summary::default()
    );
    assert_eq!(
        app.doctor_check("mail.transport").await.severity,
        Severity::Warning
    );
    assert_eq!(app.doctor_check("mail.queue").await.severity, Severity::Ok);
    app.clock.advance(16 * 60);
    let queue = app.doctor_check("mail.queue").await;
    assert_eq!(queue.severity, Severity::Warning);
    assert!(
        queue.summary.contains("the oldest for 16 minutes"),
        "{}",
        queue.summary
    );
}

#[tokio::test]
async fn f11_mail_test_prints_the_servers_answer() {
    let peer = SmtpPeer::start("accept", None);
    let dir = tempfile::tempdir().unwrap();
    let run = |port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .env("PORTCULLIS__DATA_DIR", dir.path())
            .env("PORTCULLIS__MAIL__TRANSPORT", "smtp")
            .env("PORTCULLIS__MAIL__SMTP_HOST", "127.0.0.1")
            .env("PORTCULLIS__MAIL__SMTP_PORT", port.to_string())
            .env("PORTCULLIS__MAIL__SMTP_TLS", "none")
            .args(["mail", "test", "--to", "ops@example.com"])
            .output()
            .unwrap()
    };
    let ok = run(peer.port);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("Accepted: 250 2.0.0 Ok: queued as test-1")
    );
    assert!(peer.messages()[0].contains("Subject: Portcullis test message"));
    let refused = run(closed_port());
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not delivered"));
}

#[tokio::test]
async fn registration_sends_a_verification_link_and_the_banner_goes_once_it_is_followed() {
    let peer = SmtpPeer::start("accept", None);
    let app = app_with_smtp(peer.port, |_| {}).await;
    let (_, csrf) = app.form_page(&app.client, "/register").await;
    let r = app
        .post_form(
            &app.client,
            "/register",
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("email", "grace@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    // Registration signs nobody in (issue 18, item 11); the new user signs in.
    assert_eq!(r.status(), 200);
    let home = app
        .sign_in_client(&app.client, "grace@example.com")
        .await
        .text()
        .await
        .unwrap();
    assert!(home.contains("Please confirm your email address"));
    run_once(&app.state).await.unwrap();
    let verify = link(&peer.messages()[0], &app.url("/verify-email/"));
    let r = new_client().get(&verify).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Your email address is confirmed")
    );
    assert!(
        !app.get("/clientarea")
            .await
            .text()
            .await
            .unwrap()
            .contains("Please confirm")
    );
    let again = new_client().get(&verify).send().await.unwrap();
    assert_eq!(again.status(), 410);
}

#[tokio::test]
async fn resending_the_verification_link_replaces_the_old_one() {
    let app = spawn_app().await;
    let (_, csrf) = app.form_page(&app.client, "/register").await;
    app.post_form(
        &app.client,
        "/register",
        &[
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("email", "grace@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
            ("csrf_token", &csrf),
        ],
    )
    .await;
    // Registration signs nobody in (issue 18, item 11); the new user signs in.
    let home = app
        .sign_in_client(&app.client, "grace@example.com")
        .await
        .text()
        .await
        .unwrap();
    let r = app
        .post_form(
            &app.client,
            "/account/verify-email/resend",
            &[("csrf_token", &csrf_from(&home))],
        )
        .await;
    assert_eq!(location(&r), "/clientarea?resent=1");
    let bodies: Vec<String> = sqlx::query_scalar("SELECT text_body FROM mail_messages ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(bodies.len(), 2);
    let first = link(&bodies[0], &app.url("/verify-email/")).replace(&app.address, "");
    let second = link(&bodies[1], &app.url("/verify-email/")).replace(&app.address, "");
    assert_eq!(app.get(&first).await.status(), 410);
    assert_eq!(app.get(&second).await.status(), 200);
}

#[tokio::test]
async fn changing_the_email_address_needs_the_password_and_a_new_confirmation() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    let (_, csrf) = app.form_page(&app.client, "/account/email").await;
    let r = app
        .post_form(
            &app.client,
            "/account/email",
            &[
                ("email", "ada@new.example"),
                ("current_password", "not-it-at-all-0"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"current_password-error\"")
    );
    let r = app
        .post_form(
            &app.client,
            "/account/email",
            &[
                ("email", "ada@new.example"),
                ("current_password", &user.password),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    // The change waits for the new address's confirmation (issue 18, item 7): the address in
    // use is still the confirmed old one.
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("We sent a link to ada@new.example")
    );
    assert!(
        !app.get("/clientarea")
            .await
            .text()
            .await
            .unwrap()
            .contains("Please confirm your email address")
    );
    let queued: Vec<(String, String, String)> =
        sqlx::query_as("SELECT to_addr, template, text_body FROM mail_messages ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(queued.len(), 2);
    assert_eq!(
        (queued[0].0.as_str(), queued[0].1.as_str()),
        ("ada@new.example", "verify_email")
    );
    assert_eq!(
        (queued[1].0.as_str(), queued[1].1.as_str()),
        ("ada@example.com", "generic"),
        "the old address is told"
    );
    let verify = link(&queued[0].2, &app.url("/verify-email/")).replace(&app.address, "");
    assert_eq!(app.get(&verify).await.status(), 200);
    assert!(
        !app.get("/clientarea")
            .await
            .text()
            .await
            .unwrap()
            .contains("Please confirm")
    );
    assert_eq!(
        app.client_login_with(&new_client(), "ada@new.example", &user.password)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn an_admin_invites_another_admin_whose_link_works_once_and_is_replaced_by_a_resend() {
    let app = spawn_app().await;
    let alice = app.create_admin("alice").await;
    app.admin_login(&alice).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/admins").await;
    for _ in 0..2 {
        let r = app
            .post_form(
                &app.client,
                "/admin/admins/invite",
                &[
                    ("email", "bob@example.com"),
                    ("role_id", "1"),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(location(&r), "/admin/admins?invited=1");
    }
    let bodies: Vec<String> = sqlx::query_scalar(
        "SELECT text_body FROM mail_messages WHERE template = 'invite_admin' ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].contains("alice invited you"));
    let old = link(&bodies[0], &app.url("/admin/invite/")).replace(&app.address, "");
    let new = link(&bodies[1], &app.url("/admin/invite/")).replace(&app.address, "");
    assert_eq!(
        app.get(&old).await.status(),
        410,
        "a resent invitation replaces the old link"
    );

    let bob = new_client();
    let (page, csrf) = app.form_page(&bob, &new).await;
    assert!(page.contains("bob@example.com"));
    let r = app
        .post_form(
            &bob,
            &new,
            &[
                ("username", "bob"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let dash = app.text_with(&bob, &location(&r)).await;
    assert!(dash.contains("bob (Full Administrator)"), "{dash}");
    assert_eq!(app.get(&new).await.status(), 410, "the link works once");
    let r = app
        .post_form(
            &app.client,
            "/admin/admins/invite",
            &[
                ("email", "bob@example.com"),
                ("role_id", "1"),
                (
                    "csrf_token",
                    &csrf_from(&app.get("/admin/admins").await.text().await.unwrap()),
                ),
            ],
        )
        .await;
    assert_eq!(r.status(), 422, "bob is an admin now");
    let audit: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    // Two invitations, bob's acceptance, then his first sign-in (through his link) and root's
    // earlier one.
    assert_eq!(
        audit.iter().filter(|a| *a == "admin.invite").count(),
        2,
        "{audit:?}"
    );
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "admin.invitation_accepted")
            .count(),
        1,
        "{audit:?}"
    );
    assert!(
        audit.iter().all(|a| a == "admin.invite"
            || a == "admin.invitation_accepted"
            || a == "signin.success"),
        "{audit:?}"
    );
}

async fn ada_invites(app: &TestApp, email: &str) -> String {
    let (_, csrf) = app.form_page(&app.client, "/account/users").await;
    let r = app
        .post_form(
            &app.client,
            "/account/users/invite",
            &[("email", email), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(location(&r), "/account/users?invited=1");
    let body: String = sqlx::query_scalar("SELECT text_body FROM mail_messages WHERE template = 'invite_user' ORDER BY id DESC LIMIT 1").fetch_one(&app.state.db).await.unwrap();
    link(&body, &app.url("/invite/")).replace(&app.address, "")
}

#[tokio::test]
async fn an_owner_invites_a_new_person_who_creates_a_user_and_lands_in_the_shared_account() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.com").await;
    app.client_login(&ada).await;
    let ada_client: i64 = sqlx::query_scalar("SELECT id FROM clients")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let first = ada_invites(&app, "grace@example.com").await;
    let path = ada_invites(&app, "grace@example.com").await;
    assert_eq!(
        app.get(&first).await.status(),
        410,
        "a resent invitation replaces the old link"
    );

    let grace = new_client();
    let (page, csrf) = app.form_page(&grace, &path).await;
    assert!(page.contains("as grace@example.com"));
    let r = app
        .post_form(
            &grace,
            &path,
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let home = app.text_with(&grace, &location(&r)).await;
    assert!(
        home.contains("Welcome, Grace") && home.contains("working in the account Ada Lovelace"),
        "{home}"
    );
    let active: Option<i64> = sqlx::query_scalar(
        "SELECT s.client_id FROM sessions s JOIN users u ON u.id = s.subject_id \
         WHERE s.realm = 'client' AND s.ended_at IS NULL AND u.email = 'grace@example.com'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(active, Some(ada_client));
    let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        owned, 1,
        "an invited user gets no empty account of their own"
    );
    assert!(
        app.get("/account/users")
            .await
            .text()
            .await
            .unwrap()
            .contains("Grace Hopper &lt;grace@example.com&gt;")
    );
    assert_eq!(app.get(&path).await.status(), 410, "the link works once");
    assert_eq!(
        app.status_with(&grace, "/account/users").await,
        403,
        "only the owner invites"
    );
    let again = app
        .client_login_with(&new_client(), "grace@example.com", PASSWORD)
        .await;
    let home = new_client()
        .get(app.url("/clientarea"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 303);
    drop(home);
}

#[tokio::test]
async fn an_existing_user_must_sign_in_as_the_invited_address_to_join() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    app.client_login(&ada).await;
    let path = ada_invites(&app, "bob@example.com").await;

    let stranger = new_client();
    let page = app.text_with(&stranger, &path).await;
    let (_, csrf) = app.form_page(&stranger, "/login").await;
    assert!(
        page.contains("already exists") && page.contains("Sign in as bob@example.com"),
        "{page}"
    );
    assert_eq!(
        app.post_form(&stranger, &path, &[("csrf_token", &csrf)])
            .await
            .status(),
        403
    );

    let bob_browser = app.signed_in_client(&bob.email).await;
    let (page, csrf) = app.form_page(&bob_browser, &path).await;
    assert!(page.contains("Join the account"));
    let r = app
        .post_form(&bob_browser, &path, &[("csrf_token", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM client_users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(members, 1);
}
