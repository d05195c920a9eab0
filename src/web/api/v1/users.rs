//! Users: `GET /api/v1/users/{id}` and `GET /api/v1/users?email=` find one (API role
//! `users.read`); `POST /api/v1/users` creates one, with the client account they own (API role
//! `users.write`). The lookups, the rules and the audit record are the `Accounts` service's.

use super::Caller;
use super::body::Body;
use crate::account::{
    Accounts, CreateError, FieldError, NewUser, UserChangeError, UserChanges, UserRow,
};
use crate::api_credential::ApiRole;
use crate::domain::UserId;
use crate::domain::audit::Actor;
use crate::web::api::problem::{FieldProblem, Problem, ProblemBody};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// A user as the API shows them (never the password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// The user id in a path.
///
/// # Errors
/// 400 naming `id` unless it is a positive whole number.
pub(super) fn user_id(id: &str) -> Result<UserId, Problem> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(UserId)
        .ok_or_else(|| {
            Problem::invalid(
                "id",
                format!("{id:?} is not a user id"),
                "a positive whole number",
            )
        })
}

/// One user by id.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "users",
    operation_id = "getUser",
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 400, description = "The id is not a positive whole number", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `users.read`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn get_one(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<User>, Problem> {
    caller.require(ApiRole::UsersRead)?;
    let UserId(id) = user_id(&id)?;
    match accounts.user(UserId(id)).await {
        Ok(Some(user)) => Ok(Json(user.into())),
        Ok(None) => Err(Problem::not_found(format!("No user has id {id}."))),
        Err(e) => Err(Problem::unavailable(&e)),
    }
}

/// One user by email address: `?email=`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    operation_id = "findUserByEmail",
    params(("email" = String, Query, description = "The address to look up")),
    responses(
        (status = 200, description = "The user with that address", body = User),
        (status = 400, description = "No address given", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `users.read`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No user has the address", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
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

/// A user to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Checked against the client password policy; stored as an Argon2id hash only.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    /// `true` when the caller vouches for the address; otherwise a verification mail is queued.
    #[serde(default)]
    pub verified: bool,
    /// Create a client account the user owns (default `true`).
    #[serde(default = "yes")]
    pub owns_account: bool,
}

fn yes() -> bool {
    true
}

/// A created user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    #[serde(flatten)]
    pub user: User,
    /// The client account they own, if one was created.
    pub client_account_id: Option<i64>,
}

/// Creates a user and, unless `owns_account` is false, the client account they own.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    operation_id = "createUser",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "The body is not well-formed JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `users.write`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The address is taken", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A field is of the wrong type, unknown, or refused by the rules", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn post_create(
    State(accounts): State<Accounts>,
    caller: Caller,
    Body(body): Body<NewUserBody>,
) -> Result<(StatusCode, Json<CreatedUser>), Problem> {
    caller.require(ApiRole::UsersWrite)?;
    let new = NewUser {
        email: &body.email,
        first_name: &body.first_name,
        last_name: &body.last_name,
        password: &body.password,
        verified: body.verified,
        owns_account: body.owns_account,
    };
    let (id, account) = match accounts
        .create_user_as(&Actor::Admin(caller.0.admin), &through(&caller), &new)
        .await
    {
        Ok(created) => created,
        Err(taken) if taken.is_taken() => {
            return Err(Problem::conflict(
                Some("email"),
                format!("A user with the address {} exists.", body.email.trim()),
            ));
        }
        Err(CreateError::Invalid(errors)) => return Err(refused(errors)),
        Err(CreateError::Busy) => {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "The server is busy",
                "Every password hashing slot is taken; try again in a moment.",
            )
            .retry_after(2));
        }
        Err(CreateError::Unexpected(e)) => return Err(Problem::unexpected(&e)),
    };
    let user = accounts
        .user(id)
        .await
        .map_err(|e| Problem::unavailable(&e))?
        .ok_or_else(|| Problem::not_found("The user was removed as it was created."))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user: user.into(),
            client_account_id: account.map(|c| c.0),
        }),
    ))
}

/// A 422 naming each field a service refused.
pub(super) fn refused(errors: Vec<FieldError>) -> Problem {
    Problem::fields(
        errors
            .into_iter()
            .map(|e| FieldProblem {
                field: e.field.to_owned(),
                detail: e.message,
            })
            .collect(),
    )
}

/// How the audit log names a change made through a credential.
fn through(caller: &Caller) -> String {
    format!("through the admin API (credential {})", caller.0.identifier)
}

fn change_refused(id: i64, e: UserChangeError) -> Problem {
    match e {
        UserChangeError::Unknown => Problem::not_found(format!("No user has id {id}.")),
        UserChangeError::Invalid(errors) => refused(errors),
        UserChangeError::Storage(e) => Problem::unavailable(&e),
    }
}

/// What to change about a user; absent fields stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `true` disables the user and ends their sessions (the applications they signed in to
    /// are told); `false` enables them again.
    pub disabled: Option<bool>,
}

/// The user after a change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UpdatedUser {
    #[serde(flatten)]
    pub user: User,
    /// Sessions ended by disabling.
    pub sessions_ended: u64,
}

/// Changes a user's names, or disables or enables them.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "users",
    operation_id = "updateUser",
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user as changed", body = UpdatedUser),
        (status = 400, description = "The id or the body is malformed", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `users.write`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A field is of the wrong type, unknown, or refused", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn patch_one(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<UserPatch>,
) -> Result<Json<UpdatedUser>, Problem> {
    caller.require(ApiRole::UsersWrite)?;
    let id = user_id(&id)?;
    let changes = UserChanges {
        first_name: body.first_name,
        last_name: body.last_name,
        disabled: body.disabled,
    };
    let ended = accounts
        .update_user_as(
            &Actor::Admin(caller.0.admin),
            &through(&caller),
            id,
            &changes,
        )
        .await
        .map_err(|e| change_refused(id.0, e))?;
    let user = accounts
        .user(id)
        .await
        .map_err(|e| Problem::unavailable(&e))?
        .ok_or_else(|| Problem::not_found(format!("No user has id {}.", id.0)))?;
    Ok(Json(UpdatedUser {
        user: user.into(),
        sessions_ended: ended,
    }))
}

/// A password hash from another system.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordHashBody {
    /// bcrypt (`$2y$...`, 60 characters) or WHMCS's `md5:salt`.
    #[schema(value_type = String, format = Password)]
    pub password_hash: SecretString,
}

/// The format an imported hash was taken as.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportedHash {
    pub format: &'static str,
}

/// Sets a user's password to a hash carried over from another system (an import); the first
/// sign-in with the right password replaces it with Argon2id.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/password-hash",
    tag = "users",
    operation_id = "importPasswordHash",
    params(("id" = i64, Path, description = "The user's id")),
    request_body = PasswordHashBody,
    responses(
        (status = 200, description = "Stored", body = ImportedHash),
        (status = 400, description = "The id or the body is malformed", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `users.write`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Not a hash format Portcullis verifies", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn post_password_hash(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<PasswordHashBody>,
) -> Result<Json<ImportedHash>, Problem> {
    use secrecy::ExposeSecret as _;
    caller.require(ApiRole::UsersWrite)?;
    let id = user_id(&id)?;
    accounts
        .import_password_hash_as(
            &Actor::Admin(caller.0.admin),
            &through(&caller),
            id,
            body.password_hash.expose_secret(),
        )
        .await
        .map(|format| Json(ImportedHash { format }))
        .map_err(|e| change_refused(id.0, e))
}
