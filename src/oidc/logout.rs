//! RP-Initiated Logout 1.0: an application sends the person to `end_session_endpoint` to sign
//! out of the portal too, and may ask to be sent back.
//!
//! - `post_logout_redirect_uri` is followed only when it is registered *exactly* for the
//!   application named by `client_id` or by the `id_token_hint`'s audience (§3: never an
//!   unregistered place); otherwise the person gets a page at Portcullis and the refusal is
//!   recorded for the application's page, as at the authorization endpoint (F14).
//! - The session ends at once only when the `id_token_hint` is one of our ID tokens for this
//!   very session (its `sid`): then the request surely comes from an application the person
//!   signed in to from this browser. Otherwise the person is asked to confirm (§2: the OP
//!   should ask), so a link on another site cannot sign people out.

use super::application::{Application, Applications, POST_LOGOUT_URI_MISMATCH};
use super::authorize::Params;
use super::draft::UriKind;
use super::keys::{KeyError, Keys};
use crate::app::AppState;
use crate::domain::Realm;
use crate::session::Session;

/// The logout service.
#[derive(Clone)]
pub struct Logouts {
    applications: Applications,
    keys: Keys,
    issuer: String,
}

impl From<&AppState> for Logouts {
    fn from(state: &AppState) -> Self {
        Self {
            applications: Applications::from(state),
            keys: Keys::from(state),
            issuer: state.config.system_url.origin(),
        }
    }
}

/// A logout request that passed its checks.
#[derive(Debug, Clone)]
pub struct LogoutRequest {
    /// The application it names (by `client_id` or the hint's audience), if any.
    pub application: Option<Application>,
    /// Where to send the person afterwards: a registered URI with `state` added.
    pub return_to: Option<String>,
    /// The `sid` of a valid `id_token_hint`.
    pub hint_sid: Option<String>,
    /// The realm of the hint's subject, or of the application.
    pub realm: Option<Realm>,
}

impl LogoutRequest {
    /// Whether the session may end without asking: the hint names this very session.
    pub fn hint_is_for(&self, session: &Session) -> bool {
        self.hint_sid.as_deref() == Some(super::claims::sid(&session.id_hash).as_str())
    }
}

/// Why a logout request is refused (a page at Portcullis; nothing is redirected).
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl Logouts {
    /// Reads and checks a logout request.
    ///
    /// # Errors
    /// [`LogoutError::Refused`] with what the person reads; storage and key errors.
    pub async fn request(&self, params: &Params<'_>) -> Result<LogoutRequest, LogoutError> {
        let refuse = |m: &str| Err(LogoutError::Refused(m.to_owned()));
        if let Some(p) = params.repeated_name() {
            return refuse(&format!(
                "This sign-out link gives {p} more than once. Sign out from the portal's own menu instead."
            ));
        }
        let mut hint_aud = None;
        let mut hint_sid = None;
        let mut realm = None;
        if let Some(hint) = params.value("id_token_hint") {
            let claims = self.keys.verify_own(hint).await?;
            let Some(claims) = claims
                .filter(|c| c.get("iss").and_then(|v| v.as_str()) == Some(self.issuer.as_str()))
            else {
                return refuse(
                    "The application sent an ID token this portal did not issue (or that was altered), so this sign-out request cannot be trusted. Sign out from the portal's own menu instead.",
                );
            };
            hint_aud = claims
                .get("aud")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            hint_sid = claims
                .get("sid")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            realm = claims
                .get("sub")
                .and_then(|v| v.as_str())
                .and_then(|s| s.split(':').next())
                .and_then(Realm::parse);
        }
        let client_id = params.value("client_id");
        if let (Some(c), Some(a)) = (client_id, hint_aud.as_deref())
            && c != a
        {
            return refuse(
                "The sign-out request names one application in client_id and another in its ID token. Sign out from the portal's own menu instead.",
            );
        }
        let application = match client_id.or(hint_aud.as_deref()) {
            Some(id) => self.applications.find_by_client_id(id).await?,
            None => None,
        };
        if let Some(a) = &application {
            realm = realm.or(Some(a.realm));
        }
        let return_to = match params.value("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let Some(application) = &application else {
                    return refuse(
                        "The application asked to be sent back after signing out, but did not say which application it is (client_id or id_token_hint), so it cannot be sent anywhere.",
                    );
                };
                if !Applications::redirect_uri_allowed(application, uri, UriKind::PostLogout) {
                    self.applications
                        .record_refusal(
                            Some(application.id),
                            &application.client_id,
                            "end_session",
                            POST_LOGOUT_URI_MISMATCH,
                            uri,
                        )
                        .await?;
                    return refuse(&format!(
                        "{} asked to send you after signing out to an address it has not registered, so you were not sent there. Tell its administrator: the portal's administrator can see the address sent and the one registered.",
                        application.name
                    ));
                }
                let mut url = url::Url::parse(uri)
                    .map_err(|_| LogoutError::Refused("The return address is not a URL.".into()))?;
                if let Some(state) = params.value("state") {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url.to_string())
            }
        };
        Ok(LogoutRequest {
            application,
            return_to,
            hint_sid,
            realm,
        })
    }
}
