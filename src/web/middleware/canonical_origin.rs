//! Step 3: one canonical origin, the System URL (F05).
//!
//! A page opened on another origin (another host, scheme or port: `www.` vs bare, an IP address,
//! http vs https) would get a cookie for the wrong host and a form that then fails. So a `GET` on
//! a foreign origin is redirected (308) to the same path and query on the System URL, and any
//! other method gets a page naming both origins, never "Login Details Incorrect". Each foreign
//! origin is counted for the doctor's `system_url` check. `/healthz` and static files are exempt:
//! load balancers probe by IP address; so are the machine endpoints (`/api/`, the OpenID
//! provider's token, userinfo, key set and discovery, and forward authentication's endpoints),
//! which applications' servers and proxies may reach by an internal name or on a protected host.

use super::client_addr::ClientAddr;
use crate::app::AppState;
use crate::diagnostics::{Counter, Diagnostics};
use crate::web::error::AppError;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Paths served on any origin.
fn exempt(path: &str) -> bool {
    path == "/healthz"
        || path.starts_with("/static/")
        || crate::web::api::is_api(path)
        || crate::web::oidc::is_machine(path)
        || crate::web::forward_auth::is_endpoint(path)
}

/// The origin the browser used, `scheme://host[:port]`, lowercased, default port omitted.
pub fn request_origin(request: &Request, addr: &ClientAddr) -> Option<String> {
    let headers = request.headers();
    let forwarded = |name: &str| {
        addr.peer_trusted
            .then(|| headers.get(name).and_then(|v| v.to_str().ok()))
            .flatten()
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = match forwarded("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let host = forwarded("x-forwarded-host")
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(axum::http::uri::Authority::as_str)
        })?;
    // Let the URL parser normalise case, IDNA and default ports; refuse what it cannot parse.
    let url = url::Url::parse(&format!("{scheme}://{host}/")).ok()?;
    if url.path() != "/" || !url.username().is_empty() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// Redirects or refuses requests that are not on the System URL's origin.
pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if exempt(path) {
        return next.run(request).await;
    }
    let addr = request
        .extensions()
        .get::<ClientAddr>()
        .copied()
        .unwrap_or(ClientAddr::UNKNOWN);
    let system = state.config.system_url.origin();
    let Some(used) = request_origin(&request, &addr) else {
        return AppError::BadRequest("The request has no valid Host header.".into())
            .into_response();
    };
    if used == system {
        return next.run(request).await;
    }
    Diagnostics::from(&state)
        .record(Counter::NonCanonicalOrigin, &used, path)
        .await;
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        let target = state.config.system_url.join(
            request
                .uri()
                .path_and_query()
                .map_or("/", axum::http::uri::PathAndQuery::as_str),
        );
        tracing::info!(origin = %used, "redirected to the System URL");
        return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, target)]).into_response();
    }
    tracing::warn!(origin = %used, path, "form sent to a non-canonical origin");
    AppError::WrongOrigin {
        used,
        system: state.config.system_url.to_string(),
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn origin(host: &[u8], proto: Option<&str>, trusted: bool) -> Option<String> {
        let mut builder = axum::http::Request::builder().uri("/login");
        if let Ok(v) = axum::http::HeaderValue::from_bytes(host) {
            builder = builder.header(header::HOST, v);
        }
        if let Some(p) = proto {
            builder = builder.header("x-forwarded-proto", p);
        }
        let request = builder.body(axum::body::Body::empty()).ok()?;
        request_origin(
            &request,
            &ClientAddr {
                ip: [127, 0, 0, 1].into(),
                peer: [127, 0, 0, 1].into(),
                peer_trusted: trusted,
            },
        )
    }

    #[test]
    fn origins_are_normalised_and_forwarding_needs_a_trusted_peer() {
        assert_eq!(
            origin(b"Portal.Example.com:80", None, true).as_deref(),
            Some("http://portal.example.com")
        );
        assert_eq!(
            origin(b"portal.example.com", Some("https"), true).as_deref(),
            Some("https://portal.example.com")
        );
        assert_eq!(
            origin(b"portal.example.com", Some("https"), false).as_deref(),
            Some("http://portal.example.com")
        );
        assert_eq!(origin(b"a b", None, true), None);
        assert_eq!(origin(b"user@host", None, true), None);
    }

    proptest! {
        #[test]
        fn any_host_header_is_handled_without_panicking(host in proptest::collection::vec(any::<u8>(), 0..100), proto in proptest::option::of(".{0,10}")) {
            let _ = origin(&host, proto.as_deref(), true);
        }
    }
}
