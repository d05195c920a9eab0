//! Review of issue 18, sessions (ASVS 4.0.3 L2): ending another session needs the password or a
//! current code again (3.3.4), sessions end after 30 idle minutes by default (3.3.2), and an
//! operator can turn "Keep me signed in" off to keep every session within 12 hours.

use crate::helpers::otp::step_up;
use crate::helpers::*;

/// The id of the first session on the page that is not this one (its "End session" button).
fn other_session(list: &str) -> Option<String> {
    list.split("name=\"session\" value=\"")
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
}

/// The hash of the only live client session, as the page would show it once stepped up.
async fn only_client_session(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT id_hash FROM sessions WHERE realm = 'client' AND ended_at IS NULL")
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn ending_another_session_without_a_recent_step_up_is_refused_and_it_still_works() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let phone = app.signed_in_client(&user.email).await;
    let phone_hash = only_client_session(&app).await;
    app.client_login(&user).await;

    let (list, csrf) = app.form_page(&app.client, "/account/sessions").await;
    assert!(list.contains("Confirm it's you"), "{list}");
    assert!(
        list.contains("To end another session, enter your password"),
        "{list}"
    );
    assert_eq!(
        other_session(&list),
        None,
        "no ending buttons before the step-up: {list}"
    );

    // A forged request (the buttons are not shown) for one session, then for all others.
    let one = app
        .post_form(
            &app.client,
            "/account/sessions/end",
            &[("session", &phone_hash), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(one.status(), 403);
    let body = one.text().await.unwrap();
    // (The message's apostrophe is escaped in the page.)
    assert!(
        body.contains("Nothing was ended. To end another session, confirm it"),
        "{body}"
    );
    assert!(body.contains("then end it within 10 minutes."), "{body}");
    assert!(
        body.contains("action=\"/account/sessions/confirm\""),
        "the step-up form: {body}"
    );
    let others = app
        .post_form(
            &app.client,
            "/account/sessions/end-others",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(others.status(), 403);
    let phone_area = phone.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(phone_area.status(), 200, "the other session still works");

    // A wrong password is no step-up.
    let (_, csrf) = app.form_page(&app.client, "/account/sessions").await;
    let wrong = app
        .post_form(
            &app.client,
            "/account/sessions/confirm",
            &[
                ("password", "not-my-Password-at-all-42"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That password or code is not right.")
    );
    let r = app
        .post_form(
            &app.client,
            "/account/sessions/end-others",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        phone
            .get(app.url("/clientarea"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // After the step-up on the sessions page itself, it ends.
    step_up(&app, &app.client, "/account/sessions", &user.password).await;
    let (list, csrf) = app.form_page(&app.client, "/account/sessions").await;
    assert!(!list.contains("Confirm it's you"), "{list}");
    assert_eq!(other_session(&list).as_deref(), Some(phone_hash.as_str()));
    let r = app
        .post_form(
            &app.client,
            "/account/sessions/end",
            &[("session", &phone_hash), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        phone
            .get(app.url("/clientarea"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(app.get("/clientarea").await.status(), 200);
}

#[tokio::test]
async fn a_step_up_older_than_ten_minutes_no_longer_ends_other_sessions() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let phone = app.signed_in_client(&user.email).await;
    app.client_login(&user).await;
    // The security page's step-up is the same record.
    step_up(&app, &app.client, "/account/security", &user.password).await;
    app.clock.advance(11 * 60);
    let (_, csrf) = app.form_page(&app.client, "/account/sessions").await;
    let r = app
        .post_form(
            &app.client,
            "/account/sessions/end-others",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        phone
            .get(app.url("/clientarea"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn an_admin_ends_their_other_sessions_only_after_a_step_up() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    let laptop = app.signed_in_admin(&admin.username).await;
    app.admin_login(&admin).await;
    let (list, csrf) = app.form_page(&app.client, "/admin/sessions").await;
    assert!(list.contains("Confirm it's you"), "{list}");
    assert!(!list.contains("End all other sessions"), "{list}");
    let r = app
        .post_form(
            &app.client,
            "/admin/sessions/end-others",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        laptop.get(app.url("/admin")).send().await.unwrap().status(),
        200
    );

    step_up(&app, &app.client, "/admin/sessions", &admin.password).await;
    let (_, csrf) = app.form_page(&app.client, "/admin/sessions").await;
    let r = app
        .post_form(
            &app.client,
            "/admin/sessions/end-others",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        laptop.get(app.url("/admin")).send().await.unwrap().status(),
        303
    );
    assert_eq!(app.get("/admin").await.status(), 200);
}

#[tokio::test]
async fn signing_out_needs_no_step_up() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let page = app.client_login(&user).await.text().await.unwrap();
    app.sign_out(&app.client, "/logout", &csrf_from(&page))
        .await;
    assert_eq!(app.get("/clientarea").await.status(), 303);
}

#[tokio::test]
async fn with_defaults_a_session_idle_31_minutes_is_ended_and_one_idle_29_minutes_is_kept() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let admin = app.create_admin("alice").await;
    app.client_login(&user).await;
    let desk = new_client();
    app.admin_login_with(&desk, &admin.username, &admin.password)
        .await;

    app.clock.advance(29 * 60);
    assert_eq!(
        app.get("/clientarea").await.status(),
        200,
        "29 idle minutes: kept"
    );
    assert_eq!(
        desk.get(app.url("/admin")).send().await.unwrap().status(),
        200
    );

    app.clock.advance(31 * 60);
    assert_eq!(
        app.get("/clientarea").await.status(),
        303,
        "31 idle minutes: ended"
    );
    let login = app.get("/login").await.text().await.unwrap();
    assert!(
        login.contains("after 30 minutes without activity"),
        "{login}"
    );
    assert_eq!(
        desk.get(app.url("/admin")).send().await.unwrap().status(),
        303
    );
}

#[tokio::test]
async fn with_remember_me_off_the_box_is_gone_and_a_forged_remember_is_ignored() {
    let app = spawn_with(|c| c.session.client_remember = false).await;
    let user = app.create_user("ada@example.com").await;
    let (page, csrf) = app.form_page(&app.client, "/login").await;
    assert!(!page.contains("name=\"remember\""), "{page}");
    assert!(!page.contains("Keep me signed in"), "{page}");
    let r = app
        .post_form(
            &app.client,
            "/login",
            &[
                ("email", &user.email),
                ("password", &user.password),
                ("remember", "on"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let line = set_cookie_line(&r, "portcullis_client").unwrap();
    assert!(
        !line.contains("Max-Age"),
        "a browser-session cookie: {line}"
    );
    app.get(&location(&r)).await;
    app.clock.advance(31 * 60);
    assert_eq!(
        app.get("/clientarea").await.status(),
        303,
        "the idle timeout applies"
    );

    // On by default.
    let default = spawn_app().await;
    let page = default.get("/login").await.text().await.unwrap();
    assert!(page.contains("Keep me signed in"), "{page}");
}
