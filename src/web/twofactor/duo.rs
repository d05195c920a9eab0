//! The Duo round trip: `POST {login}/2fa/duo` checks Duo's health and redirects the browser to
//! Duo; `GET {login}/2fa/duo/callback` accepts Duo's answer only with a state that this server
//! issued for this browser's pending sign-in (hashed, five minutes, single use), then exchanges
//! the code and verifies the ID token before the session starts.

use super::challenge::{page as challenge_page, wrong_code};
use super::{PendingSignIn, Side};
use crate::app::AppState;
use crate::config::DuoOutage;
use crate::db;
use crate::twofactor::duo::{self as duo_protocol, DuoError, store};
use crate::twofactor::manage;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, Peer, SessionInfo};
use crate::web::page;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

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

async fn show_error<S: Side>(
    state: &AppState,
    pending: &db::two_factor::PendingRow,
    csrf: String,
    status: StatusCode,
    message: String,
) -> AppResult<Response> {
    // Read again: the attempt may have set `duo_down`.
    let pending = db::two_factor::pending_find(&state.db, &pending.id_hash, state.clock.unix())
        .await?
        .unwrap_or_else(|| pending.clone());
    let body = challenge_page::<S>(state, &pending, csrf, Some(message), None).await?;
    Ok((status, page::render(&body)).into_response())
}

/// Health check, then off to Duo.
pub async fn post_start<S: Side>(
    State(state): State<AppState>,
    pending: PendingSignIn<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let pending = pending.row;
    let enrolled =
        db::two_factor::duo_enrolled(&state.db, S::REALM.as_str(), pending.subject_id).await?;
    let client = store::client(&state).await?;
    let (Some(client), true) = (client, enrolled) else {
        return show_error::<S>(
            &state,
            &pending,
            csrf,
            StatusCode::BAD_REQUEST,
            "Duo is not set up for this account. Use another of your factors.".into(),
        )
        .await;
    };
    let now = state.clock.unix();
    if let Err(e) = client.health_check(now).await {
        tracing::warn!(error = %e, "Duo health check failed; not redirecting to Duo");
        db::two_factor::pending_duo_down(&state.db, &pending.id_hash).await?;
        let what_now = match state.config.two_factor.duo_outage {
            DuoOutage::FailClosed => {
                "While Duo is unavailable, this portal accepts only a backup code to finish signing in."
            }
            DuoOutage::OtherFactor => {
                "Finish signing in with another of your factors, or a backup code."
            }
        };
        return show_error::<S>(
            &state,
            &pending,
            csrf,
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} {what_now}", e.user_message()),
        )
        .await;
    }
    let subject = manage::subject(&state, S::REALM, pending.subject_id)
        .await?
        .ok_or(crate::web::error::AppError::NotFound)?;
    let username = store::username(&state, &subject);
    let duo_state = duo_protocol::random_state();
    let nonce = duo_protocol::random_state();
    let attempt = serde_json::to_string(&Attempt {
        pending: pending.id_hash.clone(),
        nonce: nonce.clone(),
        username: username.clone(),
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    db::one_time_token::insert_with_data(
        &state.db,
        &crate::token::hash(&duo_state),
        PURPOSE,
        &attempt,
        now,
        now + STATE_SECONDS,
    )
    .await?;
    let url = client.authorize_url(
        &store::redirect_uri(&state, S::REALM),
        &username,
        &duo_state,
        &nonce,
        now,
    );
    Ok(Redirect::to(&url).into_response())
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
    State(state): State<AppState>,
    pending: PendingSignIn<S>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Query(callback): Query<Callback>,
) -> AppResult<Response> {
    let pending = pending.row;
    let now = state.clock.unix();
    let state_hash = crate::token::hash(&callback.state);
    // The state is single use whatever happens next.
    let attempt = if callback.state.len() >= 16
        && db::one_time_token::consume(&state.db, &state_hash, PURPOSE, now).await?
    {
        db::one_time_token::data(&state.db, &state_hash, PURPOSE)
            .await?
            .and_then(|d| serde_json::from_str::<Attempt>(&d).ok())
    } else {
        None
    };
    let Some(attempt) = attempt.filter(|a| a.pending == pending.id_hash) else {
        tracing::warn!("Duo callback with an unknown, used, expired or foreign state");
        manage::audit(
            &state,
            &manage::actor(S::REALM, pending.subject_id),
            "signin.duo_state_refused",
            "a Duo callback carried a state not issued for this sign-in",
            &addr.ip.to_string(),
        )
        .await?;
        return show_error::<S>(
            &state,
            &pending,
            csrf,
            StatusCode::BAD_REQUEST,
            "This answer from Duo does not belong to this sign-in: it was already used, it is more than 5 minutes old, or it was started elsewhere. Start again with the button below.".into(),
        )
        .await;
    };
    if let Some(error) = callback.error.as_deref() {
        let message = duo_protocol::translate_callback_error(
            error,
            callback.error_description.as_deref().unwrap_or(""),
        );
        return show_error::<S>(&state, &pending, csrf, StatusCode::BAD_REQUEST, message).await;
    }
    let Some(client) = store::client(&state).await? else {
        return show_error::<S>(
            &state,
            &pending,
            csrf,
            StatusCode::BAD_REQUEST,
            "Duo is no longer configured for this portal. Use another of your factors.".into(),
        )
        .await;
    };
    let redirect_uri = store::redirect_uri(&state, S::REALM);
    let verified = match client
        .exchange_code(&callback.duo_code, &redirect_uri, now)
        .await
    {
        Ok(id_token) => client.verify_id_token(&id_token, &attempt.username, &attempt.nonce, now),
        Err(e) => Err(e),
    };
    match verified {
        Ok(_) => {
            let (jar, target) =
                match super::complete::<S>(&state, &pending, addr, loaded.as_ref()).await? {
                    Ok(done) => done,
                    Err(restart) => return Ok(restart),
                };
            Ok((jar, Redirect::to(&target)).into_response())
        }
        Err(DuoError::Denied { status_msg }) => {
            tracing::info!(status_msg, "Duo denied a sign-in");
            let response = wrong_code::<S>(&state, &pending, csrf.clone()).await?;
            if response.status().is_redirection() {
                return Ok(response);
            }
            show_error::<S>(
                &state,
                &pending,
                csrf,
                StatusCode::UNAUTHORIZED,
                DuoError::Denied { status_msg }.user_message(),
            )
            .await
        }
        Err(e) => {
            tracing::warn!(error = %e, "Duo sign-in failed");
            let status = match e {
                DuoError::Unavailable(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            };
            show_error::<S>(&state, &pending, csrf, status, e.user_message()).await
        }
    }
}
