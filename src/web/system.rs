//! Routes that are not pages: liveness, the stylesheet and script, the start page and the
//! fallbacks.

use crate::web::error::AppError;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

/// `GET /healthz`: the process answers. No session, no database write.
pub async fn get_healthz() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], "ok\n").into_response()
}

/// `GET /static/portcullis.css`, compiled into the binary.
pub async fn get_stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/portcullis.css"),
    )
        .into_response()
}

/// `GET /static/webauthn.js`, compiled into the binary: the security key ceremonies in the
/// browser (a file, because the CSP allows no inline script).
pub async fn get_webauthn_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/webauthn.js"),
    )
        .into_response()
}

/// `GET /`: the client area (which sends visitors to sign in).
pub async fn get_root() -> Redirect {
    Redirect::to("/clientarea")
}

/// Unknown paths.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// Known paths with the wrong method.
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
