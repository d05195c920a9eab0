//! Roles: named sets of admin permissions. Creating, renaming and re-granting a role, deleting
//! one nobody holds, and the reads the role pages and the CLI need.
//!
//! Owns the rules: a role's name is 1 to 64 characters and unique; Full Administrator is built
//! in (every permission by definition, never edited or deleted); a role still held cannot be
//! deleted; what goes into a role, or is taken from one, is bounded by what the editor holds
//! ([`crate::admin::Granter::grant_bound`], the one grant rule). It writes `role.created`,
//! `role.updated` and `role.deleted`.
//!
//! Not here: which role an admin holds (`admin`), the permissions themselves
//! (`auth::permission`). Pages reach it as the `Roles` sub-state (`web/state.rs`); the CLI
//! builds it from the application state.

use crate::admin::{GrantError, Granted, Granter};
use crate::app::AppState;
use crate::auth::permission::{Permission, PermissionSet};
use crate::clock::Clock;
use crate::db;
use crate::domain::{Action, Actor, AdminId, RoleId};
use std::sync::Arc;

pub use crate::db::role::RoleRow;

/// The refusal of a name outside 1 to 64 characters.
const NAME_LENGTH: &str = "Give the role a name of 1 to 64 characters.";

/// Why a role was not created.
#[derive(Debug, thiserror::Error)]
pub enum RoleCreateError {
    #[error("{NAME_LENGTH}")]
    InvalidName,
    #[error("A role called {name} already exists.")]
    NameTaken { name: String },
    #[error(transparent)]
    Beyond(#[from] GrantError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why a role was not saved.
#[derive(Debug, thiserror::Error)]
pub enum RoleEditError {
    #[error("there is no such role")]
    NotFound,
    #[error("{name} is built in: it always holds every permission.")]
    BuiltIn { name: String },
    #[error("{NAME_LENGTH}")]
    InvalidName,
    /// A form field that names no permission (a stale or forged form).
    #[error("There is no permission called {0:?}. Reload the page and try again.")]
    UnknownPermission(String),
    #[error(transparent)]
    Beyond(#[from] GrantError),
    #[error("A role called {name} already exists.")]
    NameTaken { name: String },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why a role was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum RoleDeleteError {
    #[error("there is no such role")]
    NotFound,
    #[error("{name} is built in and cannot be deleted.")]
    BuiltIn { name: String },
    #[error("{name} is held by {admins} administrator(s); give them another role first.")]
    Held { name: String, admins: i64 },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Whether `name` (trimmed) is a usable role name.
fn name_ok(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
}

/// The roles service.
#[derive(Clone)]
pub struct Roles {
    db: db::Pool,
    clock: Arc<dyn Clock>,
}

impl From<&AppState> for Roles {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
        }
    }
}

impl Roles {
    /// Every role with how many admins hold it.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self) -> Result<Vec<RoleRow>, sqlx::Error> {
        db::role::list(&self.db).await
    }

    /// One role.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn find(&self, id: RoleId) -> Result<Option<RoleRow>, sqlx::Error> {
        db::role::find(&self.db, id.get()).await
    }

    /// A role's id by name, case-insensitively (the CLI's `--role`).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn find_by_name(&self, name: &str) -> Result<Option<RoleId>, sqlx::Error> {
        Ok(db::role::find_by_name(&self.db, name).await?.map(RoleId))
    }

    /// What a role holds (every permission for Full Administrator).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn permissions(&self, id: RoleId) -> Result<PermissionSet, sqlx::Error> {
        db::role::permissions(&self.db, id.get()).await
    }

    /// Creates the role `name` holding `granted` (the page creates it empty, then opens its
    /// form); `by` may give only what they hold.
    ///
    /// # Errors
    /// A bad or taken name, a grant beyond `by`, or storage errors.
    pub async fn create(
        &self,
        by: &Granter,
        name: &str,
        granted: PermissionSet,
    ) -> Result<RoleId, RoleCreateError> {
        let name = name.trim();
        if !name_ok(name) {
            return Err(RoleCreateError::InvalidName);
        }
        by.grant_bound(Granted::Permissions, granted)?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let id = match db::role::insert(&mut *tx, name, now).await {
            Ok(id) => id,
            Err(e) if db::account::is_unique_violation(&e) => {
                return Err(RoleCreateError::NameTaken {
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if !granted.is_empty() {
            db::role::update(&mut tx, id, name, granted).await?;
        }
        audit(&mut tx, now, by.id, Action::RoleCreated, RoleId(id), name).await?;
        tx.commit().await?;
        Ok(RoleId(id))
    }

    /// Renames role `id` and replaces its permissions with those named by `permissions` (the
    /// form's checkboxes). Only what `by` holds may be granted, or taken from a role:
    /// otherwise `manage_roles` would reach every other permission through `by`'s own role.
    ///
    /// # Errors
    /// No such role, the built-in role, a bad or taken name, an unknown permission, a grant
    /// beyond `by`, or storage errors.
    pub async fn update(
        &self,
        by: &Granter,
        id: RoleId,
        name: &str,
        permissions: &[&str],
    ) -> Result<(), RoleEditError> {
        let role = self.find(id).await?.ok_or(RoleEditError::NotFound)?;
        if role.built_in {
            return Err(RoleEditError::BuiltIn { name: role.name });
        }
        let name = name.trim();
        if !name_ok(name) {
            return Err(RoleEditError::InvalidName);
        }
        let granted = PermissionSet::from_names(permissions.iter().copied())
            .map_err(RoleEditError::UnknownPermission)?;
        let before = self.permissions(id).await?;
        by.grant_bound(Granted::Permissions, granted)?;
        by.grant_bound(Granted::Permissions, before)?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        match db::role::update(&mut tx, id.get(), name, granted).await {
            Ok(()) => {}
            Err(e) if db::account::is_unique_violation(&e) => {
                return Err(RoleEditError::NameTaken {
                    name: name.to_owned(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let detail = format!(
            "{name}: {}",
            granted
                .iter()
                .map(Permission::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
        audit(&mut tx, now, by.id, Action::RoleUpdated, id, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes role `id`, which must be neither built in nor held by any admin.
    ///
    /// # Errors
    /// No such role, the built-in role, a role still held, or storage errors.
    pub async fn delete(&self, by: AdminId, id: RoleId) -> Result<(), RoleDeleteError> {
        let role = self.find(id).await?.ok_or(RoleDeleteError::NotFound)?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        // The delete itself checks both conditions, so an admin given the role meanwhile keeps it.
        if !db::role::delete(&mut *tx, id.get()).await? {
            return Err(if role.built_in {
                RoleDeleteError::BuiltIn { name: role.name }
            } else {
                RoleDeleteError::Held {
                    name: role.name,
                    admins: role.admins,
                }
            });
        }
        audit(&mut tx, now, by, Action::RoleDeleted, id, &role.name).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Writes an audit entry about role `role` by admin `by`; the request's address and user agent
/// come from `request_origin::with_origin`.
async fn audit(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    now: i64,
    by: AdminId,
    action: Action,
    role: RoleId,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let subject = Actor::Named(format!("role:{role}"));
    crate::audit::record(&mut **tx, now, &Actor::Admin(by), action, &subject, detail).await
}
