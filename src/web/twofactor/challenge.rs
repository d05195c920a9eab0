//! `{login}/2fa`: the second step of a sign-in. The person picks one of their factors; a right
//! answer starts the session (with a fresh id), wrong answers count towards cancelling the
//! pending sign-in, which then counts as a failed sign-in for the ban rules; while the account's
//! delay runs (`crate::throttle`) a code is refused unchecked with a 429 saying until when. The checks and the
//! counting are the [`TwoFactor`] service's.

use super::pages::{BackupCodesPage, ChallengePage};
use super::{PendingSignIn, Side, challenge_path};
use crate::twofactor::pending::{ChallengeError, Failure, Method};
use crate::twofactor::{PendingRow, TwoFactor};
use crate::web::cookie::Cookies;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form};
use crate::web::invitation::Arrival;
use crate::web::middleware::security_headers::FormTargets;
use crate::web::page;
use axum::Extension;
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

/// The challenge page, with the origin its Duo form leads to (see [`FormTargets`]).
pub(super) struct Challenge {
    body: ChallengePage,
    targets: FormTargets,
}

impl IntoResponse for Challenge {
    fn into_response(self) -> Response {
        (Extension(self.targets), page::render(&self.body)).into_response()
    }
}

/// Builds the page for a pending sign-in.
pub(super) async fn page<S: Side>(
    tf: &TwoFactor,
    pending: &PendingRow,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
) -> AppResult<Challenge> {
    let enrolled = tf.enrolled(S::REALM, pending.subject_id).await?;
    let duo = enrolled.duo && !pending.duo_down;
    // "Continue with Duo" is answered by a redirect to Duo's host.
    let targets = if duo {
        FormTargets::of(tf.duo_origin().await?.as_deref())
    } else {
        FormTargets::default()
    };
    let body = ChallengePage {
        title: "Two-step verification",
        nav: None,
        base: challenge_path::<S>(),
        csrf,
        error,
        notice,
        totp: enrolled.totp,
        webauthn: !enrolled.keys.is_empty(),
        duo,
        backup: enrolled.backup_remaining > 0,
        backup_only: tf.backup_only(pending),
    };
    Ok(Challenge { body, targets })
}

/// Shows the factors the person can use.
pub async fn get_challenge<S: Side>(
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    if pending.row.must_enrol {
        return Ok(Redirect::to(&format!("{}/enrol", challenge_path::<S>())).into_response());
    }
    Ok(page::<S>(&tf, &pending.row, csrf, None, None)
        .await?
        .into_response())
}

/// The words of a used backup code's page.
fn backup_used(left: i64) -> String {
    if left == 1 {
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
    }
}

/// Checks a TOTP or backup code.
pub async fn post_challenge<S: Side>(
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ChallengeForm>,
) -> AppResult<Response> {
    let pending = pending.row;
    if pending.must_enrol {
        return Ok(Redirect::to(&format!("{}/enrol", challenge_path::<S>())).into_response());
    }
    let method = match form.method.as_str() {
        "totp" => Method::Totp,
        "backup" => Method::Backup,
        _ => {
            return Err(AppError::BadRequest(
                "The form named no verification method. Reload the page and try again.".into(),
            ));
        }
    };
    let answered = match tf.answer_challenge(&pending, method, &form.code).await {
        Ok(answered) => answered,
        Err(ChallengeError::BackupOnly) => {
            let body = page::<S>(
                &tf,
                &pending,
                csrf,
                Some("Duo cannot be reached, and this portal's policy is to stop sign-ins that need Duo until it can (fail closed). Use one of your backup codes, or try again later.".into()),
                None,
            )
            .await?;
            return Ok((StatusCode::FORBIDDEN, body).into_response());
        }
        Err(ChallengeError::Delayed(delayed)) => {
            let message = delayed.message.clone();
            let body = page::<S>(&tf, &pending, csrf, Some(message), None).await?;
            return Ok(crate::web::signin::too_many(&delayed, body.into_response()));
        }
        Err(ChallengeError::Wrong(failure)) => {
            return wrong_code::<S>(arrival.cookies(), &tf, &pending, csrf, failure).await;
        }
        Err(ChallengeError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
        Err(ChallengeError::Storage(e)) => return Err(e.into()),
    };
    let factor = match method {
        Method::Totp => "totp",
        Method::Backup => "backup_code",
    };
    let (jar, target) = match super::complete::<S>(&tf, &pending, &arrival, factor).await? {
        Ok(done) => done,
        Err(restart) => return Ok(restart),
    };
    let Some(left) = answered.backup_left else {
        return Ok((jar, Redirect::to(&target)).into_response());
    };
    let body = BackupCodesPage {
        title: "Signed in with a backup code",
        nav: None,
        intro: backup_used(left),
        codes: Vec::new(),
        continue_to: target,
        continue_label: "Continue",
    };
    Ok((jar, page::render(&body)).into_response())
}

/// Answers a counted wrong code: try again, or (at the limit) back to the sign-in page.
pub(super) async fn wrong_code<S: Side>(
    cookies: &Cookies,
    tf: &TwoFactor,
    pending: &PendingRow,
    csrf: String,
    failure: Failure,
) -> AppResult<Response> {
    match failure {
        Failure::TryAgain(left) => {
            let message = format!(
                "That code is not right, or it was already used. {} attempt{} left before this sign-in is cancelled.",
                left,
                if left == 1 { "" } else { "s" }
            );
            let body = page::<S>(tf, pending, csrf, Some(message), None).await?;
            Ok((StatusCode::UNAUTHORIZED, body).into_response())
        }
        Failure::Cancelled => Ok(cancelled::<S>(cookies)),
    }
}

/// Back to the sign-in page, which says the sign-in was cancelled.
pub(super) fn cancelled<S: Side>(cookies: &Cookies) -> Response {
    (
        cookies.clear_pending(S::REALM),
        Redirect::to(&format!("{}?twofactor=cancelled", S::LOGIN)),
    )
        .into_response()
}

/// Abandons the pending sign-in.
pub async fn post_cancel<S: Side>(
    State(cookies): State<Cookies>,
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
) -> AppResult<Response> {
    tf.end_pending(&pending.row).await?;
    Ok((cookies.clear_pending(S::REALM), Redirect::to(S::LOGIN)).into_response())
}
