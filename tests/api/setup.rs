//! The first-admin setup link.

use crate::helpers::*;

async fn setup_link(app: &TestApp) -> String {
    let link = portcullis::account::setup_link_if_needed(&app.state)
        .await
        .unwrap()
        .expect("no admin yet");
    link.strip_prefix(&app.address).unwrap().to_owned()
}

#[tokio::test]
async fn the_setup_link_creates_the_first_full_administrator_and_signs_them_in() {
    let app = spawn_app().await;
    let path = setup_link(&app).await;
    let (_, csrf) = app.form_page(&app.client, &path).await;
    let r = app
        .post_form(
            &app.client,
            &path,
            &[
                ("username", "owner"),
                ("email", "owner@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let dash = app
        .follow_sign_in(&app.client, &r)
        .await
        .text()
        .await
        .unwrap();
    assert!(dash.contains("owner (Full Administrator)"), "{dash}");
    assert!(
        portcullis::account::setup_link_if_needed(&app.state)
            .await
            .unwrap()
            .is_none()
    );
    let again = app.get(&path).await;
    assert_eq!(again.status(), 403);
    assert!(again.text().await.unwrap().contains("already used"));
}

#[tokio::test]
async fn an_expired_setup_link_says_when_it_expired() {
    let app = spawn_app().await;
    let path = setup_link(&app).await;
    app.clock.advance(3601);
    let r = app.get(&path).await;
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("expired at 2026-11-28 13:00 UTC")
    );
}

#[tokio::test]
async fn a_new_setup_link_replaces_the_old_one_and_garbage_links_are_unknown() {
    let app = spawn_app().await;
    let first = setup_link(&app).await;
    let _second = setup_link(&app).await;
    let old = app.get(&first).await;
    assert_eq!(old.status(), 403);
    assert!(old.text().await.unwrap().contains("expired at"));
    let r = app.get("/admin/setup/nonsense").await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("not valid"));
}
