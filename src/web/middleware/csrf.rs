//! Step 5: CSRF protection on every state-changing request.
//!
//! Two independent defences. First, a same-origin check: a browser that says the request is
//! cross-site (`Sec-Fetch-Site`, or an `Origin` other than the System URL) is refused. Second,
//! a token from the `X-CSRF-Token` header or the form's `csrf_token` field, verified by
//! [`crate::csrf::verify`] against the realm's live session; pre-sign-in forms accept anonymous
//! tokens so they work without any session (F06). Failures are counted by kind for the doctor's
//! `csrf.failures` check and answered 403 with a message that says which kind it was; never a
//! redirect (a redirect to the sign-in page is how loops start).
//!
//! The body is buffered (bounded by `server.max_body_bytes`) to read the field, then handed on.

use super::session::LoadedSession;
use crate::app::AppState;
use crate::csrf::{self, CsrfFailure};
use crate::diagnostics::{Counter, Diagnostics};
use crate::web::error::AppError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The form field carrying the token.
pub const FIELD: &str = "csrf_token";
/// The header carrying the token for scripts.
pub const HEADER: &str = "x-csrf-token";

/// Paths whose forms are submitted before any session exists.
pub fn is_pre_session(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/register" | "/admin/login" | "/password/reset" | "/admin/password/reset"
    ) || path.starts_with("/login/2fa")
        || path.starts_with("/admin/login/2fa")
        || path.starts_with("/admin/setup/")
        || path.starts_with("/admin/invite/")
        || path.starts_with("/invite/")
        || path.starts_with("/password/reset/")
        || path.starts_with("/admin/password/reset/")
        || path.starts_with("/email/revert/")
        || path.starts_with("/sso/")
}

fn cross_site(request: &Request, system_origin: &str) -> bool {
    let headers = request.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return true;
    }
    headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("null"))
        .is_some_and(|o| o != system_origin)
}

/// Whether a form comes from a plain-http page of the System URL's own https host: the browser
/// reached the portal over http (a proxy that passes http through while telling us https), where
/// it does not keep the `Secure` session cookie (F06). Said as that, not as "another website".
fn plain_http_of_system(request: &Request, system_url: &crate::config::SystemUrl) -> bool {
    if !system_url.is_https() {
        return false;
    }
    request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .and_then(|o| url::Url::parse(o).ok())
        .is_some_and(|o| o.scheme() == "http" && o.host_str() == Some(system_url.host()))
}

/// Verifies the request's token; passes safe methods through.
pub async fn verify(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || crate::web::api::is_api(request.uri().path())
        || crate::web::oidc::is_machine(request.uri().path())
        || crate::web::forward_auth::is_endpoint(request.uri().path())
        || crate::web::oidc::is_cross_site_form(request.uri().path())
    {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let session_hash = request
        .extensions()
        .get::<LoadedSession>()
        .and_then(|s| s.live().map(|l| l.id_hash.clone()));
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, state.config.max_body_bytes).await else {
        return AppError::PayloadTooLarge.into_response();
    };
    let request = Request::from_parts(parts, Body::from(bytes.clone()));
    if plain_http_of_system(&request, &state.config.system_url) {
        Diagnostics::from(&state)
            .record(Counter::CookieLoss, "form_over_plain_http", &path)
            .await;
        return AppError::CookieLoss {
            https_system_url: true,
            secure_cookie: true,
        }
        .into_response();
    }
    let result = if cross_site(&request, &state.config.system_url.origin()) {
        Err(CsrfFailure::CrossSite)
    } else {
        let presented = request
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                url::form_urlencoded::parse(&bytes)
                    .find(|(k, _)| k == FIELD)
                    .map(|(_, v)| v.into_owned())
            });
        csrf::verify(
            &state.csrf_key,
            presented.as_deref(),
            session_hash.as_deref(),
            is_pre_session(&path),
            state.clock.unix(),
        )
    };
    match result {
        Ok(()) => next.run(request).await,
        Err(kind) => {
            Diagnostics::from(&state)
                .record(Counter::CsrfFailure, kind.as_str(), &path)
                .await;
            tracing::info!(kind = kind.as_str(), path, "CSRF check failed");
            AppError::Csrf(kind).into_response()
        }
    }
}
