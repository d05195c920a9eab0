//! `POST /api/license/v1/verify` (a licence check, answered with a signed document) and
//! `GET /api/license/v1/keys` (the public keys that verify the answers). Rate-limited per key and
//! per address.

use crate::app::AppState;
use crate::license::verify::{VerifyError, verify};
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

/// Logs a refused check of a known key; a failure to log does not change the answer.
async fn log_refused(state: &AppState, request: &VerifyRequest, ip: &str, verdict: &str) {
    if let Err(e) = crate::license::verify::log_refused(state, request, ip, verdict).await {
        tracing::warn!(error = %e, "licence check: cannot log a refused check");
    }
}

/// One check.
pub async fn post_verify(State(state): State<AppState>, Peer(addr): Peer, body: Bytes) -> Response {
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
    let now = state.clock.unix();
    let ip = addr.ip.to_string();
    let key = request.key.trim().to_ascii_uppercase();
    let (per_key, per_address) = state.config.license_limits;
    for (kind, value, limit) in [
        ("license_ip", ip.as_str(), per_address),
        ("license_key", key.as_str(), per_key),
    ] {
        let counted_key = crate::token::hash(value);
        match crate::db::mail::admit_request(&state.db, kind, &counted_key, now, now - 60, limit)
            .await
        {
            Ok(false) => {
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "more than {limit} checks a minute from this {}; try again in a minute",
                        if kind == "license_ip" {
                            "address"
                        } else {
                            "key"
                        }
                    ),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
                // The access log shows a key's first refusal of each minute, not every one: a
                // flood must not turn into a row per request (a bounded read decides).
                let key_hash = crate::token::hash(&key);
                if let Ok(true) = crate::db::mail::admit_request(
                    &state.db,
                    "license_refusal_logged",
                    &key_hash,
                    now,
                    now - 60,
                    1,
                )
                .await
                {
                    log_refused(&state, &request, &ip, "rate_limited").await;
                }
                return r;
            }
            Ok(true) => {}
            Err(e) => {
                tracing::warn!(error = %e, "licence check: storage unavailable");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "storage is unavailable; try again shortly",
                );
            }
        }
    }
    match verify(&state, &request, &ip).await {
        Ok(signed) => ([(header::CACHE_CONTROL, "no-store")], axum::Json(signed)).into_response(),
        Err(VerifyError::BadRequest(why)) => {
            log_refused(&state, &request, &ip, "bad_request").await;
            error(StatusCode::BAD_REQUEST, "bad_request", why)
        }
        Err(e) => {
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
pub async fn get_keys(State(state): State<AppState>) -> Response {
    match crate::license::signing::published(&state).await {
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
