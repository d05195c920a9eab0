//! Issue 18, item 5 follow-up, on a running server: an authenticator seed whose setup was never
//! confirmed within `TOTP_SETUP_SECONDS` is removed by the links cleanup (and counted in its run
//! summary), while a fresh setup and a confirmed app stay; and a password change, like a reset,
//! clears a seed planted by whoever knew the old password.

use crate::helpers::otp::{between, enable_totp, step_up};
use crate::helpers::{PASSWORD, TestApp, spawn_with};
use portcullis::scheduler::{Process, run_due};

const CLIENT_SECURITY: &str = "/account/security";

fn quiet(c: &mut portcullis::config::RawConfig) {
    c.proxy.cloudflare_refresh_hours = 0;
}

/// Authenticator rows of user `email`: `(confirmed, unconfirmed)`.
async fn seeds_of(app: &TestApp, email: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN confirmed_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN confirmed_at IS NULL THEN 1 ELSE 0 END), 0) FROM totp_secrets \
         WHERE realm = 'client' AND subject_id = (SELECT id FROM users WHERE email = $1)",
    )
    .bind(email.to_owned())
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

/// Opens the TOTP setup in `browser` (stepped up with `password`); returns the seed shown.
async fn start_setup(app: &TestApp, browser: &reqwest::Client, password: &str) -> String {
    step_up(app, browser, CLIENT_SECURITY, password).await;
    let page = app
        .text_with(browser, &format!("{CLIENT_SECURITY}/totp"))
        .await;
    let seed = between(&page, "id=\"totp-secret\">", "<").to_owned();
    assert!(!seed.is_empty(), "the setup page shows a seed: {page}");
    seed
}

#[tokio::test]
async fn the_links_cleanup_removes_setups_left_unconfirmed_past_their_time_and_counts_them() {
    let app = spawn_with(quiet).await;
    for email in ["ada@example.com", "bob@example.com", "cy@example.com"] {
        app.create_user(email).await;
    }
    // Ada starts a setup and leaves it; Cy confirms an app.
    let ada = app.signed_in_client("ada@example.com").await;
    start_setup(&app, &ada, PASSWORD).await;
    let cy = app.signed_in_client("cy@example.com").await;
    enable_totp(&app, &cy, CLIENT_SECURITY, PASSWORD).await;

    // Past Ada's setup time; Bob starts his setup now.
    app.clock
        .advance(portcullis::twofactor::TOTP_SETUP_SECONDS + 1);
    let bob = app.signed_in_client("bob@example.com").await;
    start_setup(&app, &bob, PASSWORD).await;
    assert_eq!(seeds_of(&app, "ada@example.com").await, (0, 1));

    let report = run_due(&app.state, Process::Serve).await.unwrap();
    let links = report
        .tasks
        .iter()
        .find(|t| t.task == "links.cleanup")
        .unwrap_or_else(|| panic!("links.cleanup did not run: {report:?}"));
    assert!(links.ok, "{links:?}");
    assert!(
        links
            .detail
            .ends_with("; removed 1 expired authenticator setup(s)"),
        "{}",
        links.detail
    );
    assert_eq!(
        seeds_of(&app, "ada@example.com").await,
        (0, 0),
        "expired setup gone"
    );
    assert_eq!(
        seeds_of(&app, "bob@example.com").await,
        (0, 1),
        "fresh setup stays"
    );
    assert_eq!(
        seeds_of(&app, "cy@example.com").await,
        (1, 0),
        "confirmed app stays"
    );
}

#[tokio::test]
async fn a_password_change_clears_a_seed_planted_before_it() {
    let app = spawn_with(quiet).await;
    app.create_user("ada@example.com").await;
    // Someone who knew the password starts a setup in their own session and leaves it.
    let intruder = app.signed_in_client("ada@example.com").await;
    start_setup(&app, &intruder, PASSWORD).await;
    assert_eq!(seeds_of(&app, "ada@example.com").await, (0, 1));

    // The owner changes the password in their own session.
    let owner = app.signed_in_client("ada@example.com").await;
    let new_password = "tidal-Quartz-lantern-91";
    let (_, csrf) = app.form_page(&owner, "/account/password").await;
    let r = app
        .post_form(
            &owner,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("password", new_password),
                ("password_confirm", new_password),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    assert_eq!(
        seeds_of(&app, "ada@example.com").await,
        (0, 0),
        "the change cleared the planted seed"
    );
}
