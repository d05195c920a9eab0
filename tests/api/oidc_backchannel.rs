//! F17 "signed out of the portal, still signed in to the applications": every kind of session
//! end sends a logout token to each application that got a token from the session, through the
//! persistent queue, once; a receiver that fails is retried and then shown failed on the
//! application's page and by the doctor's `oidc.logout`. The receiver is a small HTTP server
//! started here, which keeps what it was sent.

use crate::helpers::receiver::receiver;
use crate::helpers::rp::{self, Registered};
use crate::helpers::*;
use portcullis::doctor::Severity;
use portcullis::oidc::backchannel;
use portcullis::oidc::draft::ApplicationDraft;
use serde_json::Value;

async fn application(app: &TestApp, name: &str, backchannel: &str) -> Registered {
    rp::register(
        app,
        ApplicationDraft {
            name: name.into(),
            first_party: true,
            backchannel_logout_uri: backchannel.into(),
            ..ApplicationDraft::default()
        },
    )
    .await
}

/// Signs `email` in to `registered` in `browser` (signing in first if need be) and exchanges
/// the code; the token answer.
async fn signed_in_to(
    app: &TestApp,
    browser: &reqwest::Client,
    registered: &Registered,
    email: &str,
) -> Value {
    let client = rp::client(app, registered).await;
    let request = rp::authorize_url(&client, &["email"]);
    let r = browser.get(&request.url).send().await.unwrap();
    let r = if location(&r).starts_with("/login") {
        rp::sign_in_through(app, browser, &request.url, email).await
    } else {
        r
    };
    let code = rp::param(&location(&r), "code").expect("a code");
    rp::exchange(app, registered, &code, request.verifier.secret()).await
}

/// Ada signs in to `registered` in a fresh browser, then signs out of the portal (one delivery
/// queued for it).
async fn sign_in_then_out(app: &TestApp, registered: &Registered) {
    let browser = new_client();
    signed_in_to(app, &browser, registered, "ada@example.com").await;
    let (_, csrf) = app.form_page(&browser, "/clientarea").await;
    app.sign_out(&browser, "/logout", &csrf).await;
}

fn payload(jwt: &str) -> Value {
    rp::jwt_claims(jwt)
}

fn header(jwt: &str) -> Value {
    rp::jwt_part(jwt, 0)
}

#[tokio::test]
async fn f17_signing_out_sends_one_logout_token_to_each_application_signed_in_to() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let billing_rx = receiver(200).await;
    let helpdesk_rx = receiver(200).await;
    let billing = application(&app, "Billing", &billing_rx.uri).await;
    // Registered for back-channel logout, but never signed in to from this session.
    application(&app, "Helpdesk", &helpdesk_rx.uri).await;
    let browser = new_client();
    let tokens = signed_in_to(&app, &browser, &billing, "ada@example.com").await;
    let sid = payload(tokens["id_token"].as_str().unwrap())["sid"].clone();
    assert!(sid.is_string());

    let page = app.text_with(&browser, "/account/sessions").await;
    assert!(page.contains("<td>Billing</td>"), "{page}");

    assert_eq!(app.doctor_check("oidc.logout").await.severity, Severity::Ok);
    let (_, csrf) = app.form_page(&browser, "/clientarea").await;
    app.sign_out(&browser, "/logout", &csrf).await;
    let sent = backchannel::run_once(&app.state).await.unwrap();
    assert_eq!(sent.sent, 1);
    assert_eq!(backchannel::run_once(&app.state).await.unwrap().sent, 0);
    assert!(
        helpdesk_rx.tokens().is_empty(),
        "no token to an application not signed in to"
    );
    let received = billing_rx.tokens();
    assert_eq!(received.len(), 1, "sent once");

    // The logout token as Back-Channel Logout 1.0 §2.4 has it, signed with a published key.
    let jwt = &received[0];
    let head = header(jwt);
    assert_eq!(head["typ"], "logout+jwt");
    assert_eq!(head["alg"], "RS256");
    let claims = payload(jwt);
    assert_eq!(claims["iss"], app.address.as_str());
    assert_eq!(claims["aud"], billing.application.client_id.as_str());
    assert_eq!(claims["sid"], sid);
    assert!(claims["sub"].as_str().unwrap().starts_with("client:"));
    assert!(claims["jti"].is_string());
    assert!(claims.get("nonce").is_none());
    assert_eq!(
        claims["events"],
        serde_json::json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
    );
    let jwks: Value = cookieless_client()
        .get(app.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    rp::verify_under(&jwks, jwt).expect("the signature verifies under the published key");

    let id: i64 = billing.application.id;
    let root = app.signed_in_admin("ownerbilling").await;
    let page = app
        .text_with(&root, &format!("/admin/oidc/applications/{id}"))
        .await;
    let deliveries = crate::helpers::otp::between(&page, "id=\"deliveries\"", "</table>");
    assert!(
        deliveries.contains("<td>sent</td>") && deliveries.contains("HTTP 200"),
        "{deliveries}"
    );
}

#[tokio::test]
async fn f17_a_password_change_ending_other_sessions_tells_their_applications() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let rx = receiver(204).await;
    let billing = application(&app, "Billing", &rx.uri).await;
    let laptop = new_client();
    signed_in_to(&app, &laptop, &billing, "ada@example.com").await;
    let phone = app.signed_in_client("ada@example.com").await;
    let (_, csrf) = app.form_page(&phone, "/account/password").await;
    let new_password = "amber-lantern-quiet-2031";
    let r = app
        .post_form(
            &phone,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", new_password),
                ("password_confirm", new_password),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let status = r.status();
    assert!(
        status.is_success() || status.is_redirection(),
        "{status}: {}",
        r.text().await.unwrap()
    );
    assert_eq!(backchannel::run_once(&app.state).await.unwrap().sent, 1);
    assert_eq!(rx.tokens().len(), 1);
}

#[tokio::test]
async fn f17_a_session_that_times_out_unseen_still_logs_the_applications_out() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let rx = receiver(200).await;
    let billing = application(&app, "Billing", &rx.uri).await;
    let browser = new_client();
    let tokens = signed_in_to(&app, &browser, &billing, "ada@example.com").await;
    assert_eq!(backchannel::run_once(&app.state).await.unwrap().sent, 0);
    // Nobody comes back: the idle timeout (30 minutes) passes unseen.
    app.clock.advance(31 * 60);
    assert_eq!(backchannel::run_once(&app.state).await.unwrap().sent, 1);
    assert_eq!(rx.tokens().len(), 1);
    let reason: String = sqlx::query_scalar(
        "SELECT end_reason FROM sessions WHERE ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT 1",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(reason, "idle_timeout");
    let r = cookieless_client()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "its tokens ended with it");
    // The browser that comes back is told why, as before.
    let r = browser.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn f17_an_application_that_refuses_is_retried_then_failed_and_the_doctor_says_so() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let rx = receiver(503).await;
    let billing = application(&app, "Billing", &rx.uri).await;
    sign_in_then_out(&app, &billing).await;

    let first = backchannel::run_once(&app.state).await.unwrap();
    assert_eq!(first.retried, 1);
    let check = app.doctor_check("oidc.logout").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(check.details[0].contains("HTTP 503"), "{:?}", check.details);
    // Not due yet: nothing is sent before the backoff.
    assert_eq!(backchannel::run_once(&app.state).await.unwrap().retried, 0);
    for _ in 1..backchannel::MAX_ATTEMPTS {
        app.clock.advance(86_400);
        backchannel::run_once(&app.state).await.unwrap();
    }
    assert_eq!(
        i64::try_from(rx.tokens().len()).unwrap(),
        backchannel::MAX_ATTEMPTS
    );
    let check = app.doctor_check("oidc.logout").await;
    assert_eq!(check.severity, Severity::Error, "{check:?}");
    assert!(check.summary.contains("failed"), "{}", check.summary);

    // Once the application answers again, a new sign-out is delivered.
    *rx.status.lock().unwrap() = 200;
    sign_in_then_out(&app, &billing).await;
    assert_eq!(backchannel::run_once(&app.state).await.unwrap().sent, 1);
}

#[tokio::test]
async fn f17_with_no_sender_running_queued_deliveries_are_a_doctor_warning() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let rx = receiver(200).await;
    let billing = application(&app, "Billing", &rx.uri).await;
    sign_in_then_out(&app, &billing).await;
    // A system cron every 5 minutes may leave a delivery waiting that long: not yet a warning.
    app.clock.advance(301);
    let check = app.doctor_check("oidc.logout").await;
    assert_eq!(check.severity, Severity::Ok, "{check:?}");
    app.clock.advance(300);
    let check = app.doctor_check("oidc.logout").await;
    assert_eq!(check.severity, Severity::Warning, "{check:?}");
    assert!(check.cause.contains("portcullis serve"), "{check:?}");
    assert!(check.cause.contains("portcullis cron"), "{check:?}");
}

#[tokio::test]
async fn f17_an_installation_run_by_cron_sends_the_logout_tokens_from_its_cron_run() {
    use portcullis::scheduler::{Process, run_due};
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let rx = receiver(200).await;
    let billing = application(&app, "Billing", &rx.uri).await;
    sign_in_then_out(&app, &billing).await;
    assert!(rx.tokens().is_empty(), "no sender has run");

    // `portcullis cron`'s run: the task is due for a cron process and sends the token.
    let report = run_due(&app.state, Process::Cron).await.unwrap();
    let task = report
        .tasks
        .iter()
        .find(|t| t.task == "oidc.logout.send")
        .expect("the cron ran the logout sender");
    assert!(task.ok, "{task:?}");
    assert_eq!(task.detail, "sent 1, will retry 0, failed 0");
    assert_eq!(rx.tokens().len(), 1);
    // Inside `serve` the continuous sender does it; its scheduler does not run the task.
    let serve =
        portcullis::scheduler::Task::OidcLogoutSend.schedule(&app.state.config, Process::Serve);
    assert_eq!(serve, None);
}

#[tokio::test]
async fn finished_deliveries_are_kept_100_days_then_removed_by_the_links_cleanup() {
    let app = spawn_app().await;
    app.create_user("ada@example.com").await;
    let rx = receiver(200).await;
    let billing = application(&app, "Billing", &rx.uri).await;
    sign_in_then_out(&app, &billing).await;
    assert_eq!(backchannel::run_once(&app.state).await.unwrap().sent, 1);
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM oidc_logout_deliveries")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    app.clock.advance(99 * 86_400);
    portcullis::scheduler::housekeeping::links(&app.state)
        .await
        .unwrap();
    assert_eq!(count().await, 1, "kept for 100 days");
    app.clock.advance(2 * 86_400);
    portcullis::scheduler::housekeeping::links(&app.state)
        .await
        .unwrap();
    assert_eq!(count().await, 0);
}

/// Signs admin `username` in to the admin-realm `registered` in a fresh browser and exchanges
/// the code; the token answer.
async fn admin_signed_in_to(app: &TestApp, registered: &Registered, username: &str) -> Value {
    let client = rp::client(app, registered).await;
    let request = rp::authorize_url(&client, &[]);
    let browser = new_client();
    let r = browser.get(&request.url).send().await.unwrap();
    let admin_endpoint = location(&r);
    browser.get(app.url(&admin_endpoint)).send().await.unwrap();
    let r = app.admin_login_with(&browser, username, PASSWORD).await;
    let r = browser.get(app.url(&location(&r))).send().await.unwrap();
    let code = rp::param(&location(&r), "code").expect("a code");
    rp::exchange(app, registered, &code, request.verifier.secret()).await
}

async fn admin_id(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM admins WHERE username = $1")
        .bind(username)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn f17_an_admin_disabled_or_deleted_is_logged_out_of_the_applications() {
    let app = spawn_app().await;
    let rx = receiver(200).await;
    let helpdesk = rp::register(
        &app,
        ApplicationDraft {
            name: "Helpdesk".into(),
            realm: "admin".into(),
            first_party: true,
            backchannel_logout_uri: rx.uri.clone(),
            ..ApplicationDraft::default()
        },
    )
    .await;
    app.create_admin_in_role("grace", SUPPORT_OPERATOR).await;
    app.create_admin_in_role("hal", SUPPORT_OPERATOR).await;
    let grace = admin_signed_in_to(&app, &helpdesk, "grace").await;
    let hal = admin_signed_in_to(&app, &helpdesk, "hal").await;
    let (grace_id, hal_id) = (admin_id(&app, "grace").await, admin_id(&app, "hal").await);

    // The Full Administrator disables grace and deletes hal on their pages.
    app.create_admin("root").await;
    let root = app.signed_in_admin("root").await;
    let (_, csrf) = app
        .form_page(&root, &format!("/admin/admins/{grace_id}"))
        .await;
    let r = app
        .post_form(
            &root,
            &format!("/admin/admins/{grace_id}"),
            &[
                ("role_id", SUPPORT_OPERATOR.to_string().as_str()),
                ("disabled", "on"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = app
        .post_form(
            &root,
            &format!("/admin/admins/{hal_id}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);

    let sent = backchannel::run_once(&app.state).await.unwrap();
    assert_eq!(sent.sent, 2, "{sent:?}");
    let mut told: Vec<(String, String)> = rx
        .tokens()
        .iter()
        .map(|t| {
            let c = payload(t);
            (
                c["sub"].as_str().unwrap().to_owned(),
                c["sid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    told.sort();
    let sid = |tokens: &Value| {
        payload(tokens["id_token"].as_str().unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut expected = vec![
        (format!("admin:{grace_id}"), sid(&grace)),
        (format!("admin:{hal_id}"), sid(&hal)),
    ];
    expected.sort();
    assert_eq!(
        told, expected,
        "one token each, for the session that signed in"
    );
    // And the applications' refresh tokens ended with those sessions.
    for tokens in [&grace, &hal] {
        let r = cookieless_client()
            .post(app.url("/oidc/token"))
            .basic_auth(&helpdesk.application.client_id, helpdesk.secret.as_deref())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
}

#[tokio::test]
async fn f17_a_session_ended_from_the_sessions_list_logs_its_applications_out() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let rx = receiver(200).await;
    let billing = application(&app, "Billing", &rx.uri).await;
    // The laptop signs in to Billing; the phone, another session, ends it from the list.
    let laptop = new_client();
    let tokens = signed_in_to(&app, &laptop, &billing, "ada@example.com").await;
    let phone = app.signed_in_client("ada@example.com").await;
    crate::helpers::otp::step_up(&app, &phone, "/account/sessions", &user.password).await;
    let laptop_session: String = sqlx::query_scalar(
        "SELECT session_id_hash FROM oidc_tokens WHERE application_id = $1 LIMIT 1",
    )
    .bind(billing.application.id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let (list, csrf) = app.form_page(&phone, "/account/sessions").await;
    assert!(
        list.contains(&laptop_session),
        "the laptop's session is listed"
    );
    let r = app
        .post_form(
            &phone,
            "/account/sessions/end",
            &[("session", laptop_session.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);

    assert_eq!(backchannel::run_once(&app.state).await.unwrap().sent, 1);
    let received = rx.tokens();
    assert_eq!(received.len(), 1);
    assert_eq!(
        payload(&received[0])["sid"],
        payload(tokens["id_token"].as_str().unwrap())["sid"]
    );
    assert_eq!(
        app.status_with(&phone, "/clientarea").await,
        200,
        "the phone stays"
    );
}
