//! A user's sessions: `GET /api/v1/users/{id}/sessions` lists the live ones (API role
//! `sessions.read`); `DELETE /api/v1/users/{id}/sessions` ends them all and `DELETE
//! /api/v1/users/{id}/sessions/{session}` one (API role `sessions.write`). Ending, telling the
//! applications (back-channel logout), the audit record and every node's cache are the
//! `Sessions` service's, as for `portcullis user sign-out`.

use super::Caller;
use super::users::user_id;
use crate::api_credential::ApiRole;
use crate::domain::audit::Actor;
use crate::session::everywhere::{Person, SignOutError};
use crate::session::{Realm, SessionRow, Sessions};
use crate::web::api::problem::{Problem, ProblemBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

/// A live session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// The session's id in storage (the SHA-256 of its cookie, which is never stored), to end it.
    pub id: String,
    pub ip: String,
    pub user_agent: String,
    /// The client account it is in.
    pub client_account_id: Option<i64>,
    /// Set when an admin opened it with "login as client".
    pub impersonator_admin_id: Option<i64>,
    /// "Remember me" (a longer life).
    pub remember: bool,
    /// The second factor that completed the sign-in, if any.
    pub second_factor: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl From<SessionRow> for Session {
    fn from(s: SessionRow) -> Self {
        Self {
            id: s.id_hash,
            ip: s.ip,
            user_agent: s.user_agent,
            client_account_id: s.client_id,
            impersonator_admin_id: s.impersonator_admin_id,
            remember: s.remember,
            second_factor: s.second_factor,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
        }
    }
}

/// How many sessions ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndedSessions {
    pub ended: u64,
}

fn no_user(id: i64) -> Problem {
    Problem::not_found(format!("No user has id {id}."))
}

fn failed(id: i64, e: SignOutError) -> Problem {
    match e {
        SignOutError::Unknown => no_user(id),
        SignOutError::Storage(e) => Problem::unavailable(&e),
    }
}

/// The user's live sessions, newest first (at most 100).
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/sessions",
    tag = "sessions",
    operation_id = "listUserSessions",
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The live sessions", body = Vec<Session>),
        (status = 400, description = "The id is not a positive whole number", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `sessions.read`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn get_list(
    State(sessions): State<Sessions>,
    State(accounts): State<crate::account::Accounts>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Session>>, Problem> {
    caller.require(ApiRole::SessionsRead)?;
    let user = user_id(&id)?;
    if accounts
        .user(user)
        .await
        .map_err(|e| Problem::unavailable(&e))?
        .is_none()
    {
        return Err(no_user(user.0));
    }
    let rows = sessions
        .list_of(Realm::Client, user.0)
        .await
        .map_err(|e| Problem::unavailable(&e))?;
    Ok(Json(rows.into_iter().map(Session::from).collect()))
}

/// Ends every live session of the user, on every node within a second.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/sessions",
    tag = "sessions",
    operation_id = "endUserSessions",
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "How many ended", body = EndedSessions),
        (status = 400, description = "The id is not a positive whole number", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `sessions.write`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn delete_all(
    State(sessions): State<Sessions>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EndedSessions>, Problem> {
    caller.require(ApiRole::SessionsWrite)?;
    let user = user_id(&id)?;
    sessions
        .sign_out_everywhere(Person::User(user), &Actor::Admin(caller.0.admin))
        .await
        .map(|ended| Json(EndedSessions { ended }))
        .map_err(|e| failed(user.0, e))
}

/// Ends one live session of the user.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/sessions/{session}",
    tag = "sessions",
    operation_id = "endUserSession",
    params(
        ("id" = i64, Path, description = "The user's id"),
        ("session" = String, Path, description = "The session's `id` from the list"),
    ),
    responses(
        (status = 204, description = "Ended"),
        (status = 400, description = "The id is not a positive whole number", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `sessions.write`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user, or no such live session of theirs", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn delete_one(
    State(sessions): State<Sessions>,
    caller: Caller,
    Path((id, session)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    caller.require(ApiRole::SessionsWrite)?;
    let user = user_id(&id)?;
    match sessions
        .sign_out_one(Person::User(user), &session, &Actor::Admin(caller.0.admin))
        .await
    {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(Problem::not_found(format!(
            "User {} has no live session {session:?}.",
            user.0
        ))),
        Err(e) => Err(failed(user.0, e)),
    }
}
