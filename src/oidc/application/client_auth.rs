//! Authenticating an application at the token endpoint (F15's causes, told apart for the
//! record and the doctor; the protocol answers each with a terse `invalid_client`), and the
//! exact redirect-URI match with its closest-match advice (F14).

use super::{Application, Applications, SENT_MAX};
use crate::db;
use crate::oidc::draft::{AuthMethod, Kind, UriKind};
use crate::oidc::redirect::{self, Closest};

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

/// Whether `presented` authenticates `application`, whose stored secret hash is `stored`: the
/// method must be the one registered, and a secret must match (compared in constant time).
fn judge(
    application: &Application,
    stored: Option<&str>,
    presented: Presented<'_>,
) -> Result<(), ClientAuthError> {
    let secret = match (application.kind, presented) {
        (Kind::Public, Presented::None) => return Ok(()),
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
        Some(hash) if crate::token::equal(hash.as_bytes(), presented_hash.as_bytes()) => Ok(()),
        _ => Err(ClientAuthError::WrongSecret),
    }
}

impl Applications {
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
        let mut conn = self.db.acquire().await?;
        self.authenticate_on(&mut conn, client_id, presented)
            .await
            .map_err(|(e, _)| e)
    }

    /// [`Self::authenticate`] on the caller's connection; a refusal comes with the id of the
    /// application the client id named, if any (for its record).
    async fn authenticate_on(
        &self,
        conn: &mut db::Connection,
        client_id: &str,
        presented: Presented<'_>,
    ) -> Result<Application, (ClientAuthError, Option<i64>)> {
        if client_id.is_empty() || client_id.len() > SENT_MAX {
            return Err((ClientAuthError::UnknownClient, None));
        }
        let (application, stored) = self
            .find_with_secret(&mut *conn, client_id)
            .await
            .map_err(|e| (e.into(), None))?
            .ok_or((ClientAuthError::UnknownClient, None))?;
        match judge(&application, stored.as_deref(), presented) {
            Ok(()) => Ok(application),
            Err(e) => Err((e, Some(application.id))),
        }
    }

    /// [`Self::authenticate`] for a protocol endpoint (`token`, `revoke`, `introspect`), on the
    /// request's connection: a refusal is recorded with its cause for the application's page
    /// (F15) before it is returned.
    ///
    /// # Errors
    /// As [`Self::authenticate`].
    pub(crate) async fn authenticate_at(
        &self,
        conn: &mut db::Connection,
        endpoint: &str,
        credentials: &crate::oidc::credentials::Credentials,
    ) -> Result<Application, ClientAuthError> {
        let client_id = credentials.client_id.as_str();
        match self
            .authenticate_on(conn, client_id, credentials.presented())
            .await
        {
            Ok(application) => Ok(application),
            Err((ClientAuthError::Storage(e), _)) => Err(ClientAuthError::Storage(e)),
            Err((e, known)) => {
                let detail = e.to_string();
                let refusal = (known, client_id, endpoint, e.reason(), detail.as_str());
                self.record_refusal_on(&mut *conn, refusal).await?;
                Err(e)
            }
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
}
