//! API credentials (issue 21): what other systems of a portal use to call `/api/v1/`. An admin
//! holding `api_access` makes them for themself: a public identifier and a secret shown once
//! (stored as its SHA-256: it is 256 random bits, so checking a call costs a hash, never
//! Argon2). Each credential has API roles, each needing an admin permission, and a call may use
//! a role only while its admin still holds that permission and `api_access`: disabling or
//! deleting the admin, or taking the permission from their role, stops the calls at once; a
//! password change does not touch them. The pages, the CLI and the API all come here.

use crate::app::AppState;
use crate::auth::permission::Permission;
use crate::db;
use crate::domain::{Action, Actor, AdminId};
use crate::net::range::Net;
use std::net::IpAddr;

/// What a credential may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRole {
    /// Find users by id or email address.
    UsersRead,
    /// Create users (and the client accounts they own).
    UsersWrite,
    /// List the bans in force.
    BansRead,
    /// Ban an address and lift bans.
    BansWrite,
    /// List a person's live sessions.
    SessionsRead,
    /// End a person's sessions.
    SessionsWrite,
    /// Queue a message with the generic template.
    MailSend,
    /// Make single sign-on links that sign a user in.
    SsoCreate,
}

impl ApiRole {
    pub const ALL: [Self; 8] = [
        Self::UsersRead,
        Self::UsersWrite,
        Self::BansRead,
        Self::BansWrite,
        Self::SessionsRead,
        Self::SessionsWrite,
        Self::MailSend,
        Self::SsoCreate,
    ];

    /// The stored and documented name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersRead => "users.read",
            Self::UsersWrite => "users.write",
            Self::BansRead => "bans.read",
            Self::BansWrite => "bans.write",
            Self::SessionsRead => "sessions.read",
            Self::SessionsWrite => "sessions.write",
            Self::MailSend => "mail.send",
            Self::SsoCreate => "sso.create",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The admin permission a credential needs for the role, at creation and at every call.
    pub fn needs(self) -> Permission {
        match self {
            Self::UsersRead | Self::SessionsRead => Permission::ViewClientProfile,
            Self::UsersWrite | Self::SessionsWrite | Self::MailSend => {
                Permission::ManageClientAccounts
            }
            Self::BansRead => Permission::ViewBannedIps,
            Self::BansWrite => Permission::ManageBannedIps,
            // A link that signs a client in is the power "login as client" gives.
            Self::SsoCreate => Permission::LoginAsClient,
        }
    }
}

/// The longest label.
pub const LABEL_MAX: usize = 80;
/// The most addresses or ranges one credential may be limited to.
pub const ALLOWED_MAX: usize = 32;
/// How often a call records itself as the credential's last use (per credential and address):
/// a busy integration must not write on every call.
const USE_RECORDED_EVERY: i64 = 60;

/// A new credential: the secret is shown once and never again.
#[derive(Debug)]
pub struct Created {
    pub id: i64,
    pub identifier: String,
    pub secret: String,
}

/// What a credential to create may be.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub label: String,
    pub roles: Vec<String>,
    pub allowed: Vec<String>,
    /// Days until it stops working; `None`: until revoked.
    pub expires_in_days: Option<i64>,
}

/// Why a credential was not created, naming the field.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the admin does not hold api_access")]
    NoApiAccess,
    #[error("no admin has that id")]
    NoAdmin,
    #[error("label: give 1 to {LABEL_MAX} characters")]
    Label,
    #[error("roles: name at least one of {}", role_names())]
    NoRoles,
    #[error("roles: {name:?} is not an API role; the roles are {}", role_names())]
    UnknownRole { name: String },
    #[error("roles: {role} needs the {permission} permission, which the admin does not hold")]
    Beyond {
        role: &'static str,
        permission: &'static str,
    },
    #[error(
        "allowed: {0:?} is not an address or a range such as 192.0.2.0/24 (at most {ALLOWED_MAX})"
    )]
    Allowed(String),
    #[error("expires_in_days: give a whole number of days from 1 to 3650")]
    Expiry,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error("could not make a secret: {0}")]
    Random(#[from] getrandom::Error),
}

fn role_names() -> String {
    ApiRole::ALL.map(ApiRole::as_str).join(", ")
}

/// A call's credential, once its secret matched and everything about it holds.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential_id: i64,
    pub identifier: String,
    pub admin: AdminId,
    /// The roles it may use now (its own, less those its admin no longer backs).
    pub roles: Vec<ApiRole>,
}

impl Caller {
    /// Whether the call may use `role`.
    pub fn may(&self, role: ApiRole) -> bool {
        self.roles.contains(&role)
    }
}

/// Why a call was refused. Only [`AuthError::Unknown`] is answered before the secret matched,
/// so a caller without the secret learns nothing about a credential.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown credential or wrong secret")]
    Unknown,
    #[error("this credential was revoked")]
    Revoked,
    #[error("this credential expired")]
    Expired,
    #[error("the admin this credential belongs to is disabled")]
    AdminDisabled,
    #[error("the admin this credential belongs to no longer holds api_access")]
    NoApiAccess,
    #[error("calls with this credential are not allowed from {0}")]
    Address(IpAddr),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// The API credentials service.
#[derive(Clone)]
pub struct ApiCredentials {
    db: db::Pool,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
}

impl From<&AppState> for ApiCredentials {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
        }
    }
}

impl ApiCredentials {
    /// The admin with this username, for the CLI.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn admin_named(&self, username: &str) -> Result<Option<AdminId>, sqlx::Error> {
        Ok(db::account::find_admin_by_username(&self.db, username)
            .await?
            .map(|a| AdminId(a.id)))
    }

    /// Makes a credential for `admin`, recorded as done by `actor`.
    ///
    /// # Errors
    /// A [`CreateError`] naming the field at fault, or storage errors.
    pub async fn create(
        &self,
        admin: AdminId,
        draft: &Draft,
        actor: &Actor,
    ) -> Result<Created, CreateError> {
        let label = draft.label.trim();
        if label.is_empty() || label.chars().count() > LABEL_MAX {
            return Err(CreateError::Label);
        }
        let row = db::account::find_admin_by_id(&self.db, admin.0)
            .await?
            .ok_or(CreateError::NoAdmin)?;
        let held = db::role::permissions(&self.db, row.role_id).await?;
        if row.disabled || !held.contains(Permission::ApiAccess) {
            return Err(CreateError::NoApiAccess);
        }
        let mut roles: Vec<ApiRole> = Vec::new();
        for name in draft.roles.iter().flat_map(|r| r.split_whitespace()) {
            let role = ApiRole::parse(name)
                .ok_or_else(|| CreateError::UnknownRole { name: name.into() })?;
            if !held.contains(role.needs()) {
                return Err(CreateError::Beyond {
                    role: role.as_str(),
                    permission: role.needs().as_str(),
                });
            }
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        if roles.is_empty() {
            return Err(CreateError::NoRoles);
        }
        let allowed: Vec<String> = draft
            .allowed
            .iter()
            .flat_map(|a| a.split_whitespace())
            .map(|a| {
                Net::parse(a)
                    .map(|n| n.to_string())
                    .ok_or_else(|| CreateError::Allowed(a.into()))
            })
            .collect::<Result<_, _>>()?;
        if allowed.len() > ALLOWED_MAX {
            return Err(CreateError::Allowed(format!("{} entries", allowed.len())));
        }
        let now = self.clock.unix();
        let expires_at = match draft.expires_in_days {
            None => None,
            Some(days @ 1..=3650) => Some(now + days * 86_400),
            Some(_) => return Err(CreateError::Expiry),
        };
        let identifier = format!("pc_{}", url_safe(&crate::token::random_bytes::<12>()?));
        let secret = crate::token::generate()?;
        let roles_text = roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut tx = self.db.begin().await?;
        let id = db::api_credential::insert(
            &mut *tx,
            &db::api_credential::NewCredential {
                identifier: &identifier,
                secret_hash: &secret.hash,
                admin_id: admin.0,
                label,
                roles: &roles_text,
                allowed: &allowed.join(" "),
                expires_at,
                created_at: now,
            },
        )
        .await?;
        crate::audit::record(
            &mut *tx,
            now,
            actor,
            Action::ApiCredentialCreated,
            format!("api_credential:{id}"),
            &format!(
                "{identifier} \"{label}\" for admin:{} roles {roles_text}",
                admin.0
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(Created {
            id,
            identifier,
            secret: secret.plain,
        })
    }

    /// Every credential (`admin: None`) or one admin's, newest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(
        &self,
        admin: Option<AdminId>,
    ) -> Result<Vec<db::api_credential::Listed>, sqlx::Error> {
        db::api_credential::list(&self.db, admin.map(|a| a.0)).await
    }

    /// Revokes the credential `identifier` at once, recorded as done by `actor`; whether a live
    /// one had that identifier.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn revoke(&self, identifier: &str, actor: &Actor) -> Result<bool, sqlx::Error> {
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let Some(id) = db::api_credential::revoke(&mut *tx, identifier, now).await? else {
            return Ok(false);
        };
        crate::audit::record(
            &mut *tx,
            now,
            actor,
            Action::ApiCredentialRevoked,
            format!("api_credential:{id}"),
            identifier,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The caller behind `identifier` and `secret`, calling from `ip`.
    ///
    /// # Errors
    /// An [`AuthError`], or storage errors.
    pub async fn authenticate(
        &self,
        identifier: &str,
        secret: &str,
        ip: IpAddr,
    ) -> Result<Caller, AuthError> {
        let presented = crate::token::hash(secret);
        let Some(row) = db::api_credential::find_by_identifier(&self.db, identifier).await? else {
            return Err(AuthError::Unknown);
        };
        if !crate::token::equal(presented.as_bytes(), row.secret_hash.as_bytes()) {
            return Err(AuthError::Unknown);
        }
        let now = self.clock.unix();
        if row.revoked_at.is_some() {
            return Err(AuthError::Revoked);
        }
        if row.expires_at.is_some_and(|at| now >= at) {
            return Err(AuthError::Expired);
        }
        if row.admin_disabled {
            return Err(AuthError::AdminDisabled);
        }
        let held = db::role::permissions(&self.db, row.admin_role_id).await?;
        if !held.contains(Permission::ApiAccess) {
            return Err(AuthError::NoApiAccess);
        }
        let ip = crate::net::range::canonical(ip);
        if !row.allowed.is_empty()
            && !row
                .allowed
                .split_whitespace()
                .filter_map(Net::parse)
                .any(|n| n.contains(ip))
        {
            return Err(AuthError::Address(ip));
        }
        let address = ip.to_string();
        if row
            .last_used_at
            .is_none_or(|at| now - at >= USE_RECORDED_EVERY)
            || row.last_used_ip.as_deref() != Some(address.as_str())
        {
            db::api_credential::used(&self.db, row.id, now, &address).await?;
        }
        let roles = row
            .roles
            .split_whitespace()
            .filter_map(ApiRole::parse)
            .filter(|r| held.contains(r.needs()))
            .collect();
        Ok(Caller {
            credential_id: row.id,
            identifier: row.identifier,
            admin: AdminId(row.admin_id),
            roles,
        })
    }
}

/// URL-safe base64 without padding (the identifier's alphabet, as the secret's).
fn url_safe(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
