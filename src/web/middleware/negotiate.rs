//! Errors as JSON for callers that ask for JSON.
//!
//! Every error response carries an [`ErrorInfo`] extension; when the request's `Accept` prefers
//! JSON over HTML, the HTML body is replaced by that information as a JSON object.

use crate::web::error::ErrorInfo;
use axum::Json;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether the request's `Accept` header asks for JSON rather than HTML.
pub fn wants_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

/// Rewrites error bodies for JSON callers.
pub async fn errors_as_json(request: Request, next: Next) -> Response {
    let json = wants_json(
        request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let response = next.run(request).await;
    if !json {
        return response;
    }
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = Json(info).into_response();
    let (body_parts, body) = body.into_parts();
    if let Some(ct) = body_parts.headers.get(header::CONTENT_TYPE) {
        parts.headers.insert(header::CONTENT_TYPE, ct.clone());
    }
    Response::from_parts(parts, body)
}
