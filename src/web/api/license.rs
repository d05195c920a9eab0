//! `POST /api/license/v1/verify` (a licence check, answered with a signed document) and
//! `GET /api/license/v1/keys` (the public keys that verify the answers). The rate limits per key
//! and per address, the decision and its logging are the [`Licenses`] service's; this file maps
//! its outcomes to statuses and JSON bodies.

use crate::license::{CheckError, Licenses};
use crate::web::extract::Peer;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use license_verifier::protocol::VerifyRequest;
use serde_json::json;

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "status": status.as_u16(), "error": code, "message": message.into() })),
    )
        .into_response()
}

/// One check.
pub async fn post_verify(
    State(licenses): State<Licenses>,
    Peer(addr): Peer,
    body: Bytes,
) -> Response {
    let request: VerifyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the body must be a JSON verify request: {e}"),
            );
        }
    };
    match licenses.answer(&request, &addr.ip.to_string()).await {
        Ok(signed) => ([(header::CACHE_CONTROL, "no-store")], axum::Json(signed)).into_response(),
        Err(limited @ CheckError::RateLimited { .. }) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                limited.to_string(),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            r
        }
        Err(CheckError::LimitsUnavailable(e)) => {
            tracing::warn!(error = %e, "licence check: storage unavailable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "storage is unavailable; try again shortly",
            )
        }
        Err(CheckError::BadRequest(why)) => error(StatusCode::BAD_REQUEST, "bad_request", why),
        Err(CheckError::Unavailable(e)) => {
            tracing::warn!(error = %e, "licence check failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the licensing server cannot answer now; try again shortly",
            )
        }
    }
}

/// The public keys.
pub async fn get_keys(State(licenses): State<Licenses>) -> Response {
    match licenses.published().await {
        Ok(keys) => axum::Json(keys).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot publish licence keys");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the signing keys cannot be read now",
            )
        }
    }
}
