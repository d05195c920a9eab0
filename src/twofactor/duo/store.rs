//! The installation's Duo application: stored in the database (client secret sealed), loaded
//! into a [`Duo`] client, and the per-realm redirect URI and Duo username.

use super::{Credentials, Duo, SettingsError};
use crate::app::AppState;
use crate::config::DuoAdminUsername;
use crate::db;
use crate::session::Realm;
use crate::twofactor::manage::Subject;
use secrecy::{ExposeSecret as _, SecretString};
use std::time::Duration;

const SECRET_CONTEXT: &str = "duo:client_secret";
/// Duo's endpoints answer in well under a second; a sign-in must not hang on them.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The stored credentials, opened.
///
/// # Errors
/// Storage errors, or a secret the configured key cannot open.
pub async fn credentials(state: &AppState) -> anyhow::Result<Option<Credentials>> {
    let Some(row) = db::two_factor::duo_settings(&state.db).await? else {
        return Ok(None);
    };
    let secret = state
        .sealing
        .open(&row.client_secret_sealed, SECRET_CONTEXT)?;
    Ok(Some(Credentials {
        client_id: row.client_id,
        client_secret: SecretString::from(String::from_utf8(secret)?),
        api_hostname: row.api_hostname,
    }))
}

/// A client for the configured Duo application, if there is one.
///
/// # Errors
/// Storage errors, a secret that cannot be opened, or an HTTP client that cannot be built.
pub async fn client(state: &AppState) -> anyhow::Result<Option<Duo>> {
    let Some(creds) = credentials(state).await? else {
        return Ok(None);
    };
    Ok(Some(client_for(state, creds)?))
}

/// A client for `creds` (used to check credentials before they are saved).
///
/// # Errors
/// When the HTTP client cannot be built.
pub fn client_for(state: &AppState, creds: Credentials) -> anyhow::Result<Duo> {
    crate::net::http::install_crypto_provider();
    let http = crate::net::http::client(TIMEOUT)?;
    Ok(Duo::new(
        creds,
        state.config.two_factor.duo_test_api_url.clone(),
        http,
    ))
}

/// Validates submitted fields and saves them (secret sealed). An empty client secret keeps the
/// stored one, so the form need not show it.
///
/// # Errors
/// [`SettingsError`] for refused credentials (legacy ones with the F12 steps); other errors are
/// storage errors.
pub async fn save(
    state: &AppState,
    mut fields: Vec<(String, String)>,
) -> anyhow::Result<Result<Credentials, SettingsError>> {
    let secret_given = fields
        .iter()
        .any(|(k, v)| k == "client_secret" && !v.trim().is_empty());
    if !secret_given && let Some(stored) = credentials(state).await? {
        fields.retain(|(k, _)| k != "client_secret");
        fields.push((
            "client_secret".into(),
            stored.client_secret.expose_secret().to_owned(),
        ));
    }
    let creds = match super::validate(&fields) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let row = db::two_factor::DuoSettingsRow {
        client_id: creds.client_id.clone(),
        client_secret_sealed: state.sealing.seal(
            creds.client_secret.expose_secret().as_bytes(),
            SECRET_CONTEXT,
        )?,
        api_hostname: creds.api_hostname.clone(),
        updated_at: state.clock.unix(),
    };
    db::two_factor::duo_settings_put(&state.db, Some(&row)).await?;
    Ok(Ok(creds))
}

/// Where Duo sends the browser back, per realm: built from the System URL.
pub fn redirect_uri(state: &AppState, realm: Realm) -> String {
    let base = state.config.system_url.to_string();
    let base = base.trim_end_matches('/');
    match realm {
        Realm::Client => format!("{base}/login/2fa/duo/callback"),
        Realm::Admin => format!("{base}/admin/login/2fa/duo/callback"),
    }
}

/// The name the person has at Duo.
pub fn username(state: &AppState, subject: &Subject) -> String {
    match (subject.realm, state.config.two_factor.duo_admin_username) {
        (Realm::Admin, DuoAdminUsername::Username) => subject.login.clone(),
        _ => subject.email.clone(),
    }
}
