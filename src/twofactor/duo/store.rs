//! The installation's Duo application: stored in the database (client secret sealed), loaded
//! into a [`Duo`] client, changed from the admin's two-step verification page (audited), and
//! the per-realm redirect URI and Duo username. The operations are [`TwoFactor`]'s; [`save`] at the
//! end serves the tests, which store settings without an admin.

use super::{Credentials, Duo, DuoError, SettingsError};
use crate::app::AppState;
use crate::config::DuoAdminUsername;
use crate::db;
use crate::domain::{Action, Actor};
use crate::session::Realm;
use crate::twofactor::{Subject, TwoFactor};
use secrecy::{ExposeSecret as _, SecretString};
use std::time::Duration;

const SECRET_CONTEXT: &str = "duo:client_secret";
/// Duo's endpoints answer in well under a second; a sign-in must not hang on them.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The stored Duo application, as the admin page shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub client_id: String,
    pub api_hostname: String,
}

/// Why Duo settings were not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The credentials are refused (legacy ones with the steps to create the right one, F12).
    #[error(transparent)]
    Refused(SettingsError),
    /// Duo's health check refused these credentials (`invalid_client`): they are wrong, so they
    /// were not saved and the stored ones still apply. The error's `user_message` says why.
    #[error("Duo refused these credentials: {0}")]
    WrongCredentials(DuoError),
    /// The stored secret could not be opened, or a new one sealed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// What Duo said to the health check after the settings were saved.
#[derive(Debug, Clone)]
pub enum Health {
    /// Duo answered; its clock is this many seconds ahead of ours.
    Answered { clock_difference: i64 },
    /// Duo did not accept the health check (yet).
    Failed(DuoError),
}

impl TwoFactor {
    /// The stored credentials, opened.
    ///
    /// # Errors
    /// Storage errors, or a secret the configured key cannot open.
    pub async fn duo_credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let Some(row) = db::two_factor::duo_settings(&self.db).await? else {
            return Ok(None);
        };
        let secret = self
            .sealing
            .open(&row.client_secret_sealed, SECRET_CONTEXT)?;
        Ok(Some(Credentials {
            client_id: row.client_id,
            client_secret: SecretString::from(String::from_utf8(secret)?),
            api_hostname: row.api_hostname,
        }))
    }

    /// The stored Duo application, without its secret.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn duo_application(&self) -> Result<Option<Application>, sqlx::Error> {
        Ok(db::two_factor::duo_settings(&self.db)
            .await?
            .map(|s| Application {
                client_id: s.client_id,
                api_hostname: s.api_hostname,
            }))
    }

    /// A client for the configured Duo application, if there is one.
    ///
    /// # Errors
    /// Storage errors, a secret that cannot be opened, or an HTTP client that cannot be built.
    pub async fn duo_client(&self) -> anyhow::Result<Option<Duo>> {
        let Some(creds) = self.duo_credentials().await? else {
            return Ok(None);
        };
        Ok(Some(self.duo_client_for(creds)?))
    }

    /// Where the browser goes to approve a sign-in with Duo (the base of its endpoints), if Duo
    /// is configured: the challenge page's form leads there.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn duo_origin(&self) -> Result<Option<String>, sqlx::Error> {
        // The application's public settings are enough: the secret stays sealed.
        let test_base = self.config.two_factor.duo_test_api_url.as_ref();
        Ok(self
            .duo_application()
            .await?
            .map(|a| super::client::base_of(&a.api_hostname, test_base)))
    }

    /// A client for `creds` (used to check credentials before they are saved).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn duo_client_for(&self, creds: Credentials) -> anyhow::Result<Duo> {
        crate::net::http::install_crypto_provider();
        let http = crate::net::http::client(TIMEOUT)?;
        Ok(Duo::new(
            creds,
            self.config.two_factor.duo_test_api_url.as_ref(),
            http,
        ))
    }

    /// Validates submitted fields and saves them (secret sealed) without asking Duo. An empty
    /// client secret keeps the stored one, so the form need not show it. Not audited: the
    /// admin page uses [`Self::configure_duo`].
    ///
    /// # Errors
    /// [`SaveError::Refused`] for refused credentials; otherwise storage or sealing errors.
    pub async fn save_duo_settings(
        &self,
        fields: Vec<(String, String)>,
    ) -> Result<Credentials, SaveError> {
        let creds = self.submitted_duo_credentials(fields).await?;
        self.store_duo_credentials(&creds).await?;
        Ok(creds)
    }

    /// The credentials the submitted fields describe, shape-checked; an empty client secret
    /// stands for the stored one.
    async fn submitted_duo_credentials(
        &self,
        mut fields: Vec<(String, String)>,
    ) -> Result<Credentials, SaveError> {
        let secret_given = fields
            .iter()
            .any(|(k, v)| k == "client_secret" && !v.trim().is_empty());
        if !secret_given && let Some(stored) = self.duo_credentials().await? {
            fields.retain(|(k, _)| k != "client_secret");
            fields.push((
                "client_secret".into(),
                stored.client_secret.expose_secret().to_owned(),
            ));
        }
        super::validate(&fields).map_err(SaveError::Refused)
    }

    /// Stores `creds` as the installation's Duo application, the secret sealed.
    async fn store_duo_credentials(&self, creds: &Credentials) -> Result<(), SaveError> {
        let row = db::two_factor::DuoSettingsRow {
            client_id: creds.client_id.clone(),
            client_secret_sealed: self.sealing.seal(
                creds.client_secret.expose_secret().as_bytes(),
                SECRET_CONTEXT,
            )?,
            api_hostname: creds.api_hostname.clone(),
            updated_at: self.clock.unix(),
        };
        db::two_factor::duo_settings_put(&self.db, Some(&row)).await?;
        Ok(())
    }

    /// The admin page's save: validates the settings, asks Duo's health check whether they
    /// work, and saves them unless Duo refused the credentials themselves (then the working
    /// ones stay, and the refusal is audited). Duo being unreachable does not stop the save: the
    /// credentials may be right, and the answer says Duo did not confirm them yet.
    ///
    /// # Errors
    /// As [`Self::save_duo_settings`], and [`SaveError::WrongCredentials`].
    pub async fn configure_duo(
        &self,
        fields: Vec<(String, String)>,
        actor: &Actor,
    ) -> Result<Health, SaveError> {
        let creds = self.submitted_duo_credentials(fields).await?;
        let now = self.clock.unix();
        let health = match self.duo_client_for(creds.clone()) {
            Ok(duo) => duo.health_check(now).await,
            Err(e) => Err(DuoError::Unavailable(e.to_string())),
        };
        let application = format!(
            "Duo application {} at {}",
            creds.client_id, creds.api_hostname
        );
        if let Err(refused @ DuoError::Rejected { .. }) = health {
            self.audit(
                actor,
                Action::TwoFactorDuoSettings,
                &format!("{application} not saved: Duo refused the credentials ({refused}); the previous settings were kept"),
            )
            .await?;
            return Err(SaveError::WrongCredentials(refused));
        }
        self.store_duo_credentials(&creds).await?;
        self.audit(
            actor,
            Action::TwoFactorDuoSettings,
            &format!("{application} saved"),
        )
        .await?;
        Ok(match health {
            Ok(timestamp) => Health::Answered {
                clock_difference: timestamp - now,
            },
            Err(e) => Health::Failed(e),
        })
    }

    /// Removes the Duo settings (people enrolled in Duo then use their other factors). Audited.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn remove_duo(&self, actor: &Actor) -> Result<(), sqlx::Error> {
        db::two_factor::duo_settings_put(&self.db, None).await?;
        self.audit(actor, Action::TwoFactorDuoSettings, "Duo settings removed")
            .await
    }

    /// Where Duo sends the browser back, per realm: built from the System URL.
    pub fn duo_redirect_uri(&self, realm: Realm) -> String {
        let base = self.config.system_url.to_string();
        let base = base.trim_end_matches('/');
        match realm {
            Realm::Client => format!("{base}/login/2fa/duo/callback"),
            Realm::Admin => format!("{base}/admin/login/2fa/duo/callback"),
        }
    }

    /// The name the person has at Duo.
    pub fn duo_username(&self, subject: &Subject) -> String {
        match (subject.realm, self.config.two_factor.duo_admin_username) {
            (Realm::Admin, DuoAdminUsername::Username) => subject.login.clone(),
            _ => subject.email.clone(),
        }
    }
}

/// Validates and saves Duo settings ([`TwoFactor::save_duo_settings`]), unaudited.
///
/// # Errors
/// [`SettingsError`] for refused credentials (legacy ones with the F12 steps); other errors are
/// storage errors.
pub async fn save(
    state: &AppState,
    fields: Vec<(String, String)>,
) -> anyhow::Result<Result<Credentials, SettingsError>> {
    match TwoFactor::from(state).save_duo_settings(fields).await {
        Ok(creds) => Ok(Ok(creds)),
        Err(SaveError::Refused(e)) => Ok(Err(e)),
        Err(SaveError::WrongCredentials(e)) => Err(anyhow::anyhow!(e.user_message())),
        Err(SaveError::Unexpected(e)) => Err(e),
        Err(SaveError::Storage(e)) => Err(e.into()),
    }
}
