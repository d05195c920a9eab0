//! `GET`/`POST /oidc/userinfo` (Core §5.3): the claims an access token's scopes grant, for the
//! bearer of a live access token (RFC 6750: the `Authorization` header, or `access_token` in a
//! form body). A missing or dead token is 401 with the `WWW-Authenticate` challenge RFC 6750
//! §3 names.

use crate::oidc::grant::pairs;
use crate::oidc::token::Tokens;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

fn challenge(error: Option<(&str, &str)>) -> Response {
    let value = match error {
        Some((code, description)) => format!(
            "Bearer realm=\"portcullis\", error=\"{code}\", error_description=\"{description}\""
        ),
        None => "Bearer realm=\"portcullis\"".to_owned(),
    };
    let status = match error {
        Some(("invalid_request", _)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    let mut response = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// The bearer token of the request: the header, or (POST) a form field; both at once is an
/// error (RFC 6750 §2), whose description is returned.
fn bearer(headers: &HeaderMap, body: Option<&str>) -> Result<Option<String>, &'static str> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().unwrap_or("");
            match v.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Some(token.trim().to_owned())
                }
                _ => {
                    return Err("the Authorization header must be Bearer with the access token");
                }
            }
        }
    };
    let from_body = body.and_then(|b| {
        pairs(b)
            .into_iter()
            .find(|(k, v)| k == "access_token" && !v.is_empty())
            .map(|(_, v)| v)
    });
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err("the access token was sent twice (header and body)"),
        (h, b) => Ok(h.or(b)),
    }
}

async fn answer(tokens: &Tokens, token: Option<String>) -> Response {
    let Some(token) = token else {
        return challenge(None);
    };
    match tokens.userinfo(&token).await {
        Ok(Some(claims)) => {
            let mut response = axum::Json(claims).into_response();
            super::token::no_store(response.headers_mut());
            response
        }
        Ok(None) => challenge(Some((
            "invalid_token",
            "the access token is unknown, expired or revoked",
        ))),
        Err(e) => super::token::unavailable(&e),
    }
}

/// `GET /oidc/userinfo`.
pub async fn get_userinfo(State(tokens): State<Tokens>, headers: HeaderMap) -> Response {
    match bearer(&headers, None) {
        Ok(token) => answer(&tokens, token).await,
        Err(description) => challenge(Some(("invalid_request", description))),
    }
}

/// `POST /oidc/userinfo`.
pub async fn post_userinfo(
    State(tokens): State<Tokens>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let body = super::token::form_encoded(&headers).then_some(body.as_str());
    match bearer(&headers, body) {
        Ok(token) => answer(&tokens, token).await,
        Err(description) => challenge(Some(("invalid_request", description))),
    }
}
