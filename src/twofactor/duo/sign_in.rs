//! The Duo round trip of a pending sign-in: [`TwoFactor::duo_start`] checks Duo's health and
//! gives the URL to send the browser to; [`TwoFactor::duo_finish`] accepts Duo's answer only
//! with a state that this server issued for this browser's pending sign-in (hashed, five
//! minutes, single use), then exchanges the code and verifies the ID token. The pages in
//! `web::twofactor::duo` word the outcomes and start the session.

use super::DuoError;
use crate::db;
use crate::domain::{Action, Actor};
use crate::twofactor::pending::{Failure, realm_of};
use crate::twofactor::{PendingRow, TwoFactor};

/// How long the browser may spend at Duo.
const STATE_SECONDS: i64 = 300;
const PURPOSE: &str = "duo_state";

/// What the state row remembers about the attempt.
#[derive(serde::Serialize, serde::Deserialize)]
struct Attempt {
    pending: String,
    nonce: String,
    username: String,
}

/// Why the browser was not sent to Duo.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The person has not turned Duo on, or the installation has no Duo application.
    #[error("Duo is not set up for this account")]
    NotSetUp,
    /// Duo failed its health check; the pending sign-in now records that Duo is down.
    #[error(transparent)]
    Down(DuoError),
    /// The account is gone.
    #[error("the account no longer exists")]
    NoAccount,
    /// The stored secret could not be opened, or no HTTP client could be built.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// What Duo put on the callback URL.
#[derive(Debug, Clone, Copy, Default)]
pub struct Callback<'a> {
    pub state: &'a str,
    pub duo_code: &'a str,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
}

/// Why Duo's answer did not complete the sign-in.
#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    /// The state is unknown, used, expired or another sign-in's (audited).
    #[error("a Duo callback carried a state not issued for this sign-in")]
    ForeignState,
    /// Duo put an error on the callback; the message says what to do.
    #[error("{0}")]
    Callback(String),
    /// The Duo application was removed meanwhile.
    #[error("Duo is no longer configured")]
    NotConfigured,
    /// Duo says the second factor was not passed (counted as a wrong code).
    #[error("{error}")]
    Denied { error: DuoError, failure: Failure },
    /// The code exchange or the ID token failed.
    #[error(transparent)]
    Failed(DuoError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl TwoFactor {
    /// Records a Duo sign-in that did not complete (denied, refused, or not verifiable), with
    /// the pending sign-in's address: an operator looking at one account sees every refusal,
    /// not only the cancellation after too many.
    async fn audit_duo_refusal(&self, pending: &PendingRow, why: &str) -> Result<(), sqlx::Error> {
        let who = Actor::of(realm_of(pending), pending.subject_id);
        let detail: String = why.chars().filter(|c| !c.is_control()).take(300).collect();
        crate::audit::record_from(
            &self.db,
            self.clock.unix(),
            &who,
            Action::TwoFactorDuoRefused,
            &who,
            &format!("Duo sign-in refused: {detail}"),
            crate::audit::Origin {
                ip: &pending.ip,
                user_agent: "",
            },
        )
        .await
    }

    /// Checks Duo's health and returns the URL of Duo's prompt for this pending sign-in, with a
    /// fresh state and nonce stored for the answer.
    ///
    /// # Errors
    /// `NotSetUp`, `Down` (recorded on the pending sign-in), `NoAccount`, or a storage or
    /// unexpected error.
    pub async fn duo_start(&self, pending: &PendingRow) -> Result<String, StartError> {
        let realm = realm_of(pending);
        let enrolled = self.duo_enrolled(realm, pending.subject_id).await?;
        let client = self.duo_client().await?;
        let (Some(client), true) = (client, enrolled) else {
            return Err(StartError::NotSetUp);
        };
        let now = self.clock.unix();
        if let Err(e) = client.health_check(now).await {
            tracing::warn!(error = %e, "Duo health check failed; not redirecting to Duo");
            db::two_factor::pending_duo_down(&self.db, &pending.id_hash).await?;
            return Err(StartError::Down(e));
        }
        let subject = self
            .subject(realm, pending.subject_id)
            .await?
            .ok_or(StartError::NoAccount)?;
        let username = self.duo_username(&subject);
        let duo_state = super::random_state();
        let nonce = super::random_state();
        let attempt = serde_json::to_string(&Attempt {
            pending: pending.id_hash.clone(),
            nonce: nonce.clone(),
            username: username.clone(),
        })
        .map_err(anyhow::Error::from)?;
        db::one_time_token::insert_with_data(
            &self.db,
            &crate::token::hash(&duo_state),
            PURPOSE,
            &attempt,
            now,
            now + STATE_SECONDS,
        )
        .await?;
        Ok(client.authorize_url(
            &self.duo_redirect_uri(realm),
            &username,
            &duo_state,
            &nonce,
            now,
        ))
    }

    /// Accepts Duo's answer for this pending sign-in only. The state is used up whatever
    /// happens. The caller then ends the pending sign-in and starts the session.
    ///
    /// # Errors
    /// `ForeignState`, `Callback`, `NotConfigured`, `Denied`, `Failed`, or a storage or
    /// unexpected error.
    pub async fn duo_finish(
        &self,
        pending: &PendingRow,
        callback: &Callback<'_>,
    ) -> Result<(), FinishError> {
        let realm = realm_of(pending);
        let now = self.clock.unix();
        let state_hash = crate::token::hash(callback.state);
        let attempt = if callback.state.len() >= 16
            && db::one_time_token::consume(&self.db, &state_hash, PURPOSE, now).await?
        {
            db::one_time_token::data(&self.db, &state_hash, PURPOSE)
                .await?
                .and_then(|d| serde_json::from_str::<Attempt>(&d).ok())
        } else {
            None
        };
        let Some(attempt) = attempt.filter(|a| a.pending == pending.id_hash) else {
            tracing::warn!("Duo callback with an unknown, used, expired or foreign state");
            self.audit(
                &Actor::of(realm, pending.subject_id),
                Action::SigninDuoStateRefused,
                "a Duo callback carried a state not issued for this sign-in",
            )
            .await?;
            return Err(FinishError::ForeignState);
        };
        if let Some(error) = callback.error {
            let description = callback.error_description.unwrap_or("");
            self.audit_duo_refusal(pending, &format!("Duo's callback carried {error}"))
                .await?;
            return Err(FinishError::Callback(super::translate_callback_error(
                error,
                description,
            )));
        }
        let Some(client) = self.duo_client().await? else {
            return Err(FinishError::NotConfigured);
        };
        let redirect_uri = self.duo_redirect_uri(realm);
        let verified = match client
            .exchange_code(callback.duo_code, &redirect_uri, now)
            .await
        {
            Ok(id_token) => {
                client.verify_id_token(&id_token, &attempt.username, &attempt.nonce, now)
            }
            Err(e) => Err(e),
        };
        match verified {
            Ok(_) => Ok(()),
            Err(error @ DuoError::Denied { .. }) => {
                tracing::info!(%error, "Duo denied a sign-in");
                self.audit_duo_refusal(pending, &error.to_string()).await?;
                let failure = self.fail_pending(pending).await?;
                Err(FinishError::Denied { error, failure })
            }
            Err(e) => {
                tracing::warn!(error = %e, "Duo sign-in failed");
                self.audit_duo_refusal(pending, &e.to_string()).await?;
                Err(FinishError::Failed(e))
            }
        }
    }
}
