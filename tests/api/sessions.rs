//! Session rotation, fixation, listing and ending sessions, throttled activity writes.

use crate::helpers::*;

#[tokio::test]
async fn signing_in_again_rotates_the_session_id_and_the_old_id_is_dead() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let first = app
        .client_login_with(&app.client, &user.email, &user.password)
        .await;
    let old = set_cookie(&first, "portcullis_client").unwrap();
    // The browser still holds the first session and sends the sign-in form again (an old tab).
    let (_, csrf) = app.form_page(&cookieless_client(), "/login").await;
    let second = app
        .post_form(
            &app.client,
            "/login",
            &[
                ("email", &user.email),
                ("password", &user.password),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    let new = set_cookie(&second, "portcullis_client").unwrap();
    assert_ne!(old, new);
    let with_old = app
        .get_with_cookie("/clientarea", &format!("portcullis_client={old}"))
        .await;
    assert_eq!(with_old.status(), 303, "the pre-sign-in id must not work");
    let with_new = app
        .get_with_cookie("/clientarea", &format!("portcullis_client={new}"))
        .await;
    assert_eq!(with_new.status(), 200);
}

#[tokio::test]
async fn a_session_id_planted_before_sign_in_is_never_adopted() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let planted = "A".repeat(43);
    let client = cookieless_client();
    let page = client
        .get(app.url("/login"))
        .header("cookie", format!("portcullis_client={planted}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = client
        .post(app.url("/login"))
        .header("cookie", format!("portcullis_client={planted}"))
        .form(&[
            ("email", user.email.as_str()),
            ("password", &user.password),
            ("csrf_token", &csrf_from(&page)),
        ])
        .send()
        .await
        .unwrap();
    let issued = set_cookie(&response, "portcullis_client").unwrap();
    assert_ne!(issued, planted);
    let with_planted = app
        .get_with_cookie("/clientarea", &format!("portcullis_client={planted}"))
        .await;
    assert_eq!(with_planted.status(), 303);
}

#[tokio::test]
async fn a_user_sees_their_sessions_and_ends_another_one() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let phone = app.signed_in_client(&user.email).await;
    app.client_login(&user).await;
    // Ending another session needs the password again (ASVS 3.3.4).
    crate::helpers::otp::step_up(&app, &app.client, "/account/sessions", &user.password).await;

    let list = app.get("/account/sessions").await.text().await.unwrap();
    assert_eq!(
        list.matches("<tr>").count() - 1,
        2,
        "two sessions and a header row: {list}"
    );
    assert!(list.contains("This session"));
    let other = list
        .split("name=\"session\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let csrf = csrf_from(&list);
    let ended = app
        .post_form(
            &app.client,
            "/account/sessions/end",
            &[("session", &other), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(ended.status(), 303);

    let phone_area = phone.get(app.url("/clientarea")).send().await.unwrap();
    assert_eq!(phone_area.status(), 303);
    let login = phone
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("ended from another session"), "{login}");
    assert_eq!(
        app.get("/clientarea").await.status(),
        200,
        "the current session survives"
    );
}

#[tokio::test]
async fn ending_a_session_that_belongs_to_someone_else_does_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user("ada@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let bob_client = new_client();
    let r = app
        .client_login_with(&bob_client, &bob.email, &bob.password)
        .await;
    let bob_cookie = set_cookie(&r, "portcullis_client").unwrap();
    let bob_hash = portcullis::token::hash(&bob_cookie);
    let page = app.client_login(&ada).await.text().await.unwrap();
    let csrf = csrf_from(&page);
    // Stepped up, so that only the ownership rule stands between Ada and Bob's session.
    crate::helpers::otp::step_up(&app, &app.client, "/account/sessions", &ada.password).await;
    app.post_form(
        &app.client,
        "/account/sessions/end",
        &[("session", &bob_hash), ("csrf_token", &csrf)],
    )
    .await;
    let still = app
        .get_with_cookie("/clientarea", &format!("portcullis_client={bob_cookie}"))
        .await;
    assert_eq!(still.status(), 200);
}

#[tokio::test]
async fn an_admin_ends_all_other_sessions() {
    let app = spawn_app().await;
    let admin = app.create_admin("alice").await;
    let laptop = app.signed_in_admin(&admin.username).await;
    app.admin_login(&admin).await;
    crate::helpers::otp::step_up(&app, &app.client, "/admin/sessions", &admin.password).await;
    let list = app.get("/admin/sessions").await.text().await.unwrap();
    assert!(list.contains("End all other sessions"));
    let csrf = csrf_from(&list);
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
async fn activity_is_written_at_most_once_per_interval() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    app.client_login(&user).await;
    let last_seen = || async {
        sqlx::query_scalar::<_, i64>("SELECT last_seen_at FROM sessions WHERE realm = 'client'")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    let start = last_seen().await;
    app.clock.advance(30);
    app.get("/clientarea").await;
    assert_eq!(last_seen().await, start, "no write within the interval");
    app.clock.advance(31);
    app.get("/clientarea").await;
    assert_eq!(last_seen().await, start + 61);
}
