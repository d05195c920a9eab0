//! `POST /oidc/token` (RFC 6749 §3.2, §5): authenticates the application, then exchanges a
//! code or a refresh token through `oidc::token`. Answers are JSON with `Cache-Control:
//! no-store`; errors are RFC 6749 §5.2's, with 401 and `WWW-Authenticate` for a client that
//! tried `Authorization: Basic` and failed.

use crate::oidc::application::ClientAuthError;
use crate::oidc::authorize::Params;
use crate::oidc::credentials::{self, CredentialsError};
use crate::oidc::grant::pairs;
use crate::oidc::token::{Client, GrantError, Tokens};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An OAuth error answer (RFC 6749 §5.2), never cached.
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    no_store(response.headers_mut());
    response
}

/// Token answers carry secrets: no cache may keep them (RFC 6749 §5.1).
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// `invalid_client` as §5.2 has it: 401 with a challenge when the client used Basic.
pub fn invalid_client(basic: bool) -> Response {
    let mut response = oauth_error(
        if basic {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        },
        "invalid_client",
        "client authentication failed",
    );
    if basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"portcullis\""),
        );
    }
    response
}

/// Reads and authenticates the application of a protocol request (token, revocation,
/// introspection); the error answer when it cannot be.
///
/// # Errors
/// The answer to send: `invalid_request` or `invalid_client`, or 503 on storage failure.
pub async fn authenticate(
    tokens: &Tokens,
    endpoint: &str,
    headers: &HeaderMap,
    params: &Params<'_>,
) -> Result<Client, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let basic = authorization.is_some();
    let read = credentials::read(
        authorization,
        params.value("client_id"),
        params.value("client_secret"),
    );
    let credentials = match read {
        Ok(c) => c,
        Err(e @ (CredentialsError::NoClientId | CredentialsError::Both)) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &e.to_string(),
            ));
        }
        Err(_) => return Err(invalid_client(basic)),
    };
    match tokens.authenticate(endpoint, &credentials).await {
        Ok(app) => Ok(app),
        Err(ClientAuthError::Storage(e)) => Err(unavailable(&e)),
        Err(_) => Err(invalid_client(basic)),
    }
}

/// 503 for a storage failure: the application may retry.
pub fn unavailable(e: &sqlx::Error) -> Response {
    tracing::warn!(error = %e, "an OpenID protocol request failed on storage");
    let mut response = oauth_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the provider cannot answer now; try again",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// The token endpoint.
pub async fn post_token(
    State(tokens): State<Tokens>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !form_encoded(&headers) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let pairs = pairs(&body);
    let params = Params::new(&pairs);
    if let Some(p) = params.repeated_name() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("{p} is given more than once"),
        );
    }
    let mut client = match authenticate(&tokens, "token", &headers, &params).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    let result = match params.value("grant_type") {
        Some("authorization_code") => {
            tokens
                .exchange_code(
                    &mut client,
                    params.value("code"),
                    params.value("redirect_uri"),
                    params.value("code_verifier"),
                )
                .await
        }
        Some("refresh_token") => {
            tokens
                .refresh(
                    &mut client,
                    params.value("refresh_token"),
                    params.value("scope"),
                )
                .await
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            );
        }
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type {other:?} is not supported; use authorization_code or refresh_token"
                ),
            );
        }
    };
    match result {
        Ok(issued) => {
            let mut response = axum::Json(issued).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(GrantError::Storage(e)) => unavailable(&e),
        Err(e @ (GrantError::Key(_) | GrantError::Random)) => {
            tracing::error!(error = %e, "the token endpoint cannot sign or make tokens");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the provider cannot issue tokens now; its administrator can see why (doctor: oidc.keys)",
            )
        }
        Err(e) => oauth_error(StatusCode::BAD_REQUEST, e.code(), &e.to_string()),
    }
}

/// Whether the body is a form (RFC 6749 §3.2 requires it); a charset parameter is fine.
pub fn form_encoded(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
