//! `POST /oidc/revoke` (RFC 7009) and `POST /oidc/introspect` (RFC 7662): the application
//! authenticates as at the token endpoint (a public application by its client id alone, for
//! revocation only: introspection needs a secret), then `oidc::token` answers.

use super::token::{authenticate, form_encoded, no_store, oauth_error, unavailable};
use crate::oidc::authorize::Params;
use crate::oidc::draft::Kind;
use crate::oidc::grant::pairs;
use crate::oidc::token::{Client, Revoked, Tokens};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// Reads the form and its `token`, authenticating the application; the refusal otherwise.
async fn read(
    tokens: &Tokens,
    endpoint: &str,
    headers: &HeaderMap,
    body: &str,
) -> Result<(Client, Option<String>), Response> {
    if !form_encoded(headers) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs = pairs(body);
    let params = Params::new(&pairs);
    if let Some(p) = params.repeated_name() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("{p} is given more than once"),
        ));
    }
    let client = authenticate(tokens, endpoint, headers, &params).await?;
    Ok((client, params.value("token").map(str::to_owned)))
}

/// The revocation endpoint: 200 with an empty body for a revoked, unknown or dead token alike
/// (RFC 7009 §2.2), `unauthorized_client` for another application's token.
pub async fn post_revoke(
    State(tokens): State<Tokens>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (mut client, token) = match read(&tokens, "revoke", &headers, &body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let Some(token) = token else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing",
        );
    };
    match tokens.revoke(&mut client, &token).await {
        Ok(Revoked::Done | Revoked::Unknown) => {
            let mut response = StatusCode::OK.into_response();
            no_store(response.headers_mut());
            response
        }
        Ok(Revoked::OtherApplication) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the token was issued to another application",
        ),
        Err(e) => unavailable(&e),
    }
}

/// The introspection endpoint, for confidential applications (RFC 7662 §2.1 requires the
/// caller to be authorised; a public application has nothing to prove it with).
pub async fn post_introspect(
    State(tokens): State<Tokens>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (mut client, token) = match read(&tokens, "introspect", &headers, &body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    if client.application.kind == Kind::Public {
        return super::token::invalid_client(false);
    }
    let Some(token) = token else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing",
        );
    };
    match tokens.introspect(&mut client, &token).await {
        Ok(answer) => {
            let mut response = axum::Json(answer).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => unavailable(&e),
    }
}
