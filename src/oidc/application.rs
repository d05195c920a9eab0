//! The registry of OpenID Connect applications (relying parties): create, edit, reset the
//! secret, delete, find; authenticate an application at the token endpoint (F15's causes); the
//! exact redirect-URI match and the closest registered URI (F14); and the record of refused
//! requests that the admin page and the doctor read. This file holds the registry itself;
//! `client_auth` the authentication and the redirect-URI match, `refusal` the record.
//!
//! A client secret is 256 random bits shown once; only its SHA-256 is stored, and a presented
//! secret is compared by hash in constant time. Every change is audited in its transaction.

use super::draft::{ApplicationDraft, AuthMethod, Kind, Settings, SigningAlg, UriKind};
use crate::account::FieldError;
use crate::app::AppState;
use crate::clock::Clock;
use crate::db;
use crate::db::oidc_application::{ApplicationRow, Fields};
use crate::domain::{Action, Actor, AdminId, Realm};
use base64::Engine as _;
use std::sync::Arc;

mod client_auth;
mod refusal;

pub use client_auth::{ClientAuthError, Presented};
pub use refusal::{POST_LOGOUT_URI_MISMATCH, REDIRECT_URI_MISMATCH, Refusal, RefusalCount};

/// Longest client id looked up or kept in a refusal (what was sent may be anything).
const SENT_MAX: usize = 100;
/// Longest detail kept in a refusal.
const DETAIL_MAX: usize = 2000;

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
    /// The form that creates this application was sent before (a reload, a double click): it
    /// exists, and its secret was shown then.
    #[error("this application was created already")]
    AlreadyCreated(i64),
    #[error("the system's random source is unavailable")]
    Random,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
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

fn subject(id: i64) -> String {
    format!("oidc_application:{id}")
}

/// An application from its stored row and its redirect URIs as (uri, kind).
fn assembled(row: ApplicationRow, uris: &[(String, String)]) -> Result<Application, sqlx::Error> {
    let of = |kind: UriKind| {
        uris.iter()
            .filter(|(_, k)| k == kind.as_str())
            .map(|(u, _)| u.clone())
            .collect()
    };
    let id = row.id;
    let bad = |what: &str| sqlx::Error::Decode(format!("oidc_applications.{what} of {id}").into());
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
        assembled(row, &uris)
    }

    /// The application with this client id and its stored secret hash, in one read.
    pub(crate) async fn find_with_secret<'e>(
        &self,
        ex: impl sqlx::Executor<'e, Database = db::Db>,
        client_id: &str,
    ) -> Result<Option<(Application, Option<String>)>, sqlx::Error> {
        let Some((row, uris)) =
            db::oidc_application::find_with_uris_by_client_id(ex, client_id).await?
        else {
            return Ok(None);
        };
        let secret_hash = row.secret_hash.clone();
        Ok(Some((assembled(row, &uris)?, secret_hash)))
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
        let key = (!draft.creation_key.is_empty()).then(|| crate::token::hash(&draft.creation_key));
        if let Some(key) = &key
            && let Some(id) = db::oidc_application::id_by_creation_key(&self.db, key).await?
        {
            return Err(ApplicationError::AlreadyCreated(id));
        }
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
        let inserted = db::oidc_application::insert(
            &mut *tx,
            &client_id,
            &f,
            secret.as_ref().map(|s| s.hash.as_str()),
            key.as_deref(),
            now,
            admin.0,
        )
        .await;
        let id = match (inserted, &key) {
            (Ok(id), _) => id,
            // The same form sent twice at once: the second insert meets the unique index, and
            // the application the first one made is the answer.
            (Err(e), Some(key)) if db::account::is_unique_violation(&e) => {
                tx.rollback().await?;
                return match db::oidc_application::id_by_creation_key(&self.db, key).await? {
                    Some(first) => Err(ApplicationError::AlreadyCreated(first)),
                    None => Err(e.into()),
                };
            }
            (Err(e), _) => return Err(e.into()),
        };
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
        Ok(self
            .find_with_secret(&self.db, client_id)
            .await?
            .map(|(a, _)| a))
    }
}
