//! Second-factor helpers: codes from `oathtool` (an independent TOTP implementation), and the
//! steps a person takes to turn TOTP on.

use super::{TestApp, csrf_from, location};
use portcullis::clock::Clock as _;

/// The code `oathtool --totp -b SECRET` gives at `unix` seconds.
pub fn oathtool(secret_b32: &str, unix: i64) -> String {
    let out = std::process::Command::new("oathtool")
        .args(["--totp", "-b", &format!("--now=@{unix}"), secret_b32])
        .output()
        .expect("oathtool is installed (Debian package oathtool; scripts/test installs it)");
    assert!(out.status.success(), "oathtool failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The text between `start` and the next `end` in `html`.
pub fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {html}"))
        + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}

/// Backup codes listed on a page.
pub fn backup_codes(html: &str) -> Vec<String> {
    let list = between(html, "id=\"backup-codes\">", "</ul>");
    list.split("<code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap().to_owned())
        .collect()
}

/// Steps up on the security page at `base` with the password.
pub async fn step_up(app: &TestApp, client: &reqwest::Client, base: &str, password: &str) {
    let (_, csrf) = app.form_page(client, base).await;
    let r = app
        .post_form(
            client,
            &format!("{base}/confirm"),
            &[("password", password), ("csrf_token", &csrf)],
        )
        .await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Confirmed."), "{body}");
}

/// Turns TOTP on for the signed-in `client` (security page at `base`); returns the base32 seed
/// and the backup codes shown.
pub async fn enable_totp(
    app: &TestApp,
    client: &reqwest::Client,
    base: &str,
    password: &str,
) -> (String, Vec<String>) {
    step_up(app, client, base, password).await;
    let (page, csrf) = app.form_page(client, &format!("{base}/totp")).await;
    assert!(
        page.contains("<svg"),
        "the QR code is rendered inline: {page}"
    );
    let secret = between(&page, "id=\"totp-secret\">", "<").to_owned();
    let code = oathtool(&secret, app.clock.unix());
    let r = app
        .post_form(
            client,
            &format!("{base}/totp"),
            &[("code", code.as_str()), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let codes = backup_codes(&body);
    assert_eq!(codes.len(), 10, "{body}");
    // The enrolment used this step; move on so a sign-in can use the next one.
    app.clock.advance(30);
    (secret, codes)
}

/// Posts the password form and expects the challenge; returns its CSRF token.
pub async fn password_then_challenge(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> String {
    let r = app.client_login_with(client, email, password).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login/2fa");
    let page = client
        .get(app.url("/login/2fa"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_from(&page)
}
