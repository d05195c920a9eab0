//! Administrators: listing them, changing an admin's role or disabled flag, deleting one and
//! inviting one; and the rule every grant obeys, that an admin grants only what they hold.
//!
//! Owns the rules: the last enabled Full Administrator can be neither demoted, disabled nor
//! deleted (counted inside the change's transaction, the rows locked on PostgreSQL); disabling or
//! deleting an admin ends their sessions and the login-as-client sessions they opened, and
//! deleting also removes their second factors; the grant bound ([`Granter::grant_bound`], which
//! `role` uses too); an invitation names a role. It writes `admin.updated`, `admin.deleted` and
//! `admin.invite`.
//!
//! Not here: creating the account (`account`), the invitation link's storage and acceptance
//! (`invite`), roles themselves (`role`). Pages reach it as the `Admins` sub-state
//! (`web/state.rs`) and map each error enum to a page and a status.

use crate::account::{self, FieldError};
use crate::app::AppState;
use crate::auth::permission::{FULL_ADMINISTRATOR, PermissionSet};
use crate::clock::Clock;
use crate::db;
use crate::domain::{Action, Actor, AdminId, RoleId};
use crate::invite::{Invitation, Invitations, SendError};
use crate::role::RoleRow;
use std::sync::Arc;

pub use crate::db::account::AdminRow;

/// The admin making a change, as far as granting goes: who they are and what their role holds
/// (as the request's gate loaded it).
#[derive(Debug, Clone)]
pub struct Granter {
    pub id: AdminId,
    pub username: String,
    pub role_name: String,
    pub permissions: PermissionSet,
}

impl Granter {
    /// The signed-in `admin`, whose role holds `permissions`.
    pub fn new(admin: &AdminRow, permissions: PermissionSet) -> Self {
        Self {
            id: AdminId(admin.id),
            username: admin.username.clone(),
            role_name: admin.role_name.clone(),
            permissions,
        }
    }

    /// The one grant rule: `wanted` (what a role gives, what a target admin holds, what a role
    /// being edited holds or will hold) may contain nothing the granter lacks, so `manage_admins`
    /// or `manage_roles` never becomes a way to any other permission.
    ///
    /// # Errors
    /// [`GrantError`] naming what is beyond the granter, worded for `what`.
    pub fn grant_bound(&self, what: Granted, wanted: PermissionSet) -> Result<(), GrantError> {
        let beyond = wanted.beyond(self.permissions);
        if beyond.is_empty() {
            return Ok(());
        }
        Err(GrantError {
            what,
            role: self.role_name.clone(),
            beyond,
        })
    }
}

/// What a grant is checked for, which decides how its refusal is worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granted {
    /// Changing or deleting the admin `username`, who holds the permissions checked.
    Admin { username: String },
    /// Giving the role `name` (to an admin, or in an invitation).
    Role { name: String },
    /// Putting permissions into, or editing, a role.
    Permissions,
}

/// A grant refused: `beyond` are the permissions the granter's role (`role`) lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct GrantError {
    pub what: Granted,
    pub role: String,
    pub beyond: PermissionSet,
}

impl GrantError {
    /// The words the pages show.
    fn message(&self) -> String {
        let (role, names) = (&self.role, self.beyond.names());
        match &self.what {
            Granted::Admin { username } => format!(
                "{username} holds permissions your role ({role}) does not: {names}. Only an admin who holds them can change or delete this account; ask a Full Administrator."
            ),
            Granted::Role { name } => format!(
                "The role {name} holds permissions your role ({role}) does not: {names}. Only an admin who holds them can give them; ask a Full Administrator."
            ),
            Granted::Permissions => format!(
                "Your role ({role}) does not hold {names}: you can only grant, or edit a role that holds, permissions you hold yourself. Ask a Full Administrator."
            ),
        }
    }
}

/// Why an admin's role or disabled flag was not changed.
#[derive(Debug, thiserror::Error)]
pub enum AdminChangeError {
    #[error("there is no such administrator")]
    NotFound,
    #[error("Choose one of the roles.")]
    NoSuchRole,
    #[error(transparent)]
    Beyond(#[from] GrantError),
    #[error(
        "{username} is the last enabled Full Administrator: they cannot be demoted or disabled. Make someone else a Full Administrator first."
    )]
    LastFullAdministrator { username: String },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why an admin was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum AdminDeleteError {
    #[error("there is no such administrator")]
    NotFound,
    #[error(transparent)]
    Beyond(#[from] GrantError),
    #[error("{username} is the last enabled Full Administrator and cannot be deleted.")]
    LastFullAdministrator { username: String },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why an admin invitation was not sent.
#[derive(Debug, thiserror::Error)]
pub enum AdminInviteError {
    /// Problems with the address or the role, per field.
    #[error("{}", crate::account::FieldError::list(.0))]
    Invalid(Vec<FieldError>),
    /// The role holds permissions the inviter lacks.
    #[error(transparent)]
    Beyond(#[from] GrantError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    /// The link's secret or the email could not be made.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<SendError> for AdminInviteError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Storage(e) => Self::Storage(e),
            SendError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> AdminInviteError {
    AdminInviteError::Invalid(vec![FieldError::new(field, message)])
}

/// The administrators service.
#[derive(Clone)]
pub struct Admins {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    invitations: Invitations,
}

impl From<&AppState> for Admins {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            invitations: Invitations::from(state),
        }
    }
}

/// Whether `target` counts among the enabled Full Administrators, whose last one may be neither
/// demoted, disabled nor deleted.
fn is_enabled_full_administrator(target: &AdminRow) -> bool {
    target.role_id == FULL_ADMINISTRATOR && !target.disabled
}

/// The audit detail's note of the sessions a disabled or deleted admin lost.
fn ended(own: u64, as_client: u64) -> String {
    format!("; ended {own} admin session(s) and {as_client} login-as-client session(s)")
}

impl Admins {
    /// Every admin, by username.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self) -> Result<Vec<AdminRow>, sqlx::Error> {
        db::account::list_admins(&self.db).await
    }

    /// One admin.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn find(&self, id: AdminId) -> Result<Option<AdminRow>, sqlx::Error> {
        db::account::find_admin_by_id(&self.db, id.get()).await
    }

    /// The granter may act on `target` only if they hold everything `target` holds: the outer
    /// error is storage's, the inner one the refusal.
    async fn may_act_on(
        &self,
        by: &Granter,
        target: &AdminRow,
    ) -> Result<Result<(), GrantError>, sqlx::Error> {
        let theirs = db::role::permissions(&self.db, target.role_id).await?;
        let what = Granted::Admin {
            username: target.username.clone(),
        };
        Ok(by.grant_bound(what, theirs))
    }

    /// Whether `by` may give `role` (to an admin, or in an invitation): the grant bound over
    /// the permissions the role holds.
    async fn may_give(
        &self,
        by: &Granter,
        role: &RoleRow,
    ) -> Result<Result<(), GrantError>, sqlx::Error> {
        let given = db::role::permissions(&self.db, role.id).await?;
        let what = Granted::Role {
            name: role.name.clone(),
        };
        Ok(by.grant_bound(what, given))
    }

    /// Gives admin `id` the role `role` and sets whether they are disabled. Disabling ends their
    /// sessions, the login-as-client ones they opened included.
    ///
    /// # Errors
    /// No such admin or role, a grant beyond `by`, the last enabled Full Administrator, or
    /// storage errors.
    pub async fn update(
        &self,
        by: &Granter,
        id: AdminId,
        role: RoleId,
        disabled: bool,
    ) -> Result<(), AdminChangeError> {
        let target = self.find(id).await?.ok_or(AdminChangeError::NotFound)?;
        let role = db::role::find(&self.db, role.get())
            .await?
            .ok_or(AdminChangeError::NoSuchRole)?;
        self.may_act_on(by, &target).await??;
        self.may_give(by, &role).await??;
        let leaves_full = role.id != FULL_ADMINISTRATOR || disabled;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        db::role::lock_full_administrators(&mut tx, db::is_postgres(&self.db)).await?;
        db::account::update_admin(&mut *tx, id.get(), role.id, disabled, now).await?;
        // Counted inside the transaction (the rows locked on PostgreSQL), so two admins demoted
        // at once cannot both pass.
        if leaves_full
            && is_enabled_full_administrator(&target)
            && db::role::enabled_full_administrators(&mut *tx).await? == 0
        {
            tx.rollback().await?;
            return Err(AdminChangeError::LastFullAdministrator {
                username: target.username,
            });
        }
        let mut note = String::new();
        if disabled && !target.disabled {
            let (own, as_client) = crate::session::revoke_admin(&mut tx, id, now).await?;
            note = ended(own, as_client);
        }
        let detail = format!(
            "{}: role {} -> {}, {}{note}",
            target.username,
            target.role_name,
            role.name,
            if disabled { "disabled" } else { "enabled" }
        );
        audit(&mut tx, now, &by.id, Action::AdminUpdated, id, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes admin `id` with their second factors, and ends their sessions, the
    /// login-as-client ones they opened included.
    ///
    /// # Errors
    /// No such admin, a target holding more than `by`, the last enabled Full Administrator, or
    /// storage errors.
    pub async fn delete(&self, by: &Granter, id: AdminId) -> Result<(), AdminDeleteError> {
        let target = self.find(id).await?.ok_or(AdminDeleteError::NotFound)?;
        self.may_act_on(by, &target).await??;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        db::role::lock_full_administrators(&mut tx, db::is_postgres(&self.db)).await?;
        let (own, as_client) = crate::session::revoke_admin(&mut tx, id, now).await?;
        db::two_factor::remove_all(&mut tx, crate::domain::Realm::Admin.as_str(), id.get()).await?;
        db::account::delete_admin(&mut *tx, id.get()).await?;
        if is_enabled_full_administrator(&target)
            && db::role::enabled_full_administrators(&mut *tx).await? == 0
        {
            tx.rollback().await?;
            return Err(AdminDeleteError::LastFullAdministrator {
                username: target.username,
            });
        }
        let detail = format!("{}{}", target.username, ended(own, as_client));
        audit(&mut tx, now, &by.id, Action::AdminDeleted, id, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Invites `email` to become an admin with `role`, on behalf of `by`, who must hold every
    /// permission of the role. No role is assumed: a forgotten choice must not make a Full
    /// Administrator. Returns the link when sending mail is switched off (the message only
    /// waits in the queue, so the inviter passes it on); otherwise it travels by email alone.
    ///
    /// # Errors
    /// No role chosen, a role beyond `by`, a bad or taken address, an unknown role, storage or
    /// unexpected errors.
    pub async fn invite(
        &self,
        by: &Granter,
        email: &str,
        role: Option<RoleId>,
    ) -> Result<Option<String>, AdminInviteError> {
        let Some(role) = role else {
            return Err(invalid(
                "role_id",
                "Choose the role the new admin will have.",
            ));
        };
        let role = db::role::find(&self.db, role.get()).await?;
        if let Some(role) = &role {
            self.may_give(by, role).await??;
        }
        let email = email.trim();
        if let Some(m) = account::check_email(email) {
            return Err(invalid("email", m));
        }
        if db::account::find_admin_by_email(&self.db, email)
            .await?
            .is_some()
        {
            return Err(invalid(
                "email",
                "An admin with this address already exists.",
            ));
        }
        let Some(role) = role else {
            return Err(invalid("role_id", "Choose one of the roles."));
        };
        self.invitations
            .send(
                Invitation::Admin {
                    role: &role,
                    email,
                    inviter: &by.username,
                },
                &Actor::Admin(by.id),
                &format!("{email} as {}", role.name),
            )
            .await
            .map_err(AdminInviteError::from)
    }
}

/// Writes an audit entry about admin `subject` by admin `actor`; the request's address and user
/// agent come from `request_origin::with_origin`.
async fn audit(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    now: i64,
    actor: &AdminId,
    action: Action,
    subject: AdminId,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let (actor, subject) = (Actor::Admin(*actor), Actor::Admin(subject));
    crate::audit::record(&mut **tx, now, &actor, action, subject, detail).await
}
