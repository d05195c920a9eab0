//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4): where the
//! endpoints are and what the provider supports, every URL built from the System URL (the
//! issuer). Only what is built is listed: an application that reads an endpoint here can use it.

use crate::jose::SigningAlg;
use crate::oidc::draft::SCOPES;
use crate::oidc::grant::Grants;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The discovery document.
pub fn document(issuer: &str) -> serde_json::Value {
    let url = |path: &str| format!("{issuer}{path}");
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": url("/oidc/authorize"),
        "token_endpoint": url("/oidc/token"),
        "userinfo_endpoint": url("/oidc/userinfo"),
        "end_session_endpoint": url("/oidc/logout"),
        "jwks_uri": url("/oidc/jwks"),
        "revocation_endpoint": url("/oidc/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": url("/oidc/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "azp", "sid",
            "name", "given_name", "family_name", "preferred_username", "email", "email_verified",
            "accounts", "roles"
        ],
        "acr_values_supported": [crate::oidc::claims::ACR_PASSWORD, crate::oidc::claims::ACR_MFA],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

/// Served with an hour's cache, like the key set.
pub async fn get_discovery(State(grants): State<Grants>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(document(grants.issuer())),
    )
        .into_response()
}
