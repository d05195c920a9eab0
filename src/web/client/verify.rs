//! `GET /verify-email/{token}`: confirm an email address; `POST /account/verify-email/resend`.

use crate::account::{VERIFY_LIFETIME, VERIFY_PURPOSE};
use crate::app::AppState;
use crate::db::one_time_token::TokenState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::CurrentClient;
use crate::web::page::{self, ErrorPage};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

/// Resends allowed per user per hour.
const RESENDS_PER_HOUR: i64 = 3;

/// Confirms the address the link was sent to. Works without a session, in any browser.
pub async fn get_verify(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let now = state.clock.unix();
    let token_state = if crate::token::looks_valid(&token) {
        crate::db::one_time_token::state(
            &state.db,
            &crate::token::hash(&token),
            VERIFY_PURPOSE,
            now,
        )
        .await?
    } else {
        TokenState::Unknown
    };
    let TokenState::Valid {
        subject_id: Some(user_id),
    } = token_state
    else {
        return Err(AppError::LinkInvalid {
            title: "This confirmation link cannot be used",
            message: crate::reset::link_problem(
                token_state,
                "your client area (sign in and choose \"Send the link again\")",
                &state.settings.snapshot().values.timezone,
            ),
            unknown: matches!(token_state, TokenState::Unknown),
        });
    };
    let mut tx = state.db.begin().await?;
    crate::db::one_time_token::consume(&mut *tx, &crate::token::hash(&token), VERIFY_PURPOSE, now)
        .await?;
    crate::db::mail::mark_verified(&mut *tx, user_id, now).await?;
    tx.commit().await?;
    tracing::info!(user_id, "email address verified");
    Ok(page::render(&ErrorPage {
        title: "Your email address is confirmed",
        message: "Thank you. You can close this page or go to your client area.",
        details: &[],
        nav: None,
    }))
}

/// Sends a fresh verification link (the old one stops working).
pub async fn post_resend(
    State(state): State<AppState>,
    current: CurrentClient,
) -> AppResult<Response> {
    // Confirming the address is the client's own business, like changing it.
    current.not_impersonated()?;
    let now = state.clock.unix();
    if crate::db::mail::is_verified(&state.db, current.user.id).await? {
        return Ok(Redirect::to("/clientarea").into_response());
    }
    let admitted = crate::db::mail::admit_request(
        &state.db,
        "verify_resend",
        &current.user.id.to_string(),
        now,
        now - 3600,
        RESENDS_PER_HOUR,
    )
    .await?;
    if !admitted {
        return Err(AppError::Forbidden(format!(
            "A confirmation link was sent {RESENDS_PER_HOUR} times in the last hour. Wait a little, and check your spam folder; each link works for {} minutes.",
            VERIFY_LIFETIME / 60
        )));
    }
    let mut tx = state.db.begin().await?;
    crate::account::queue_verification(
        &state,
        &mut tx,
        current.user.id,
        &current.user.email,
        &current.user.first_name,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/clientarea?resent=1").into_response())
}
