//! Extractors: where security decisions are made, by appearing in a handler's signature.
//!
//! - [`CurrentClient`] / [`CurrentAdmin`]: a live session of that realm and its account, or a
//!   redirect to that realm's sign-in page (the cookie is kept so the page can say why the last
//!   session ended).
//! - [`RequirePermission`]: an admin whose role grants a permission, or Access Denied.
//! - [`CsrfToken`]: the token to put in the page's forms.
//! - [`Form`]: axum's form extractor with our error page instead of a bare rejection.

use crate::access::{Access, AdminAccess, AdminRow, ClientAccess, Membership, UserRow};
use crate::app::AppState;
use crate::auth::permission::Permission;
use crate::domain::{Actor, ClientId, UserId};
use crate::membership::Manager;
use crate::session::Session;
use crate::web::error::AppError;
use crate::web::middleware::client_addr::ClientAddr;
use crate::web::middleware::session::LoadedSession;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

/// A form body; malformed input becomes a 400 page that says so.
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(AppError::BadRequest(format!(
                "The form could not be read ({}). Reload the page and try again.",
                rejection.body_text()
            ))),
        }
    }
}

fn loaded(parts: &Parts) -> Option<&LoadedSession> {
    parts.extensions.get::<LoadedSession>()
}

/// The client address resolved by the pipeline.
pub fn client_addr(parts: &Parts) -> ClientAddr {
    parts
        .extensions
        .get::<ClientAddr>()
        .copied()
        .unwrap_or(ClientAddr::UNKNOWN)
}

/// The live session of the request's realm, if any.
fn live_session(parts: &Parts) -> Option<Session> {
    loaded(parts).and_then(LoadedSession::live).cloned()
}

/// A storage error as the error page.
fn failed(e: sqlx::Error) -> Response {
    AppError::from(e).into_response()
}

/// The client account a signed-in user is working in, and what they may do there.
#[derive(Debug, Clone)]
pub struct ActiveAccount {
    pub client_id: i64,
    pub label: String,
    pub is_owner: bool,
    pub permissions: crate::auth::client_permission::ClientPermissions,
}

impl From<Membership> for ActiveAccount {
    fn from(m: Membership) -> Self {
        Self {
            client_id: m.client_id,
            label: m.label,
            is_owner: m.is_owner,
            permissions: crate::auth::client_permission::ClientPermissions::held(
                m.is_owner,
                &m.permissions,
            ),
        }
    }
}

/// A signed-in client-area user, their active account (if they still belong to it) and, for
/// "login as client", the admin behind the session.
pub struct CurrentClient {
    pub session: Session,
    pub user: UserRow,
    pub account: Option<ActiveAccount>,
    /// The impersonating admin's username.
    pub impersonator: Option<String>,
}

impl CurrentClient {
    /// The navigation bar, with the impersonation banner when there is one.
    pub fn nav(&self, csrf: String) -> crate::web::page::Nav {
        crate::web::page::Nav::client(
            &self.user,
            csrf,
            self.account.as_ref(),
            self.impersonator.as_deref(),
        )
    }

    /// The signed-in user's id.
    pub fn id(&self) -> UserId {
        UserId(self.user.id)
    }

    /// The active account, or a 403 explaining there is none.
    ///
    /// # Errors
    /// `Forbidden` when the user belongs to no account (any more).
    pub fn account(&self) -> Result<&ActiveAccount, AppError> {
        self.account.as_ref().ok_or_else(|| {
            AppError::Forbidden(
                "You do not belong to a client account (any more). If you were removed from one, ask its owner to invite you again.".into(),
            )
        })
    }

    /// The active account if the user may use `permission` in it.
    ///
    /// # Errors
    /// `Forbidden` naming the permission and who can grant it (the account's owner).
    pub fn require(
        &self,
        permission: crate::auth::client_permission::ClientPermission,
    ) -> Result<&ActiveAccount, AppError> {
        let account = self.account()?;
        if account.is_owner || account.permissions.contains(permission) {
            Ok(account)
        } else {
            Err(AppError::Forbidden(format!(
                "You may not do this in {}: it needs the permission \"{}\" ({}). The account's owner can give it to you on their Users page.",
                account.label,
                permission.label(),
                permission.as_str()
            )))
        }
    }

    /// The person acting in the active account, as the services record them
    /// ([`Manager::actor`]: the admin behind the session during "login as client").
    ///
    /// # Errors
    /// `Forbidden` when the user belongs to no account (any more).
    pub fn manager(&self) -> Result<Manager, AppError> {
        let account = self.account()?;
        Ok(Manager {
            user: self.id(),
            email: self.user.email.clone(),
            name: format!("{} {}", self.user.first_name, self.user.last_name),
            impersonator: self.session.impersonator(),
            client: ClientId(account.client_id),
            label: account.label.clone(),
            is_owner: account.is_owner,
        })
    }

    /// Refuses pages that change the client's credentials, second factors or sessions while an
    /// admin is signed in as the client.
    ///
    /// # Errors
    /// `Forbidden` during an impersonation.
    pub fn not_impersonated(&self) -> Result<(), AppError> {
        match &self.impersonator {
            Some(admin) => Err(AppError::Forbidden(format!(
                "You ({admin}) are signed in as this client. Their password, email address, two-step verification and sessions can only be changed by the client."
            ))),
            None => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for CurrentClient {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = live_session(parts).ok_or_else(|| Redirect::to("/login").into_response())?;
        match Access::from(state).client(&session).await.map_err(failed)? {
            ClientAccess::Allowed(found) => Ok(Self {
                session,
                user: found.user,
                account: found.membership.map(ActiveAccount::from),
                impersonator: found.impersonator,
            }),
            ClientAccess::Ended => Err(Redirect::to("/login").into_response()),
            // The admin's own area explains what they may still do.
            ClientAccess::ImpersonatorGone => Err(Redirect::to("/admin").into_response()),
        }
    }
}

/// A signed-in admin and what their role allows.
pub struct CurrentAdmin {
    pub session: Session,
    pub admin: AdminRow,
    pub permissions: crate::auth::permission::PermissionSet,
}

impl CurrentAdmin {
    /// The admin as an audit actor (`admin:ID`).
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.id())
    }

    /// The admin's id.
    pub fn id(&self) -> crate::domain::AdminId {
        crate::domain::AdminId(self.admin.id)
    }
}

impl FromRequestParts<AppState> for CurrentAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session =
            live_session(parts).ok_or_else(|| Redirect::to("/admin/login").into_response())?;
        match Access::from(state).admin(&session).await.map_err(failed)? {
            AdminAccess::Allowed { admin, permissions } => Ok(Self {
                session,
                admin,
                permissions,
            }),
            AdminAccess::Ended => Err(Redirect::to("/admin/login").into_response()),
        }
    }
}

/// A permission, as a type, so `RequirePermission<ViewSystemHealth>` reads as the access rule.
pub trait PermissionMarker: Send + Sync {
    const PERMISSION: Permission;
}

/// Declares a zero-sized type per permission, so gates read `RequirePermission<ViewBannedIps>`.
macro_rules! permission_markers {
    ($($name:ident),* $(,)?) => {
        $(
            #[doc = concat!("Marker for [`Permission::", stringify!($name), "`].")]
            pub struct $name;
            impl PermissionMarker for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*
    };
}

permission_markers!(
    ListClients,
    ViewClientProfile,
    ManageClientAccounts,
    LoginAsClient,
    ManageRoles,
    ViewAuditLog,
    ManageAdmins,
    ViewMailLog,
    MainHomepage,
    ViewSystemHealth,
    ConfigureGeneralSettings,
    ConfigureTwoFactor,
    ViewBannedIps,
    ManageBannedIps,
    ManageLicenses,
    ManageOidcApplications
);

/// A signed-in admin whose role grants `P`.
pub struct RequirePermission<P: PermissionMarker> {
    pub current: CurrentAdmin,
    _permission: std::marker::PhantomData<P>,
}

impl<P: PermissionMarker> FromRequestParts<AppState> for RequirePermission<P> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let current = CurrentAdmin::from_request_parts(parts, state).await?;
        if current.permissions.contains(P::PERMISSION) {
            return Ok(Self {
                current,
                _permission: std::marker::PhantomData,
            });
        }
        Err(access_denied(state, parts, &current, P::PERMISSION).await)
    }
}

/// The Access Denied answer (F08), audit-logged by the access service.
async fn access_denied(
    state: &AppState,
    parts: &Parts,
    current: &CurrentAdmin,
    missing: Permission,
) -> Response {
    let path = crate::web::routes::loggable_path(parts.uri.path());
    let granters = Access::from(state)
        .denied(&current.admin, missing, &path)
        .await;
    AppError::AccessDenied {
        action: missing.action(),
        missing: vec![missing.as_str()],
        role: current.admin.role_name.clone(),
        granters,
    }
    .into_response()
}

/// The CSRF token for this page's forms.
pub struct CsrfToken(pub String);

impl FromRequestParts<AppState> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = match loaded(parts).and_then(LoadedSession::live) {
            Some(s) => crate::csrf::session_token(&state.csrf_key, &s.id_hash),
            None => crate::csrf::anonymous_token(&state.csrf_key, state.clock.unix()),
        };
        Ok(Self(token))
    }
}

/// The loaded session state (live or not), for sign-in pages and sign-out.
pub struct SessionInfo(pub Option<LoadedSession>);

impl<S: Send + Sync> FromRequestParts<S> for SessionInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(loaded(parts).cloned()))
    }
}

/// The request's user agent, truncated, for the session record.
pub struct UserAgent(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(user_agent_of(parts)))
    }
}

fn user_agent_of(parts: &Parts) -> String {
    parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

/// The client address, as an extractor.
pub struct Peer(pub ClientAddr);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(parts)))
    }
}
