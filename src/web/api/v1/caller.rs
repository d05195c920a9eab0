//! The credential of an `/api/v1/` call, from `Authorization`: HTTP Basic with the identifier
//! as the user name and the secret as the password, or `Bearer <identifier>.<secret>`. The
//! checks are the `ApiCredentials` service's; the client address is the trusted-proxy rules'.

use super::super::problem::Problem;
use crate::api_credential::{self, ApiCredentials, ApiRole, AuthError};
use crate::app::AppState;
use crate::web::extract::Peer;
use axum::extract::FromRequestParts;
use axum::http::{StatusCode, header, request::Parts};
use base64::Engine as _;

/// An authenticated caller.
pub struct Caller(pub api_credential::Caller);

impl Caller {
    /// Refuses the call unless the credential may use `role` (403 naming it).
    ///
    /// # Errors
    /// The problem document to answer.
    pub fn require(&self, role: ApiRole) -> Result<(), Problem> {
        if self.0.may(role) {
            return Ok(());
        }
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "missing_api_role",
            "The credential lacks an API role",
            format!(
                "This call needs the API role {}, which credential {} does not have (or its admin no longer holds the {} permission).",
                role.as_str(),
                self.0.identifier,
                role.needs().as_str()
            ),
        )
        .allowed(role.as_str()))
    }
}

fn unauthorized(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "No valid API credential",
        detail,
    )
}

/// The identifier and secret an `Authorization` value carries.
fn presented(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        Some((id.to_owned(), secret.to_owned()))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let (id, secret) = rest.split_once('.')?;
        Some((id.to_owned(), secret.to_owned()))
    } else {
        None
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Peer(addr) = Peer::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "Send an API credential: HTTP Basic with its identifier and secret, or `Authorization: Bearer <identifier>.<secret>`.",
            ));
        };
        let Some((identifier, secret)) = value.to_str().ok().and_then(presented) else {
            return Err(unauthorized(
                "The Authorization header is neither `Basic <base64 of identifier:secret>` nor `Bearer <identifier>.<secret>`.",
            ));
        };
        match ApiCredentials::from(state)
            .authenticate(&identifier, &secret, addr.ip)
            .await
        {
            Ok(caller) => Ok(Self(caller)),
            Err(AuthError::Storage(e)) => Err(Problem::unavailable(&e)),
            Err(denied @ AuthError::Address(_)) => Err(Problem::new(
                StatusCode::FORBIDDEN,
                "address_not_allowed",
                "Not allowed from this address",
                format!("{denied}; an admin can change the credential's allowed addresses."),
            )),
            Err(AuthError::Unknown) => Err(unauthorized("Unknown credential or wrong secret.")),
            Err(other) => {
                let mut problem = unauthorized(format!("{other}."));
                problem.name = match other {
                    AuthError::Revoked => "credential_revoked",
                    AuthError::Expired => "credential_expired",
                    _ => "credential_admin_not_allowed",
                };
                Err(problem)
            }
        }
    }
}
