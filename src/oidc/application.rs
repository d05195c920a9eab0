//! The registry of OpenID Connect applications (relying parties): create, edit, reset the
//! secret, delete, find; authenticate an application at the token endpoint (F15's causes); the
//! exact redirect-URI match and the closest registered URI (F14); and the record of refused
//! requests that the admin page and the doctor read.
//!
//! A client secret is 256 random bits shown once; only its SHA-256 is stored, and a presented
//! secret is compared by hash in constant time. Every change is audited in its transaction.

use super::draft::{ApplicationDraft, AuthMethod, Kind, Settings, SigningAlg, UriKind};
use super::redirect::{self, Closest};
use crate::account::FieldError;
use crate::app::AppState;
use crate::clock::Clock;
use crate::db;
use crate::db::oidc_application::{ApplicationRow, Fields, RefusalRow};
use crate::domain::{Action, Actor, AdminId, Realm};
use base64::Engine as _;
use std::sync::Arc;

/// Longest client id kept in a refusal (what was sent may be anything).
const SENT_MAX: usize = 100;
/// Longest detail kept in a refusal.
const DETAIL_MAX: usize = 2000;

/// Stable reason of a redirect-URI refusal; its detail is the URI sent.
pub const REDIRECT_URI_MISMATCH: &str = "redirect_uri_mismatch";
/// Stable reason of a post-logout redirect-URI refusal; its detail is the URI sent.
pub const POST_LOGOUT_URI_MISMATCH: &str = "post_logout_redirect_uri_mismatch";

/// The applications service.
#[derive(Clone)]
pub struct Applications {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    config: Arc<crate::config::Config>,
    settings: Arc<crate::settings::Store>,
}

impl From<&AppState> for Applications {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            config: state.config.clone(),
            settings: state.settings.clone(),
        }
    }
}

/// A registered application. Its secret hash stays in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: i64,
    /// What the application sends as `client_id`.
    pub client_id: String,
    pub name: String,
    pub realm: Realm,
    pub kind: Kind,
    pub auth_method: AuthMethod,
    pub signing_alg: SigningAlg,
    /// Allowed scopes, in display order.
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub id_token_seconds: i64,
    pub access_token_seconds: i64,
    pub refresh_token_seconds: i64,
    /// No consent screen.
    pub first_party: bool,
    pub backchannel_logout_uri: Option<String>,
    /// When the current secret was made (`None`: a public application).
    pub secret_set_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: AdminId,
}

impl Application {
    /// The registered URIs of `kind`.
    pub fn uris(&self, kind: UriKind) -> &[String] {
        match kind {
            UriKind::Login => &self.redirect_uris,
            UriKind::PostLogout => &self.post_logout_redirect_uris,
        }
    }
}

/// A new application and, for a confidential one, its secret in clear: shown once, never
/// stored.
#[derive(Debug)]
pub struct Created {
    pub application: Application,
    pub secret: Option<String>,
}

/// Why a change to an application was not made.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    /// Fields that cannot be used, each named.
    #[error("{}", FieldError::list(.0))]
    Invalid(Vec<FieldError>),
    #[error("no such application")]
    NotFound,
    /// A public application has no secret to reset.
    #[error("{0} is a public application: it has no secret. Make it confidential first.")]
    Public(String),
    #[error("the system's random source is unavailable")]
    Random,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// How an application authenticated at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// `Authorization: Basic` with this secret.
    Basic(&'a str),
    /// `client_secret` in the form body.
    Post(&'a str),
    /// No secret (a public application).
    None,
}

impl Presented<'_> {
    fn method(self) -> AuthMethod {
        match self {
            Self::Basic(_) => AuthMethod::ClientSecretBasic,
            Self::Post(_) => AuthMethod::ClientSecretPost,
            Self::None => AuthMethod::None,
        }
    }
}

/// Why an application was not authenticated (F15). The protocol answers each one with a terse
/// `invalid_client` and records the cause with [`Applications::record_refusal`].
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error("no application has this client id")]
    UnknownClient,
    #[error("the client secret is wrong (reset it on the application's page if it was lost)")]
    WrongSecret,
    #[error("the application authenticated with {used} but is registered for {registered}")]
    MethodMismatch {
        registered: AuthMethod,
        used: AuthMethod,
    },
    #[error("a public application sent a client secret; it must send none")]
    PublicClientSentSecret,
    #[error("a confidential application sent no client secret")]
    ConfidentialClientSentNone,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl ClientAuthError {
    /// The stable reason code a refusal is recorded under.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownClient => "unknown_client",
            Self::WrongSecret => "wrong_secret",
            Self::MethodMismatch { .. } => "auth_method_mismatch",
            Self::PublicClientSentSecret => "public_client_sent_secret",
            Self::ConfidentialClientSentNone => "confidential_client_sent_none",
            Self::Storage(_) => "storage",
        }
    }
}

/// A recorded refusal, with, for a redirect URI, the closest registered one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: i64,
    pub client_id: String,
    pub endpoint: String,
    pub reason: String,
    pub detail: String,
    /// For a redirect-URI refusal: the URI sent (the detail) and the closest registered one.
    pub redirect: Option<(String, Option<Closest>)>,
}

/// Refusals of one application (or of unknown client ids) for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    /// `None`: client ids no application has.
    pub application: Option<(i64, String)>,
    pub reason: String,
    pub count: i64,
}

fn fields(s: &Settings) -> (Fields<'_>, String) {
    let scopes = s.scopes.join(" ");
    (
        Fields {
            name: &s.name,
            realm: s.realm.as_str(),
            kind: s.kind.as_str(),
            auth_method: s.auth_method.as_str(),
            signing_alg: s.signing_alg.as_str(),
            allowed_scopes: "",
            id_token_seconds: s.id_token_seconds,
            access_token_seconds: s.access_token_seconds,
            refresh_token_seconds: s.refresh_token_seconds,
            first_party: s.first_party,
            backchannel_logout_uri: s.backchannel_logout_uri.as_deref(),
        },
        scopes,
    )
}

fn new_secret() -> Result<crate::token::NewSecret, ApplicationError> {
    crate::token::generate().map_err(|_| ApplicationError::Random)
}

fn new_client_id() -> Result<String, ApplicationError> {
    // 18 bytes: 24 URL-safe characters, 144 bits; an identifier, not a secret.
    let bytes = crate::token::random_bytes::<18>().map_err(|_| ApplicationError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn subject(id: i64) -> String {
    format!("oidc_application:{id}")
}

impl Applications {
    /// A stored instant as people read it, in the configured timezone.
    pub fn show_time(&self, unix: i64) -> String {
        crate::clock::display(unix, &self.settings.snapshot().values.timezone)
    }

    /// Where applications discover the provider: `<System URL>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        self.config
            .system_url
            .join("/.well-known/openid-configuration")
    }

    async fn assemble<'e>(
        &self,
        ex: impl sqlx::Executor<'e, Database = db::Db>,
        row: ApplicationRow,
    ) -> Result<Application, sqlx::Error> {
        let uris = db::oidc_application::redirect_uris(ex, row.id).await?;
        let of = |kind: UriKind| {
            uris.iter()
                .filter(|(_, k)| k == kind.as_str())
                .map(|(u, _)| u.clone())
                .collect()
        };
        let id = row.id;
        let bad =
            |what: &str| sqlx::Error::Decode(format!("oidc_applications.{what} of {id}").into());
        Ok(Application {
            id: row.id,
            redirect_uris: of(UriKind::Login),
            post_logout_redirect_uris: of(UriKind::PostLogout),
            realm: Realm::parse(&row.realm).ok_or_else(|| bad("realm"))?,
            kind: Kind::parse(&row.kind).ok_or_else(|| bad("kind"))?,
            auth_method: AuthMethod::parse(&row.auth_method).ok_or_else(|| bad("auth_method"))?,
            signing_alg: SigningAlg::parse(&row.signing_alg).ok_or_else(|| bad("signing_alg"))?,
            scopes: row
                .allowed_scopes
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            client_id: row.client_id,
            name: row.name,
            id_token_seconds: row.id_token_seconds,
            access_token_seconds: row.access_token_seconds,
            refresh_token_seconds: row.refresh_token_seconds,
            first_party: row.first_party,
            backchannel_logout_uri: row.backchannel_logout_uri,
            secret_set_at: row.secret_set_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            created_by: AdminId(row.created_by),
        })
    }

    async fn store_uris(
        tx: &mut sqlx::Transaction<'_, db::Db>,
        id: i64,
        s: &Settings,
    ) -> Result<(), sqlx::Error> {
        db::oidc_application::delete_redirect_uris(&mut **tx, id).await?;
        for (kind, list) in [
            (UriKind::Login, &s.redirect_uris),
            (UriKind::PostLogout, &s.post_logout_redirect_uris),
        ] {
            for uri in list {
                db::oidc_application::insert_redirect_uri(&mut **tx, id, uri, kind.as_str())
                    .await?;
            }
        }
        Ok(())
    }

    /// Registers an application: a fresh client id and, for a confidential application, a
    /// fresh secret returned in clear once.
    ///
    /// # Errors
    /// `Invalid` with each field's problem; `Random`; storage errors.
    pub async fn create(
        &self,
        admin: AdminId,
        draft: &ApplicationDraft,
    ) -> Result<Created, ApplicationError> {
        let settings = draft.check().map_err(ApplicationError::Invalid)?;
        let secret = match settings.kind {
            Kind::Confidential => Some(new_secret()?),
            Kind::Public => None,
        };
        let client_id = new_client_id()?;
        let (mut f, scopes) = fields(&settings);
        f.allowed_scopes = &scopes;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let id = db::oidc_application::insert(
            &mut *tx,
            &client_id,
            &f,
            secret.as_ref().map(|s| s.hash.as_str()),
            now,
            admin.0,
        )
        .await?;
        Self::store_uris(&mut tx, id, &settings).await?;
        crate::audit::record(
            &mut *tx,
            now,
            &Actor::Admin(admin),
            Action::OidcApplicationCreated,
            subject(id),
            &format!(
                "{} (client id {client_id}, {}, {} realm)",
                settings.name, settings.kind, settings.realm
            ),
        )
        .await?;
        let row = db::oidc_application::find(&mut *tx, id)
            .await?
            .ok_or(ApplicationError::NotFound)?;
        let application = self.assemble(&mut *tx, row).await?;
        tx.commit().await?;
        Ok(Created {
            application,
            secret: secret.map(|s| s.plain),
        })
    }

    /// Saves an application's settings. Turning a public application confidential makes its
    /// first secret, returned in clear once; turning a confidential one public drops its secret.
    ///
    /// # Errors
    /// `NotFound`, `Invalid` with each field's problem, `Random`, storage errors.
    pub async fn update(
        &self,
        admin: AdminId,
        id: i64,
        draft: &ApplicationDraft,
    ) -> Result<Option<String>, ApplicationError> {
        let settings = draft.check().map_err(ApplicationError::Invalid)?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let before = db::oidc_application::find(&mut *tx, id)
            .await?
            .ok_or(ApplicationError::NotFound)?;
        let fresh = match (before.kind.as_str(), settings.kind) {
            ("public", Kind::Confidential) => Some(new_secret()?),
            _ => None,
        };
        let secret = match settings.kind {
            Kind::Public => (None, None),
            Kind::Confidential => match &fresh {
                Some(s) => (Some(s.hash.as_str()), Some(now)),
                None => (before.secret_hash.as_deref(), before.secret_set_at),
            },
        };
        let (mut f, scopes) = fields(&settings);
        f.allowed_scopes = &scopes;
        if !db::oidc_application::update(&mut *tx, id, &f, secret, now).await? {
            return Err(ApplicationError::NotFound);
        }
        Self::store_uris(&mut tx, id, &settings).await?;
        let turned = if before.kind == settings.kind.as_str() {
            String::new()
        } else {
            format!(", now {}", settings.kind)
        };
        let detail = format!("{} (client id {}){turned}", settings.name, before.client_id);
        crate::audit::record(
            &mut *tx,
            now,
            &Actor::Admin(admin),
            Action::OidcApplicationUpdated,
            subject(id),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(fresh.map(|s| s.plain))
    }

    /// Replaces a confidential application's secret: the old one stops working at once.
    /// Returns the new one in clear, to be shown once.
    ///
    /// # Errors
    /// `NotFound`, `Public`, `Random`, storage errors.
    pub async fn reset_secret(&self, admin: AdminId, id: i64) -> Result<String, ApplicationError> {
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let row = db::oidc_application::find(&mut *tx, id)
            .await?
            .ok_or(ApplicationError::NotFound)?;
        if row.kind != Kind::Confidential.as_str() {
            return Err(ApplicationError::Public(row.name));
        }
        let secret = new_secret()?;
        db::oidc_application::set_secret(&mut *tx, id, &secret.hash, now).await?;
        crate::audit::record(
            &mut *tx,
            now,
            &Actor::Admin(admin),
            Action::OidcApplicationSecretReset,
            subject(id),
            &format!("{} (client id {})", row.name, row.client_id),
        )
        .await?;
        tx.commit().await?;
        Ok(secret.plain)
    }

    /// Deletes an application with its redirect URIs and its refusals.
    ///
    /// # Errors
    /// `NotFound`, storage errors.
    pub async fn delete(&self, admin: AdminId, id: i64) -> Result<(), ApplicationError> {
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let row = db::oidc_application::find(&mut *tx, id)
            .await?
            .ok_or(ApplicationError::NotFound)?;
        db::oidc_application::delete_redirect_uris(&mut *tx, id).await?;
        db::oidc_application::delete_refusals(&mut *tx, id).await?;
        db::oidc_application::delete(&mut *tx, id).await?;
        crate::audit::record(
            &mut *tx,
            now,
            &Actor::Admin(admin),
            Action::OidcApplicationDeleted,
            subject(id),
            &format!("{} (client id {})", row.name, row.client_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every application, by name.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self) -> Result<Vec<Application>, sqlx::Error> {
        let mut out = Vec::new();
        for row in db::oidc_application::list(&self.db).await? {
            out.push(self.assemble(&self.db, row).await?);
        }
        Ok(out)
    }

    /// One application.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn find(&self, id: i64) -> Result<Option<Application>, sqlx::Error> {
        match db::oidc_application::find(&self.db, id).await? {
            Some(row) => Ok(Some(self.assemble(&self.db, row).await?)),
            None => Ok(None),
        }
    }

    /// The application with this client id.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn find_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<Application>, sqlx::Error> {
        if client_id.is_empty() || client_id.len() > SENT_MAX {
            return Ok(None);
        }
        match db::oidc_application::find_by_client_id(&self.db, client_id).await? {
            Some(row) => Ok(Some(self.assemble(&self.db, row).await?)),
            None => Ok(None),
        }
    }

    /// Authenticates an application at the token endpoint: the method it used must be the one
    /// registered, and a secret must match the stored hash (compared in constant time).
    ///
    /// # Errors
    /// The cause, one of F15's; storage errors.
    pub async fn authenticate(
        &self,
        client_id: &str,
        presented: Presented<'_>,
    ) -> Result<Application, ClientAuthError> {
        if client_id.is_empty() || client_id.len() > SENT_MAX {
            return Err(ClientAuthError::UnknownClient);
        }
        let row = db::oidc_application::find_by_client_id(&self.db, client_id)
            .await?
            .ok_or(ClientAuthError::UnknownClient)?;
        let stored = row.secret_hash.clone();
        let application = self.assemble(&self.db, row).await?;
        let secret = match (application.kind, presented) {
            (Kind::Public, Presented::None) => return Ok(application),
            (Kind::Public, _) => return Err(ClientAuthError::PublicClientSentSecret),
            (Kind::Confidential, Presented::None) => {
                return Err(ClientAuthError::ConfidentialClientSentNone);
            }
            (Kind::Confidential, Presented::Basic(s) | Presented::Post(s)) => s,
        };
        if presented.method() != application.auth_method {
            return Err(ClientAuthError::MethodMismatch {
                registered: application.auth_method,
                used: presented.method(),
            });
        }
        let presented_hash = crate::token::hash(secret);
        match stored {
            Some(hash) if crate::token::equal(hash.as_bytes(), presented_hash.as_bytes()) => {
                Ok(application)
            }
            _ => Err(ClientAuthError::WrongSecret),
        }
    }

    /// Whether `uri` is registered for `application` as `kind`: exact string match only.
    pub fn redirect_uri_allowed(application: &Application, uri: &str, kind: UriKind) -> bool {
        application.uris(kind).iter().any(|u| u == uri)
    }

    /// The registered URI of `kind` closest to `sent`, with the difference in words.
    pub fn closest_redirect_uri(
        application: &Application,
        sent: &str,
        kind: UriKind,
    ) -> Option<Closest> {
        redirect::closest(application.uris(kind).iter().map(String::as_str), sent)
    }

    /// Records a refused request: `application` when the client id matched one, the client id
    /// as sent, the endpoint, a stable reason code and a detail (never a secret). For a
    /// redirect-URI refusal use [`REDIRECT_URI_MISMATCH`] or [`POST_LOGOUT_URI_MISMATCH`] with
    /// the URI sent as the detail, so the page can show the closest registered one.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn record_refusal(
        &self,
        application: Option<i64>,
        client_id_sent: &str,
        endpoint: &str,
        reason: &str,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        db::oidc_application::insert_refusal(
            &self.db,
            &RefusalRow {
                id: 0,
                application_id: application,
                client_id: bounded(client_id_sent, SENT_MAX),
                at: self.clock.unix(),
                endpoint: bounded(endpoint, 40),
                reason: bounded(reason, 60),
                detail: bounded(detail, DETAIL_MAX),
            },
        )
        .await
    }

    /// The newest `limit` refusals of an application, newest first, each redirect-URI refusal
    /// with the registered URI closest to the one sent.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn recent_refusals(
        &self,
        application: &Application,
        limit: i64,
    ) -> Result<Vec<Refusal>, sqlx::Error> {
        let rows = db::oidc_application::recent_refusals(&self.db, application.id, limit).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let kind = match r.reason.as_str() {
                    REDIRECT_URI_MISMATCH => Some(UriKind::Login),
                    POST_LOGOUT_URI_MISMATCH => Some(UriKind::PostLogout),
                    _ => None,
                };
                let redirect = kind.map(|k| {
                    (
                        r.detail.clone(),
                        Self::closest_redirect_uri(application, &r.detail, k),
                    )
                });
                Refusal {
                    at: r.at,
                    client_id: r.client_id,
                    endpoint: r.endpoint,
                    reason: r.reason,
                    detail: r.detail,
                    redirect,
                }
            })
            .collect())
    }

    /// Refusals since `since` (unix seconds), per application and reason, with each
    /// application's name.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn refusal_counts_since(&self, since: i64) -> Result<Vec<RefusalCount>, sqlx::Error> {
        let counts = db::oidc_application::refusal_counts_since(&self.db, since).await?;
        let apps = db::oidc_application::list(&self.db).await?;
        Ok(counts
            .into_iter()
            .map(|(id, reason, count)| RefusalCount {
                application: id.map(|id| {
                    let name = apps
                        .iter()
                        .find(|a| a.id == id)
                        .map_or_else(|| format!("application {id}"), |a| a.name.clone());
                    (id, name)
                }),
                reason,
                count,
            })
            .collect())
    }
}
