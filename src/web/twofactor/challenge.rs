//! `{login}/2fa`: the second step of a sign-in. The person picks one of their factors; a right
//! answer starts the session (with a fresh id), wrong answers count towards cancelling the
//! pending sign-in, which then counts as a failed sign-in for the ban rules.

use super::pages::{BackupCodesPage, ChallengePage};
use super::{PendingSignIn, Side, challenge_path};
use crate::app::AppState;
use crate::config::DuoOutage;
use crate::twofactor::{self, pending::Failure};
use crate::web::cookie;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, Form, Peer, SessionInfo};
use crate::web::page;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// The challenge form's fields.
#[derive(serde::Deserialize)]
pub struct ChallengeForm {
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
}

/// Builds the page for a pending sign-in.
pub(super) async fn page<S: Side>(
    state: &AppState,
    pending: &crate::db::two_factor::PendingRow,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
) -> AppResult<ChallengePage> {
    let enrolled = twofactor::enrolled(state, S::REALM, pending.subject_id).await?;
    let backup_only =
        pending.duo_down && state.config.two_factor.duo_outage == DuoOutage::FailClosed;
    Ok(ChallengePage {
        title: "Two-step verification",
        nav: None,
        base: challenge_path::<S>(),
        csrf,
        error,
        notice,
        totp: enrolled.totp,
        webauthn: !enrolled.keys.is_empty(),
        duo: enrolled.duo && !pending.duo_down,
        backup: enrolled.backup_remaining > 0,
        backup_only,
    })
}

/// Shows the factors the person can use.
pub async fn get_challenge<S: Side>(
    State(state): State<AppState>,
    pending: PendingSignIn<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    if pending.row.must_enrol {
        return Ok(Redirect::to(&format!("{}/enrol", challenge_path::<S>())).into_response());
    }
    let body = page::<S>(&state, &pending.row, csrf, None, None).await?;
    Ok(page::render(&body))
}

/// Checks a TOTP or backup code.
pub async fn post_challenge<S: Side>(
    State(state): State<AppState>,
    pending: PendingSignIn<S>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ChallengeForm>,
) -> AppResult<Response> {
    let pending = pending.row;
    if pending.must_enrol {
        return Ok(Redirect::to(&format!("{}/enrol", challenge_path::<S>())).into_response());
    }
    let backup_only =
        pending.duo_down && state.config.two_factor.duo_outage == DuoOutage::FailClosed;
    let (ok, remaining) = match form.method.as_str() {
        "totp" if !backup_only => (
            twofactor::check_totp(&state, S::REALM, pending.subject_id, &form.code).await?,
            None,
        ),
        "backup" => {
            let left =
                twofactor::backup::redeem(&state, S::REALM, pending.subject_id, &form.code).await?;
            (left.is_some(), left)
        }
        "totp" => {
            let body = page::<S>(
                &state,
                &pending,
                csrf,
                Some("Duo cannot be reached, and this portal's policy is to stop sign-ins that need Duo until it can (fail closed). Use one of your backup codes, or try again later.".into()),
                None,
            )
            .await?;
            return Ok((StatusCode::FORBIDDEN, page::render(&body)).into_response());
        }
        _ => {
            return Err(crate::web::error::AppError::BadRequest(
                "The form named no verification method. Reload the page and try again.".into(),
            ));
        }
    };
    if ok {
        let (jar, target) =
            match super::complete::<S>(&state, &pending, addr, loaded.as_ref()).await? {
                Ok(done) => done,
                Err(restart) => return Ok(restart),
            };
        if let Some(left) = remaining {
            twofactor::manage::audit(
                &state,
                &twofactor::manage::actor(S::REALM, pending.subject_id),
                "two_factor.backup_code_used",
                &format!("{left} backup codes remain"),
                &addr.ip.to_string(),
            )
            .await?;
            let body = BackupCodesPage {
                title: "Signed in with a backup code",
                nav: None,
                intro: if left == 1 {
                    "You used a backup code. You have 1 backup code left: generate a new set on your security page.".into()
                } else {
                    format!(
                        "You used a backup code. You have {left} backup codes left{}.",
                        if left < 3 {
                            ": generate a new set on your security page"
                        } else {
                            ""
                        }
                    )
                },
                codes: Vec::new(),
                continue_to: target,
                continue_label: "Continue",
            };
            return Ok((jar, page::render(&body)).into_response());
        }
        return Ok((jar, Redirect::to(&target)).into_response());
    }
    wrong_code::<S>(&state, &pending, csrf).await
}

/// Answers a wrong code: try again, or (at the limit) back to the sign-in page.
pub(super) async fn wrong_code<S: Side>(
    state: &AppState,
    pending: &crate::db::two_factor::PendingRow,
    csrf: String,
) -> AppResult<Response> {
    match twofactor::pending::fail(state, pending).await? {
        Failure::TryAgain(left) => {
            let message = format!(
                "That code is not right, or it was already used. {} attempt{} left before this sign-in is cancelled.",
                left,
                if left == 1 { "" } else { "s" }
            );
            let body = page::<S>(state, pending, csrf, Some(message), None).await?;
            Ok((StatusCode::UNAUTHORIZED, page::render(&body)).into_response())
        }
        Failure::Cancelled => Ok((
            cookie::clear_pending(state, S::REALM),
            Redirect::to(&format!("{}?twofactor=cancelled", S::LOGIN)),
        )
            .into_response()),
    }
}

/// Abandons the pending sign-in.
pub async fn post_cancel<S: Side>(
    State(state): State<AppState>,
    pending: PendingSignIn<S>,
) -> AppResult<Response> {
    crate::db::two_factor::pending_end(&state.db, &pending.row.id_hash, state.clock.unix()).await?;
    Ok((
        cookie::clear_pending(&state, S::REALM),
        Redirect::to(S::LOGIN),
    )
        .into_response())
}
