//! Security headers on every response.
//!
//! The policy allows scripts and styles only from our own origin (no inline script at all),
//! forbids framing (clickjacking on sign-in forms), and sends HSTS only when the System URL is
//! https, since HSTS on an http-only installation would lock browsers out of it.
//!
//! Forms may post only to our own origin (`form-action 'self'`). Browsers apply that directive
//! to the redirects that answer a form too (Chromium blocks a sign-in whose last redirect leaves
//! the site), so a page whose forms end at another registered place names that origin as well:
//! the application a parked OpenID request returns to (every page of that sign-in, found from
//! the parked-request cookie), the application on a consent or sign-out page, Duo's host on
//! the second-factor page ([`FormTargets`]), and the protected host a forward-authentication
//! sign-in returns to (from its return cookie, and only while the rules protect that host:
//! `ForwardAuth::return_to`). Nothing else is ever added.

use crate::app::AppState;
use crate::forward_auth::ForwardAuth;
use crate::oidc::grant::Grants;
use crate::session::Realm;
use crate::web::cookie::Cookies;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Origins besides ours that the forms of a page lead to through the redirect answering them,
/// put in a response's extensions by the handler that knows them (they were registered: an
/// application's redirect URI, Duo's API host).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormTargets(Vec<String>);

impl FormTargets {
    /// The targets of the given URLs: each one's origin (`scheme://host:port`), which is all
    /// the policy names; a URL without one (not http or https) adds nothing.
    pub fn of<'a>(urls: impl IntoIterator<Item = &'a str>) -> Self {
        let mut targets = Self::default();
        for u in urls {
            targets.add(u);
        }
        targets
    }

    fn add(&mut self, u: &str) {
        let Ok(parsed) = url::Url::parse(u) else {
            return;
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            return;
        }
        // The serialised origin holds only the scheme, host and port, so nothing in it can
        // end the directive or add another.
        let origin = parsed.origin().ascii_serialization();
        if !self.0.contains(&origin) {
            self.0.push(origin);
        }
    }

    /// The Content-Security-Policy with these origins allowed as form targets.
    fn policy(&self) -> HeaderValue {
        if self.0.is_empty() {
            return HeaderValue::from_static(CSP);
        }
        let allowed = format!("form-action 'self' {}", self.0.join(" "));
        HeaderValue::from_str(&CSP.replace("form-action 'self'", &allowed))
            .unwrap_or_else(|_| HeaderValue::from_static(CSP))
    }
}

/// Adds the headers.
pub async fn apply(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cookies = Cookies::from(&state);
    let parked: Vec<(Realm, String)> = [Realm::Client, Realm::Admin]
        .into_iter()
        .filter_map(|realm| {
            cookies
                .read_parked(request.headers(), realm)
                .map(|id| (realm, id))
        })
        .collect();
    let returns: Vec<String> = [Realm::Client, Realm::Admin]
        .into_iter()
        .filter_map(|realm| cookies.read_named(request.headers(), cookies.return_name(realm)))
        .collect();
    let mut response = next.run(request).await;
    let mut targets = response
        .extensions_mut()
        .remove::<FormTargets>()
        .unwrap_or_default();
    if !parked.is_empty() && is_html(&response) {
        let grants = Grants::from(&state);
        for (realm, id) in parked {
            // A lookup that fails leaves the policy strict: the sign-in then stops at our own
            // origin, which the person can retry, instead of allowing an unchecked target.
            if let Ok(Some(p)) = grants.parked(&id, realm).await
                && let Some(uri) = p.redirect_uri()
            {
                targets.add(&uri);
            }
        }
    }
    if !returns.is_empty() && is_html(&response) {
        let forward = ForwardAuth::from(&state);
        for rd in returns {
            // The cookie is the browser's to change: only a host the rules protect is added.
            if let Ok(url) = forward.return_to(&rd).await {
                targets.add(url.as_str());
            }
        }
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, targets.policy());
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    // Browsers ignore COOP on an origin that is not trustworthy (plain http on a public name),
    // and Chromium logs that on every page; an http installation is the doctor's to flag.
    if state.config.system_url.is_trustworthy() {
        set(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        );
    }
    if state.config.system_url.is_https() {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A page (its forms matter); redirects, JSON and files are left without the lookup.
fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_origins_only_once_each_and_only_of_web_urls() {
        let t = FormTargets::of([
            "http://127.0.0.1:8080/callback?x=1",
            "http://127.0.0.1:8080/other",
            "https://api-1234.duosecurity.com/oauth/v1/authorize",
            "javascript:alert(1)",
            "not a url",
        ]);
        assert_eq!(
            t.policy().to_str().unwrap(),
            CSP.replace(
                "form-action 'self'",
                "form-action 'self' http://127.0.0.1:8080 https://api-1234.duosecurity.com"
            )
        );
    }

    #[test]
    fn without_targets_the_policy_is_the_strict_one() {
        assert_eq!(FormTargets::default().policy(), CSP);
        assert_eq!(FormTargets::of(["data:text/html,x"]).policy(), CSP);
    }

    #[test]
    fn a_host_cannot_smuggle_a_directive() {
        // The URL parser refuses these; what it accepts is serialised without spaces or `;`.
        let t = FormTargets::of(["http://a.example;script-src *", "http://a b.example/"]);
        assert_eq!(t.policy(), CSP);
    }
}
