//! The session cookies: one per realm, host-only, `HttpOnly`, `SameSite=Lax`, `Secure` and
//! `__Host-`-prefixed when the System URL is https.
//!
//! No `Domain` attribute is ever set, so a cookie cannot leak to sibling hosts, and the
//! canonical-origin step makes sure pages are only used on the System URL's host.

use crate::app::AppState;
use crate::session::Realm;
use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// The cookie name for a realm.
pub fn name(state: &AppState, realm: Realm) -> &'static str {
    match (state.config.system_url.is_https(), realm) {
        (true, Realm::Client) => "__Host-portcullis_client",
        (true, Realm::Admin) => "__Host-portcullis_admin",
        (false, Realm::Client) => "portcullis_client",
        (false, Realm::Admin) => "portcullis_admin",
    }
}

/// The cookie of a pending sign-in (password right, second factor due) for a realm.
pub fn pending_name(state: &AppState, realm: Realm) -> &'static str {
    match (state.config.system_url.is_https(), realm) {
        (true, Realm::Client) => "__Host-portcullis_client_2fa",
        (true, Realm::Admin) => "__Host-portcullis_admin_2fa",
        (false, Realm::Client) => "portcullis_client_2fa",
        (false, Realm::Admin) => "portcullis_admin_2fa",
    }
}

fn base(state: &AppState, realm: Realm, value: String) -> Cookie<'static> {
    base_named(state, name(state, realm), value)
}

fn base_named(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.system_url.is_https())
        .build()
}

/// A jar that sets the session cookie; persistent for "remember me".
pub fn set(state: &AppState, realm: Realm, value: String, max_age: Option<i64>) -> CookieJar {
    let mut cookie = base(state, realm, value);
    if let Some(seconds) = max_age {
        cookie.set_max_age(cookie::time::Duration::seconds(seconds));
    }
    CookieJar::new().add(cookie)
}

/// A jar that removes the session cookie.
pub fn clear(state: &AppState, realm: Realm) -> CookieJar {
    let mut cookie = base(state, realm, String::new());
    cookie.make_removal();
    CookieJar::new().add(cookie)
}

/// The realm's cookie value from the request, if any. Malformed cookie headers are ignored.
pub fn read(headers: &HeaderMap, state: &AppState, realm: Realm) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(name(state, realm))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// A jar that sets the pending sign-in cookie (a browser-session cookie: it lives minutes).
pub fn set_pending(state: &AppState, realm: Realm, value: String) -> CookieJar {
    CookieJar::new().add(base_named(state, pending_name(state, realm), value))
}

/// A jar that removes the pending sign-in cookie.
pub fn clear_pending(state: &AppState, realm: Realm) -> CookieJar {
    let mut cookie = base_named(state, pending_name(state, realm), String::new());
    cookie.make_removal();
    CookieJar::new().add(cookie)
}

/// The realm's pending sign-in cookie value, if any.
pub fn read_pending(headers: &HeaderMap, state: &AppState, realm: Realm) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(pending_name(state, realm))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}
