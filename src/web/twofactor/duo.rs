//! The Duo round trip: `POST {login}/2fa/duo` checks Duo's health and redirects the browser to
//! Duo; `GET {login}/2fa/duo/callback` accepts Duo's answer only with a state that this server
//! issued for this browser's pending sign-in, then the session starts. The protocol and the
//! state storage are the [`TwoFactor`] service's (`twofactor::duo::sign_in`); this file words
//! the outcomes.

use super::challenge::{cancelled, page as challenge_page};
use super::{PendingSignIn, Side};
use crate::config::DuoOutage;
use crate::twofactor::duo::DuoError;
use crate::twofactor::duo::sign_in::{Callback as Answer, FinishError, StartError};
use crate::twofactor::pending::Failure;
use crate::twofactor::{PendingRow, TwoFactor};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::CsrfToken;
use crate::web::invitation::Arrival;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

async fn show_error<S: Side>(
    tf: &TwoFactor,
    pending: &PendingRow,
    csrf: String,
    status: StatusCode,
    message: String,
) -> AppResult<Response> {
    // Read again: the attempt may have set `duo_down`.
    let pending = tf.reload_pending(pending).await?;
    let body = challenge_page::<S>(tf, &pending, csrf, Some(message), None).await?;
    Ok((status, body).into_response())
}

/// Health check, then off to Duo.
pub async fn post_start<S: Side>(
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let pending = pending.row;
    let (status, message) = match tf.duo_start(&pending).await {
        Ok(url) => return Ok(Redirect::to(&url).into_response()),
        Err(StartError::NotSetUp) => (
            StatusCode::BAD_REQUEST,
            "Duo is not set up for this account. Use another of your factors.".to_owned(),
        ),
        Err(StartError::Down(e @ DuoError::Rejected { .. })) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Duo refused this portal's Duo settings, so Duo cannot be used until an administrator corrects them ({}). Finish signing in with a backup code{}.",
                e,
                match tf.duo_outage() {
                    DuoOutage::FailClosed => "",
                    DuoOutage::OtherFactor => " or another of your factors",
                }
            ),
        ),
        Err(StartError::Down(e)) => {
            let what_now = match tf.duo_outage() {
                DuoOutage::FailClosed => {
                    "While Duo is unavailable, this portal accepts only a backup code to finish signing in."
                }
                DuoOutage::OtherFactor => {
                    "Finish signing in with another of your factors, or a backup code."
                }
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{} {what_now}", e.user_message()),
            )
        }
        Err(StartError::NoAccount) => return Err(AppError::NotFound),
        Err(StartError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
        Err(StartError::Storage(e)) => return Err(e.into()),
    };
    show_error::<S>(&tf, &pending, csrf, status, message).await
}

/// Duo's redirect back.
#[derive(serde::Deserialize)]
pub struct Callback {
    #[serde(default)]
    state: String,
    #[serde(default)]
    duo_code: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// Accepts Duo's answer for this browser's pending sign-in only.
pub async fn get_callback<S: Side>(
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
    Query(callback): Query<Callback>,
) -> AppResult<Response> {
    let pending = pending.row;
    let answer = Answer {
        state: &callback.state,
        duo_code: &callback.duo_code,
        error: callback.error.as_deref(),
        error_description: callback.error_description.as_deref(),
    };
    let (status, message) = match tf.duo_finish(&pending, &answer).await {
        Ok(()) => {
            let (jar, target) =
                match super::complete::<S>(&tf, &pending, &arrival, "duo").await? {
                    Ok(done) => done,
                    Err(restart) => return Ok(restart),
                };
            return Ok((jar, Redirect::to(&target)).into_response());
        }
        Err(FinishError::ForeignState) => (
            StatusCode::BAD_REQUEST,
            "This answer from Duo does not belong to this sign-in: it was already used, it is more than 5 minutes old, or it was started elsewhere. Start again with the button below.".to_owned(),
        ),
        Err(FinishError::Callback(message)) => (StatusCode::BAD_REQUEST, message),
        Err(FinishError::NotConfigured) => (
            StatusCode::BAD_REQUEST,
            "Duo is no longer configured for this portal. Use another of your factors.".to_owned(),
        ),
        Err(FinishError::Denied {
            failure: Failure::Cancelled,
            ..
        }) => return Ok(cancelled::<S>(arrival.cookies())),
        Err(FinishError::Denied { error, .. }) => (StatusCode::UNAUTHORIZED, error.user_message()),
        Err(FinishError::Failed(e)) => {
            let status = match e {
                DuoError::Unavailable(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, e.user_message())
        }
        Err(FinishError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
        Err(FinishError::Storage(e)) => return Err(e.into()),
    };
    show_error::<S>(&tf, &pending, csrf, status, message).await
}
