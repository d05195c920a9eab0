//! `POST /api/v1/sso-tokens` (WHMCS `CreateSsoToken`, API role `sso.create`): a link that
//! signs one user in, optionally into one of their client accounts, and lands on a path of the
//! System URL. The rules (single use, 60 seconds, stored hashed, local destinations only, the
//! second factor kept) are the `Sso` service's.

use super::Caller;
use super::body::Body;
use crate::api_credential::ApiRole;
use crate::domain::audit::Actor;
use crate::domain::{ClientId, UserId};
use crate::sso::{CreateError, Request, Sso};
use crate::web::api::problem::{Problem, ProblemBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// A link to make.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoRequest {
    pub user_id: i64,
    /// One of the user's client accounts; absent: the one they work in first.
    pub client_account_id: Option<i64>,
    /// A path on the System URL (`/clientarea` when absent); nothing off-site.
    #[schema(example = "/account/licenses")]
    pub destination: Option<String>,
}

/// A link, shown once: give it to the person's browser within 60 seconds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SsoLink {
    /// Opening it shows a button that signs the person in (a link scanner's fetch does not use
    /// it up); their second factor is still asked for.
    pub redirect_url: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Makes a single sign-on link.
#[utoipa::path(
    post,
    path = "/api/v1/sso-tokens",
    tag = "sso",
    operation_id = "createSsoToken",
    request_body = SsoRequest,
    responses(
        (status = 201, description = "The link", body = SsoLink),
        (status = 400, description = "The body is not well-formed JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `sso.create`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The user is disabled", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Not one of the user's accounts, or not a local path", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn post_create(
    State(sso): State<Sso>,
    caller: Caller,
    Body(body): Body<SsoRequest>,
) -> Result<(StatusCode, Json<SsoLink>), Problem> {
    caller.require(ApiRole::SsoCreate)?;
    let request = Request {
        user: UserId(body.user_id),
        client: body.client_account_id.map(ClientId),
        destination: body.destination.as_deref(),
    };
    let how = format!("through the admin API (credential {})", caller.0.identifier);
    match sso
        .create_as(&Actor::Admin(caller.0.admin), &how, &request)
        .await
    {
        Ok(created) => Ok((
            StatusCode::CREATED,
            Json(SsoLink {
                redirect_url: created.url,
                expires_at: created.expires_at,
            }),
        )),
        Err(CreateError::UnknownUser) => Err(Problem::not_found(format!(
            "No user has id {}.",
            body.user_id
        ))),
        Err(CreateError::Disabled) => Err(Problem::conflict(
            Some("user_id"),
            format!("User {} is disabled and cannot sign in.", body.user_id),
        )),
        Err(e @ CreateError::NotMember(_)) => Err(Problem::unprocessable(
            Some("client_account_id".into()),
            format!("{e}."),
        )),
        Err(CreateError::Destination(why)) => Err(Problem::unprocessable(
            Some("destination".into()),
            format!("{why}."),
        )),
        Err(CreateError::Random(e)) => Err(Problem::unexpected(&e.into())),
        Err(CreateError::Storage(e)) => Err(Problem::unavailable(&e)),
    }
}
