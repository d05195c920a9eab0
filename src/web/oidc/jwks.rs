//! `GET /oidc/jwks`: the provider's public keys (RFC 7517), as `Keys::jwks` lists them.

use crate::oidc::keys::Keys;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Relying parties cache the set; an hour keeps them well inside the day a new key is published
/// before it signs (`oidc::keys::PUBLISH_LEAD`).
const CACHE_CONTROL: &str = "public, max-age=3600";

/// The JWKS document, or 503 when the keys cannot be read (the relying party retries).
pub async fn get_jwks(State(keys): State<Keys>) -> Response {
    match keys.jwks().await {
        Ok(set) => (
            [
                (header::CACHE_CONTROL, CACHE_CONTROL),
                (header::CONTENT_TYPE, "application/jwk-set+json"),
            ],
            set.to_string(),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot publish the OpenID signing keys");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "30")],
                axum::Json(serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": "the signing keys cannot be read now",
                })),
            )
                .into_response()
        }
    }
}
