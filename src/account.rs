//! Accounts: creating admins (CLI and first-admin setup) and users with the client account they
//! own (CLI and self-registration), with field-level validation and the password policy; email
//! verification links and confirming them, changing the email address (`email`; confirming
//! and undoing a change, `email_change`), the
//! password (`password`), and self-registration that reveals no account (`register`).
//!
//! [`Accounts`] is the service the registration, verification, email and password pages call;
//! the free functions here delegate to it for callers that hold the application state (the
//! CLI, the tests and benchmarks). Errors are per field so a page can show each one next to its input.

mod email;
mod email_change;
mod password;
mod profile;
mod register;

pub use profile::{UserChangeError, UserChanges};

pub(crate) use password::replace_password;

pub use crate::db::account::UserRow;
/// The state of a presented one-time link (valid, unknown, expired, used).
pub use crate::db::one_time_token::TokenState as LinkState;
pub use email::{
    CHANGE_PURPOSE, ConfirmError, LinkError, REVERT_LIFETIME, REVERT_PATH, REVERT_PURPOSE,
    ResendError, Resent, VERIFY_LIFETIME, VERIFY_PURPOSE,
};
pub use email_change::{RevertError, Reverted};

use crate::app::AppState;
use crate::auth::hasher::HashError;
use crate::auth::policy::PasswordPolicy;
use crate::clock::Clock;
use crate::db;
use crate::domain::audit::{Action, Actor};
use crate::domain::{AdminId, ClientId, Realm, RoleId, UserId};
use crate::settings::Settings;
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;

/// One problem with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }

    /// Several problems in one line, `field: message; field: message`: what an error enum's
    /// `Invalid` variant says outside a form (the command line, logs).
    pub fn list(errors: &[Self]) -> String {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Why an account was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{}", FieldError::list(.0))]
    Invalid(Vec<FieldError>),
    #[error("the server is busy; try again in a moment")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl CreateError {
    /// Whether the only refusal is that the address (or username) is taken.
    pub fn is_taken(&self) -> bool {
        matches!(self, Self::Invalid(errors) if !errors.is_empty() && errors.iter().all(|e| e.message == register::TAKEN))
    }
}

impl From<sqlx::Error> for CreateError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unexpected(e.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CreateError {
    CreateError::Invalid(vec![FieldError::new(field, message)])
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

/// The accounts service: what account changes need of the application state.
#[derive(Clone)]
pub struct Accounts {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    config: Arc<crate::config::Config>,
    hasher: crate::auth::hasher::Hasher,
    settings: Settings,
    /// Wrong current passwords count like failed sign-ins (`crate::throttle`).
    throttle: crate::throttle::Throttle,
}

impl From<UserRow> for Holder {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            disabled: u.disabled,
            inputs: vec![u.email.clone(), u.first_name.clone(), u.last_name.clone()],
            email: u.email,
            name: u.first_name,
            password_hash: u.password_hash,
        }
    }
}

impl From<db::account::AdminRow> for Holder {
    fn from(a: db::account::AdminRow) -> Self {
        Self {
            id: a.id,
            disabled: a.disabled,
            inputs: vec![a.username.clone(), a.email.clone()],
            email: a.email,
            name: a.username,
            password_hash: Some(a.password_hash),
        }
    }
}

impl From<&AppState> for Accounts {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            config: state.config.clone(),
            hasher: state.hasher.clone(),
            settings: Settings::from(state),
            throttle: crate::throttle::Throttle::from(state),
        }
    }
}

/// Whom a password belongs to, as changing or resetting it needs them.
pub(crate) struct Holder {
    pub id: i64,
    pub disabled: bool,
    /// Where the notices go.
    pub email: String,
    /// The name the notices greet: a user's first name, an admin's username.
    pub name: String,
    /// What the password must not be built from (the realm's identifying fields).
    pub inputs: Vec<String>,
    /// The stored hash, if the account has a password.
    pub password_hash: Option<String>,
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

/// A new password typed twice: the `password_confirm` problem when the two differ. Every form
/// that sets a password asks for it twice.
pub fn mismatch(password: &SecretString, confirm: &str) -> Option<FieldError> {
    (confirm != password.expose_secret())
        .then(|| FieldError::new("password_confirm", "The two passwords are not the same."))
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
        errors.push(FieldError::new(
            field,
            "Enter between 1 and 100 characters.",
        ));
    }
}

/// Adds the password's problem under `policy`, if any, to `errors` (field `password`).
pub(crate) fn check_password(
    policy: &PasswordPolicy,
    password: &SecretString,
    inputs: &[&str],
    errors: &mut Vec<FieldError>,
) {
    if let Err(v) = policy.check(password.expose_secret(), inputs) {
        errors.push(FieldError::new("password", v.to_string()));
    }
}

/// A realm's password policy.
pub(crate) fn policy(config: &crate::config::Config, realm: Realm) -> PasswordPolicy {
    PasswordPolicy {
        min_length: match realm {
            Realm::Admin => config.admin_min_password_length,
            Realm::Client => config.client_min_password_length,
        },
        max_length: 128,
        min_score: config.min_password_score,
    }
}

/// A hasher refusal as an account error: `Busy` is shown as such, the rest is unexpected.
fn hash_error(e: HashError) -> CreateError {
    match e {
        HashError::Busy => CreateError::Busy,
        other => CreateError::Unexpected(anyhow::anyhow!(other.to_string())),
    }
}

/// Validates and creates an admin with `role_id` ([`Accounts::create_admin`]).
///
/// # Errors
/// As [`Accounts::create_admin`].
pub async fn create_admin(
    state: &AppState,
    new: &NewAdmin<'_>,
    role_id: i64,
) -> Result<i64, CreateError> {
    Accounts::from(state)
        .create_admin(new, RoleId(role_id))
        .await
        .map(AdminId::get)
}

/// Validates and creates a user and (with `owns_account`) the client account they own
/// ([`Accounts::create_user`]). Returns the user's id and the owned account's id (0 when none
/// was created).
///
/// # Errors
/// As [`Accounts::create_user`].
pub async fn create_user(state: &AppState, new: &NewUser<'_>) -> Result<(i64, i64), CreateError> {
    let (user, account) = Accounts::from(state).create_user(new).await?;
    Ok((user.get(), account.map_or(0, ClientId::get)))
}

impl Accounts {
    /// Whether people may register themselves (`client.registration`).
    pub fn registration_open(&self) -> bool {
        self.config.registration
    }

    /// Whether the client sign-in offers "Keep me signed in" (`session.client_remember`).
    pub fn remember_offered(&self) -> bool {
        self.config.client_session.remember_seconds.is_some()
    }

    /// The shortest password a realm's policy accepts, for the forms' hints.
    pub fn min_password_length(&self, realm: Realm) -> usize {
        policy(&self.config, realm).min_length
    }

    /// A stored instant as people read it, in the configured timezone.
    fn show_time(&self, unix: i64) -> String {
        self.settings.show_time(unix)
    }

    /// The portal's name in emails.
    fn portal_name(&self) -> String {
        crate::mail::template::portal_name(&self.config.system_url)
    }

    /// Whose password `id` of `realm` is, if the account exists.
    ///
    /// # Errors
    /// Storage errors.
    pub(crate) async fn holder(
        &self,
        realm: Realm,
        id: i64,
    ) -> Result<Option<Holder>, sqlx::Error> {
        Ok(match realm {
            Realm::Client => db::account::find_user_by_id(&self.db, id)
                .await?
                .map(Holder::from),
            Realm::Admin => db::account::find_admin_by_id(&self.db, id)
                .await?
                .map(Holder::from),
        })
    }

    /// The account of `realm` with the address `email`, if any (a reset request names it so).
    ///
    /// # Errors
    /// Storage errors.
    pub(crate) async fn holder_by_email(
        &self,
        realm: Realm,
        email: &str,
    ) -> Result<Option<Holder>, sqlx::Error> {
        Ok(match realm {
            Realm::Client => db::account::find_user_by_email(&self.db, email)
                .await?
                .map(Holder::from),
            Realm::Admin => db::account::find_admin_by_email(&self.db, email)
                .await?
                .map(Holder::from),
        })
    }

    /// A new password's hash, from the bounded hasher.
    pub(crate) async fn hash(&self, password: &SecretString) -> Result<String, CreateError> {
        self.hasher.hash(password.clone()).await.map_err(hash_error)
    }

    /// A user as stored now (the email page reads the address and whether it is confirmed).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn user(&self, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
        db::account::find_user_by_id(&self.db, id.get()).await
    }

    /// The user with this email address (compared as sign-in compares it), for the admin API.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
        db::account::find_user_by_email(&self.db, email).await
    }

    /// Validates and creates an admin with `role`.
    ///
    /// # Errors
    /// Field errors (including a taken username or email), `Busy`, or storage errors.
    pub async fn create_admin(
        &self,
        new: &NewAdmin<'_>,
        role: RoleId,
    ) -> Result<AdminId, CreateError> {
        let mut errors = Vec::new();
        if let Some(m) = check_username(new.username) {
            errors.push(FieldError::new("username", m));
        }
        if let Some(m) = check_email(new.email) {
            errors.push(FieldError::new("email", m));
        }
        check_password(
            &policy(&self.config, Realm::Admin),
            new.password,
            &[new.username, new.email],
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(CreateError::Invalid(errors));
        }
        if db::account::admin_exists(&self.db, new.username, new.email.trim()).await? {
            return Err(invalid(
                "username",
                "An admin with this username or email already exists.",
            ));
        }
        let hash = self.hash(new.password).await?;
        let now = self.clock.unix();
        db::account::insert_admin(
            &self.db,
            new.username,
            new.email.trim(),
            &hash,
            role.get(),
            now,
        )
        .await
        .map(AdminId)
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

    /// Validates and creates a user and (with `owns_account`) a client account the user owns,
    /// in one transaction; an unverified address gets its verification link in the same one.
    /// Returns the user and the owned account.
    ///
    /// # Errors
    /// Field errors (including a taken email), `Busy`, or storage errors.
    pub async fn create_user(
        &self,
        new: &NewUser<'_>,
    ) -> Result<(UserId, Option<ClientId>), CreateError> {
        self.create_user_recorded(new, None).await
    }

    /// [`Self::create_user`] on another's behalf: the audit log records `actor` creating the
    /// user, `how` saying through what (an API credential), in the same transaction.
    ///
    /// # Errors
    /// As [`Self::create_user`].
    pub async fn create_user_as(
        &self,
        actor: &Actor,
        how: &str,
        new: &NewUser<'_>,
    ) -> Result<(UserId, Option<ClientId>), CreateError> {
        self.create_user_recorded(new, Some((actor, how))).await
    }

    async fn create_user_recorded(
        &self,
        new: &NewUser<'_>,
        by: Option<(&Actor, &str)>,
    ) -> Result<(UserId, Option<ClientId>), CreateError> {
        let mut errors = Vec::new();
        if let Some(m) = check_email(new.email) {
            errors.push(FieldError::new("email", m));
        }
        check_name("first_name", new.first_name, &mut errors);
        check_name("last_name", new.last_name, &mut errors);
        check_password(
            &policy(&self.config, Realm::Client),
            new.password,
            &[new.email, new.first_name, new.last_name],
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(CreateError::Invalid(errors));
        }
        let taken = register::TAKEN;
        if db::account::find_user_by_email(&self.db, new.email.trim())
            .await?
            .is_some()
        {
            return Err(invalid("email", taken));
        }
        let hash = self.hash(new.password).await?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
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
            Some(ClientId(db::client::insert(&mut *tx, user_id, now).await?))
        } else {
            None
        };
        if new.verified {
            db::account::mark_verified(&mut *tx, user_id, now).await?;
        } else {
            self.queue_verification(
                &mut tx,
                UserId(user_id),
                new.email.trim(),
                new.first_name.trim(),
                now,
            )
            .await?;
        }
        if let Some((actor, how)) = by {
            let owning = client_id.map_or(String::new(), |c| format!(", owner of client:{}", c.0));
            crate::audit::record(
                &mut *tx,
                now,
                actor,
                Action::UserCreated,
                format!("user:{user_id}"),
                &format!("created {}{owning} {how}", new.email.trim()),
            )
            .await?;
        }
        tx.commit().await?;
        Ok((UserId(user_id), client_id))
    }
}

/// Issues a new first-admin setup link when no admin exists; see [`crate::setup::Setup`], which
/// `serve` and the tests reach through this.
///
/// # Errors
/// Storage errors.
pub async fn setup_link_if_needed(state: &AppState) -> anyhow::Result<Option<String>> {
    crate::setup::Setup::from(state).link_if_needed().await
}
