//! Creating accounts: admins (CLI and first-admin setup), users with the client account they own
//! (CLI and self-registration), with field-level validation and the password policy.
//!
//! Errors are per field so the page can show each one next to its input.

use crate::app::AppState;
use crate::auth::hasher::HashError;
use crate::auth::policy::PasswordPolicy;
use crate::db;
use secrecy::{ExposeSecret as _, SecretString};

/// One problem with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Why an account was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("the server is busy; try again in a moment")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for CreateError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unexpected(e.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CreateError {
    CreateError::Invalid(vec![FieldError {
        field,
        message: message.into(),
    }])
}

/// Input for a new admin.
#[derive(Debug)]
pub struct NewAdmin<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a SecretString,
}

/// Input for a new user (and the client account they will own).
#[derive(Debug)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub password: &'a SecretString,
    /// `true` when an operator vouches for the address (CLI) or the person arrived through a
    /// link sent to it; otherwise a verification link is emailed in the same transaction.
    pub verified: bool,
    /// Create a client account the user owns (false for a user invited into someone's account).
    pub owns_account: bool,
}

/// Purpose label of email verification links.
pub const VERIFY_PURPOSE: &str = "verify_email";
/// How long an email verification link works.
pub const VERIFY_LIFETIME: i64 = 3600;

/// Issues a verification link for `user_id` (invalidating older ones) and queues the email, on
/// the caller's transaction.
///
/// # Errors
/// Storage errors.
pub async fn queue_verification(
    state: &AppState,
    tx: &mut sqlx::Transaction<'static, crate::db::Db>,
    user_id: i64,
    email: &str,
    name: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let token = crate::token::generate().map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let rendered = crate::mail::template::VerifyEmail {
        portal: crate::reset::portal_name(state),
        name: name.to_owned(),
        email: email.to_owned(),
        link: state
            .config
            .system_url
            .join(&format!("/verify-email/{}", token.plain)),
        expires: state.show_time(now + VERIFY_LIFETIME),
    }
    .render()
    .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    db::one_time_token::revoke_subject(&mut **tx, VERIFY_PURPOSE, user_id, now).await?;
    db::one_time_token::insert(
        &mut **tx,
        &token.hash,
        VERIFY_PURPOSE,
        Some(user_id),
        now,
        now + VERIFY_LIFETIME,
    )
    .await?;
    crate::mail::queue::enqueue(&mut **tx, email, &rendered, now).await?;
    Ok(())
}

/// Checks an email address's shape (delivery is checked by verification mail, later).
pub fn check_email(email: &str) -> Option<String> {
    let email = email.trim();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    (!ok).then(|| "Enter an email address such as name@example.com.".to_owned())
}

/// Checks an admin username: starts with a letter, letters and digits only, 3 to 32 characters.
pub fn check_username(username: &str) -> Option<String> {
    let ok = (3..=32).contains(&username.len())
        && username.starts_with(|c: char| c.is_ascii_alphabetic())
        && username.chars().all(|c| c.is_ascii_alphanumeric());
    (!ok).then(|| "Use 3 to 32 letters and digits, starting with a letter.".to_owned())
}

fn check_name(field: &'static str, value: &str, errors: &mut Vec<FieldError>) {
    let len = value.trim().chars().count();
    if len == 0 || len > 100 || value.chars().any(char::is_control) {
        errors.push(FieldError {
            field,
            message: "Enter between 1 and 100 characters.".into(),
        });
    }
}

fn check_password(
    policy: &PasswordPolicy,
    password: &SecretString,
    inputs: &[&str],
    errors: &mut Vec<FieldError>,
) {
    if let Err(v) = policy.check(password.expose_secret(), inputs) {
        errors.push(FieldError {
            field: "password",
            message: v.to_string(),
        });
    }
}

/// The admin realm's password policy.
pub fn admin_policy(state: &AppState) -> PasswordPolicy {
    PasswordPolicy {
        min_length: state.config.admin_min_password_length,
        max_length: 256,
        min_score: state.config.min_password_score,
    }
}

/// The client realm's password policy.
pub fn client_policy(state: &AppState) -> PasswordPolicy {
    PasswordPolicy {
        min_length: state.config.client_min_password_length,
        max_length: 256,
        min_score: state.config.min_password_score,
    }
}

async fn hash(state: &AppState, password: &SecretString) -> Result<String, CreateError> {
    state
        .hasher
        .hash(password.clone())
        .await
        .map_err(|e| match e {
            HashError::Busy => CreateError::Busy,
            other => CreateError::Unexpected(anyhow::anyhow!(other.to_string())),
        })
}

/// Validates and creates an admin with `role_id`.
///
/// # Errors
/// Field errors (including a taken username or email), `Busy`, or storage errors.
pub async fn create_admin(
    state: &AppState,
    new: &NewAdmin<'_>,
    role_id: i64,
) -> Result<i64, CreateError> {
    let mut errors = Vec::new();
    if let Some(m) = check_username(new.username) {
        errors.push(FieldError {
            field: "username",
            message: m,
        });
    }
    if let Some(m) = check_email(new.email) {
        errors.push(FieldError {
            field: "email",
            message: m,
        });
    }
    check_password(
        &admin_policy(state),
        new.password,
        &[new.username, new.email],
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(CreateError::Invalid(errors));
    }
    if db::account::admin_exists(&state.db, new.username, new.email.trim()).await? {
        return Err(invalid(
            "username",
            "An admin with this username or email already exists.",
        ));
    }
    let hash = hash(state, new.password).await?;
    let now = state.clock.unix();
    db::account::insert_admin(
        &state.db,
        new.username,
        new.email.trim(),
        &hash,
        role_id,
        now,
    )
    .await
    .map_err(|e| {
        if db::account::is_unique_violation(&e) {
            invalid(
                "username",
                "An admin with this username or email already exists.",
            )
        } else {
            e.into()
        }
    })
}

/// Validates and creates a user and (with `owns_account`) a client account the user owns, in one
/// transaction. Returns the user's id and the owned account's id (0 when none was created).
///
/// # Errors
/// Field errors (including a taken email), `Busy`, or storage errors.
pub async fn create_user(state: &AppState, new: &NewUser<'_>) -> Result<(i64, i64), CreateError> {
    let mut errors = Vec::new();
    if let Some(m) = check_email(new.email) {
        errors.push(FieldError {
            field: "email",
            message: m,
        });
    }
    check_name("first_name", new.first_name, &mut errors);
    check_name("last_name", new.last_name, &mut errors);
    check_password(
        &client_policy(state),
        new.password,
        &[new.email, new.first_name, new.last_name],
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(CreateError::Invalid(errors));
    }
    let taken =
        "An account with this email address already exists. Sign in, or reset your password.";
    if db::account::find_user_by_email(&state.db, new.email.trim())
        .await?
        .is_some()
    {
        return Err(invalid("email", taken));
    }
    let hash = hash(state, new.password).await?;
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    let user_id = db::account::insert_user(
        &mut *tx,
        new.email.trim(),
        new.first_name.trim(),
        new.last_name.trim(),
        Some(&hash),
        now,
    )
    .await
    .map_err(|e| {
        if db::account::is_unique_violation(&e) {
            invalid("email", taken)
        } else {
            e.into()
        }
    })?;
    let client_id = if new.owns_account {
        db::account::insert_client(&mut *tx, user_id, now).await?
    } else {
        0
    };
    if new.verified {
        db::mail::mark_verified(&mut *tx, user_id, now).await?;
    } else {
        queue_verification(
            state,
            &mut tx,
            user_id,
            new.email.trim(),
            new.first_name.trim(),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok((user_id, client_id))
}

/// Issues a new first-admin setup link when no admin exists; see [`crate::setup::Setup`], which
/// `serve` and the tests reach through this.
///
/// # Errors
/// Storage errors.
pub async fn setup_link_if_needed(state: &AppState) -> anyhow::Result<Option<String>> {
    crate::setup::Setup::from(state).link_if_needed().await
}

/// Changes a signed-in person's password after checking the current one, and ends every other
/// session of theirs (reason `password_changed`): whoever knew the old password is signed out.
///
/// # Errors
/// Field errors (`current_password`, `password`), `Busy`, or storage errors.
pub async fn change_password(
    state: &AppState,
    session: &crate::session::Session,
    current: &SecretString,
    new: &SecretString,
) -> Result<u64, CreateError> {
    use crate::auth::password::Verification;
    use crate::session::Realm;
    let (stored, inputs, policy) = match session.realm {
        Realm::Client => {
            let user = db::account::find_user_by_id(&state.db, session.subject_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the signed-in user no longer exists"))?;
            let inputs = vec![
                user.email.clone(),
                user.first_name.clone(),
                user.last_name.clone(),
            ];
            (user.password_hash, inputs, client_policy(state))
        }
        Realm::Admin => {
            let admin = db::account::find_admin_by_id(&state.db, session.subject_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the signed-in admin no longer exists"))?;
            let inputs = vec![admin.username.clone(), admin.email.clone()];
            (Some(admin.password_hash), inputs, admin_policy(state))
        }
    };
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let mut errors = Vec::new();
    check_password(&policy, new, &inputs, &mut errors);
    let verified = state
        .hasher
        .verify(current.clone(), stored)
        .await
        .map_err(|e| match e {
            HashError::Busy => CreateError::Busy,
            other => CreateError::Unexpected(anyhow::anyhow!(other.to_string())),
        })?;
    if !matches!(verified, Verification::Match { .. }) {
        errors.insert(
            0,
            FieldError {
                field: "current_password",
                message: "This is not your current password.".into(),
            },
        );
    }
    if !errors.is_empty() {
        return Err(CreateError::Invalid(errors));
    }
    let hash = hash(state, new).await?;
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    match session.realm {
        Realm::Client => {
            db::account::update_user_password(&mut *tx, session.subject_id, &hash, now).await?;
        }
        Realm::Admin => {
            db::account::update_admin_password(&mut *tx, session.subject_id, &hash, now).await?;
        }
    }
    let ended = db::session::end_all_for_subject(
        &mut *tx,
        session.realm.as_str(),
        session.subject_id,
        Some(&session.id_hash),
        crate::session::EndReason::PasswordChanged.as_str(),
        now,
    )
    .await?;
    let actor = format!("{}:{}", session.realm.as_str(), session.subject_id);
    db::audit::insert(
        &mut *tx,
        now,
        &db::audit::Entry {
            actor: &actor,
            action: "password.changed",
            subject: &actor,
            detail: &format!("{ended} other session(s) ended"),
            // The request's address and user agent (db::audit::RequestOrigin), not those the
            // session signed in with.
            ip: "",
            user_agent: "",
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// Changes a signed-in user's email address after checking their password. The new address is
/// unverified until its link (queued in the same transaction) is followed, and the old address
/// is told about the change, so a hijacked session cannot quietly take the account over.
///
/// # Errors
/// Field errors (`email`, `current_password`), `Busy`, or storage errors.
pub async fn change_email(
    state: &AppState,
    user_id: i64,
    new_email: &str,
    current: &SecretString,
) -> Result<(), CreateError> {
    use crate::auth::password::Verification;
    let user = db::account::find_user_by_id(&state.db, user_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the signed-in user no longer exists"))?;
    let new_email = new_email.trim();
    if let Some(m) = check_email(new_email) {
        return Err(invalid("email", m));
    }
    if new_email.eq_ignore_ascii_case(&user.email) {
        return Err(invalid("email", "This is already your email address."));
    }
    let verified = state
        .hasher
        .verify(current.clone(), user.password_hash.clone())
        .await
        .map_err(|e| match e {
            HashError::Busy => CreateError::Busy,
            other => CreateError::Unexpected(anyhow::anyhow!(other.to_string())),
        })?;
    if !matches!(verified, Verification::Match { .. }) {
        return Err(invalid(
            "current_password",
            "This is not your current password.",
        ));
    }
    if db::account::find_user_by_email(&state.db, new_email)
        .await?
        .is_some()
    {
        return Err(invalid(
            "email",
            "Another account already uses this address.",
        ));
    }
    let now = state.clock.unix();
    let notice = crate::mail::template::Generic {
        subject: format!("Your {} email address was changed", crate::reset::portal_name(state)),
        body: format!(
            "Hello {},\n\nThe email address of your account was changed from {} to {new_email} at {}.\n\nIf this was not you, reset your password at {} and contact support.",
            user.first_name,
            user.email,
            state.show_time(now),
            state.config.system_url.join("/password/reset")
        ),
    }
    .render()
    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let mut tx = state.db.begin().await?;
    db::account::update_user_email(&mut *tx, user_id, new_email, now)
        .await
        .map_err(|e| {
            if db::account::is_unique_violation(&e) {
                invalid("email", "Another account already uses this address.")
            } else {
                e.into()
            }
        })?;
    queue_verification(state, &mut tx, user_id, new_email, &user.first_name, now).await?;
    crate::mail::queue::enqueue(&mut *tx, &user.email, &notice, now).await?;
    tx.commit().await?;
    Ok(())
}
