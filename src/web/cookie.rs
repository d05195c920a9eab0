//! The session cookies: one per realm, host-only, `HttpOnly`, `SameSite=Lax`, `Secure` and
//! `__Host-`-prefixed when the System URL is https.
//!
//! [`Cookies`] is the sub-state handlers take to set, clear and read them; it holds only what
//! the cookies depend on (whether the System URL is https), built from the configuration.
//! Lifetimes are not its business: a session's persistence comes from the session service
//! (`Started::persistent_seconds`), and a pending sign-in's cookie lives as long as the browser.
//!
//! By default no `Domain` attribute is set, so a cookie cannot leak to sibling hosts, and the
//! canonical-origin step makes sure pages are only used on the System URL's host. Forward
//! authentication's opt-in `forward_auth.cookie_domain` scopes the session cookie alone (not the
//! pending sign-in's or the parked request's) to that parent domain, so the protected hosts below
//! it see the session; its name then carries `__Secure-` (which allows a `Domain`) instead of
//! `__Host-` (which forbids one).

use crate::app::AppState;
use crate::session::Realm;
use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// The session and pending sign-in cookies of both realms.
#[derive(Clone, Debug)]
pub struct Cookies {
    /// The System URL is https: cookies are `Secure` and `__Host-`-prefixed.
    https: bool,
    /// The parent domain the session cookie is scoped to (`forward_auth.cookie_domain`).
    domain: Option<String>,
}

impl From<&AppState> for Cookies {
    fn from(state: &AppState) -> Self {
        Self {
            https: state.config.system_url.is_https(),
            domain: state.config.forward_auth.cookie_domain.clone(),
        }
    }
}

impl Cookies {
    /// Cookies for a System URL that is https or not, without the application state (for the
    /// fuzz targets, `crate::fuzzing`).
    #[doc(hidden)]
    pub fn for_https(https: bool) -> Self {
        Self {
            https,
            domain: None,
        }
    }

    /// The cookie name for a realm.
    pub fn name(&self, realm: Realm) -> &'static str {
        if self.domain.is_some() {
            return match (self.https, realm) {
                (true, Realm::Client) => "__Secure-portcullis_client",
                (true, Realm::Admin) => "__Secure-portcullis_admin",
                (false, Realm::Client) => "portcullis_client",
                (false, Realm::Admin) => "portcullis_admin",
            };
        }
        match (self.https, realm) {
            (true, Realm::Client) => "__Host-portcullis_client",
            (true, Realm::Admin) => "__Host-portcullis_admin",
            (false, Realm::Client) => "portcullis_client",
            (false, Realm::Admin) => "portcullis_admin",
        }
    }

    /// The cookie of a pending sign-in (password right, second factor due) for a realm.
    pub fn pending_name(&self, realm: Realm) -> &'static str {
        match (self.https, realm) {
            (true, Realm::Client) => "__Host-portcullis_client_2fa",
            (true, Realm::Admin) => "__Host-portcullis_admin_2fa",
            (false, Realm::Client) => "portcullis_client_2fa",
            (false, Realm::Admin) => "portcullis_admin_2fa",
        }
    }

    /// The cookie naming an OpenID authorization request parked while the person signs in
    /// (`crate::oidc::parked`): after the sign-in, the browser goes back to it.
    pub fn parked_name(&self, realm: Realm) -> &'static str {
        match (self.https, realm) {
            (true, Realm::Client) => "__Host-portcullis_client_oidc",
            (true, Realm::Admin) => "__Host-portcullis_admin_oidc",
            (false, Realm::Client) => "portcullis_client_oidc",
            (false, Realm::Admin) => "portcullis_admin_oidc",
        }
    }

    /// The cookie holding where forward authentication's sign-in returns to (a protected URL,
    /// checked again when used).
    pub fn return_name(&self, realm: Realm) -> &'static str {
        match (self.https, realm) {
            (true, Realm::Client) => "__Host-portcullis_client_return",
            (true, Realm::Admin) => "__Host-portcullis_admin_return",
            (false, Realm::Client) => "portcullis_client_return",
            (false, Realm::Admin) => "portcullis_admin_return",
        }
    }

    /// The cookie holding where a single sign-on link lands, across the second-factor step.
    pub fn sso_return_name(&self) -> &'static str {
        if self.https {
            "__Host-portcullis_sso_return"
        } else {
            "portcullis_sso_return"
        }
    }

    /// The cookie counting a browser's returns to protected hosts (F18's loop detection).
    pub fn bounce_name(&self) -> &'static str {
        if self.https {
            "__Host-portcullis_bounce"
        } else {
            "portcullis_bounce"
        }
    }

    /// A browser-session cookie by one of the names above, for a jar.
    pub fn named(&self, name: &'static str, value: String) -> Cookie<'static> {
        self.base(name, value)
    }

    /// The removal of a cookie by one of the names above, for a jar.
    pub fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut cookie = self.base(name, String::new());
        cookie.make_removal();
        cookie
    }

    /// A cookie's value by one of the names above, if any.
    pub fn read_named(&self, headers: &HeaderMap, name: &'static str) -> Option<String> {
        read_named(headers, name)
    }

    /// A jar that sets the parked-request cookie (a browser-session cookie; the request it
    /// names expires on the server after 30 minutes).
    pub fn set_parked(&self, realm: Realm, value: String) -> CookieJar {
        CookieJar::new().add(self.base(self.parked_name(realm), value))
    }

    /// A jar that removes the parked-request cookie.
    pub fn clear_parked(&self, realm: Realm) -> CookieJar {
        let mut cookie = self.base(self.parked_name(realm), String::new());
        cookie.make_removal();
        CookieJar::new().add(cookie)
    }

    /// The realm's parked-request cookie value, if any.
    pub fn read_parked(&self, headers: &HeaderMap, realm: Realm) -> Option<String> {
        read_named(headers, self.parked_name(realm))
    }

    fn base(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.https)
            .build()
    }

    /// The session cookie: like the others, with the configured parent domain if any.
    fn session_base(&self, realm: Realm, value: String) -> Cookie<'static> {
        let mut cookie = self.base(self.name(realm), value);
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie
    }

    /// A jar that sets the session cookie; persistent for "remember me".
    pub fn set(&self, realm: Realm, value: String, max_age: Option<i64>) -> CookieJar {
        let mut cookie = self.session_base(realm, value);
        if let Some(seconds) = max_age {
            cookie.set_max_age(cookie::time::Duration::seconds(seconds));
        }
        CookieJar::new().add(cookie)
    }

    /// A jar that removes the session cookie.
    pub fn clear(&self, realm: Realm) -> CookieJar {
        let mut cookie = self.session_base(realm, String::new());
        cookie.make_removal();
        CookieJar::new().add(cookie)
    }

    /// The realm's cookie value from the request, if any. Malformed cookie headers are ignored.
    pub fn read(&self, headers: &HeaderMap, realm: Realm) -> Option<String> {
        read_named(headers, self.name(realm))
    }

    /// A jar that sets the pending sign-in cookie (a browser-session cookie: it lives minutes).
    pub fn set_pending(&self, realm: Realm, value: String) -> CookieJar {
        CookieJar::new().add(self.base(self.pending_name(realm), value))
    }

    /// A jar that removes the pending sign-in cookie.
    pub fn clear_pending(&self, realm: Realm) -> CookieJar {
        let mut cookie = self.base(self.pending_name(realm), String::new());
        cookie.make_removal();
        CookieJar::new().add(cookie)
    }

    /// The realm's pending sign-in cookie value, if any.
    pub fn read_pending(&self, headers: &HeaderMap, realm: Realm) -> Option<String> {
        read_named(headers, self.pending_name(realm))
    }
}

/// A non-empty cookie value by name.
fn read_named(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}
