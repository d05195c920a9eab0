//! `GET /api/v1/users/{id}` and `GET /api/v1/users?email=`: find a user (API role
//! `users.read`). The lookups are the `Accounts` service's.

use super::Caller;
use crate::account::Accounts;
use crate::account::UserRow;
use crate::api_credential::ApiRole;
use crate::domain::UserId;
use crate::web::api::problem::Problem;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;

/// A user as the API shows them (never the password hash).
#[derive(Debug, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub disabled: bool,
    /// When the address was confirmed (unix seconds); `null` while unconfirmed.
    pub email_verified_at: Option<i64>,
    /// Whether the user can sign in with a password (an imported account may have none yet).
    pub has_password: bool,
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            disabled: u.disabled,
            email_verified_at: u.email_verified_at,
            has_password: u.password_hash.is_some(),
        }
    }
}

/// One user by id.
pub async fn get_one(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<User>, Problem> {
    caller.require(ApiRole::UsersRead)?;
    let id = id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        Problem::invalid(
            "id",
            format!("{id:?} is not a user id"),
            "a positive whole number",
        )
    })?;
    match accounts.user(UserId(id)).await {
        Ok(Some(user)) => Ok(Json(user.into())),
        Ok(None) => Err(Problem::not_found(format!("No user has id {id}."))),
        Err(e) => Err(Problem::unavailable(&e)),
    }
}

/// One user by email address: `?email=`.
pub async fn get_by_email(
    State(accounts): State<Accounts>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<User>, Problem> {
    caller.require(ApiRole::UsersRead)?;
    let email = query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "email")
                .map(|(_, v)| v.trim().to_owned())
        })
        .filter(|e| !e.is_empty() && e.len() <= 254)
        .ok_or_else(|| {
            Problem::invalid(
                "email",
                "Give the address to look up: /api/v1/users?email=ada%40example.com",
                "an email address of at most 254 characters",
            )
        })?;
    match accounts.user_by_email(&email).await {
        Ok(Some(user)) => Ok(Json(user.into())),
        Ok(None) => Err(Problem::not_found(format!(
            "No user has the address {email}."
        ))),
        Err(e) => Err(Problem::unavailable(&e)),
    }
}
