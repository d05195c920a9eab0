//! Bans: `GET /api/v1/bans` lists those in force (API role `bans.read`); `POST /api/v1/bans`
//! bans an address and `DELETE /api/v1/bans/{address}` lifts every ban on it (API role
//! `bans.write`). Validation, the audit record and clearing every node's ban cache are the
//! `Bans` service's, as for the admin page and `portcullis ban`.

use super::Caller;
use super::body::Body;
use super::users::refused;
use crate::api_credential::ApiRole;
use crate::ban::{BanError, Bans, LiftError, NewBan, Scope};
use crate::domain::audit::Actor;
use crate::web::api::problem::{Problem, ProblemBody};
use crate::web::extract::Peer;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// A ban in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ban {
    /// The banned key: an IPv4 address or an IPv6 /64.
    #[schema(example = "203.0.113.7")]
    pub ip: String,
    /// `admin`, `client` or `both`.
    pub scope: &'static str,
    pub reason: String,
    /// Who made it: `automatic`, `admin:ID`, ...
    pub by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `null` until lifted.
    pub expires_at: Option<i64>,
}

impl From<crate::ban::Listed> for Ban {
    fn from(b: crate::ban::Listed) -> Self {
        Self {
            ip: b.ip,
            scope: b.scope.as_str(),
            reason: b.reason,
            by: b.by,
            created_at: b.created_at,
            expires_at: b.expires_at,
        }
    }
}

/// A ban to make.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBanBody {
    /// One IP address (an IPv6 address bans its /64).
    pub ip: String,
    /// Why, 1 to 200 characters.
    pub reason: String,
    /// Whole minutes from 1 to 5256000; absent for a ban until lifted.
    pub minutes: Option<i64>,
    /// `admin`, `client` or `both` (the default).
    #[serde(default)]
    pub scope: Option<String>,
}

/// Every ban in force.
#[utoipa::path(
    get,
    path = "/api/v1/bans",
    tag = "bans",
    operation_id = "listBans",
    responses(
        (status = 200, description = "The bans in force", body = Vec<Ban>),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `bans.read`", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn get_list(State(bans): State<Bans>, caller: Caller) -> Result<Json<Vec<Ban>>, Problem> {
    caller.require(ApiRole::BansRead)?;
    let listed = bans.list().await.map_err(|e| Problem::unavailable(&e))?;
    Ok(Json(listed.into_iter().map(Ban::from).collect()))
}

/// Bans an address (replacing a ban on it in the same scope).
#[utoipa::path(
    post,
    path = "/api/v1/bans",
    tag = "bans",
    operation_id = "addBan",
    request_body = NewBanBody,
    responses(
        (status = 201, description = "Banned", body = Ban),
        (status = 400, description = "The body is not well-formed JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `bans.write`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A field is refused", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn post_add(
    State(bans): State<Bans>,
    caller: Caller,
    Body(body): Body<NewBanBody>,
) -> Result<(StatusCode, Json<Ban>), Problem> {
    caller.require(ApiRole::BansWrite)?;
    let minutes = body.minutes.map(|m| m.to_string()).unwrap_or_default();
    let new = NewBan {
        ip: &body.ip,
        reason: &body.reason,
        minutes: &minutes,
        scope: body.scope.as_deref().unwrap_or(""),
    };
    let key = match bans.add(&new, &Actor::Admin(caller.0.admin)).await {
        Ok(key) => key,
        Err(BanError::Invalid(errors)) => return Err(refused(errors)),
        Err(BanError::Storage(e)) => return Err(Problem::unavailable(&e)),
    };
    let scope = Scope::parse(new.scope).unwrap_or_default();
    let listed = bans.list().await.map_err(|e| Problem::unavailable(&e))?;
    listed
        .into_iter()
        .find(|b| b.ip == key && b.scope == scope)
        .map(|b| (StatusCode::CREATED, Json(Ban::from(b))))
        .ok_or_else(|| Problem::not_found(format!("The ban on {key} ended as it was made.")))
}

/// Lifts every ban on an address (an IPv6 address: on its /64).
#[utoipa::path(
    delete,
    path = "/api/v1/bans/{address}",
    tag = "bans",
    operation_id = "liftBan",
    params(("address" = String, Path, description = "The banned IP address")),
    responses(
        (status = 204, description = "Lifted"),
        (status = 400, description = "Not an IP address", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `bans.write`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "The address was not banned", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn delete_lift(
    State(bans): State<Bans>,
    caller: Caller,
    Peer(from): Peer,
    Path(address): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(ApiRole::BansWrite)?;
    let from = from.ip.to_string();
    match bans
        .lift(&address, &Actor::Admin(caller.0.admin), Some(&from))
        .await
    {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(LiftError::NotAnAddress(_)) => Err(Problem::invalid(
            "address",
            format!("{address:?} is not an IP address."),
            "an IPv4 or IPv6 address, e.g. 203.0.113.7 or 2001:db8::1",
        )),
        Err(LiftError::NotBanned(ip)) => Err(Problem::not_found(format!("{ip} is not banned."))),
        Err(LiftError::Storage(e)) => Err(Problem::unavailable(&e)),
    }
}
