//! `{login}/2fa/enrol`: under a "required" policy, someone without a second factor sets one up
//! (an authenticator app) before the session starts; nothing else accepts their pending sign-in.
//! Confirming the app, the backup codes and the audit entry are the [`TwoFactor`] service's.

use super::challenge::cancelled;
use super::pages::{BackupCodesPage, TotpSetupPage};
use super::{PendingSignIn, Side, challenge_path};
use crate::twofactor::pending::{EnrolError, Failure};
use crate::twofactor::{self, PendingRow, TwoFactor};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form};
use crate::web::invitation::Arrival;
use crate::web::page;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// The confirmation code.
#[derive(serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn setup_page<S: Side>(
    tf: &TwoFactor,
    pending: &PendingRow,
    csrf: String,
    error: Option<String>,
) -> AppResult<TotpSetupPage> {
    let seed = tf
        .pending_totp_seed(S::REALM, pending.subject_id, &pending.id_hash)
        .await?
        .ok_or_else(|| {
            AppError::BadRequest("An authenticator app is already set up for this account.".into())
        })?;
    let subject = tf
        .subject(S::REALM, pending.subject_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let uri = twofactor::totp::otpauth_uri(&seed, &subject.login);
    Ok(TotpSetupPage {
        title: "Set up two-step verification",
        nav: None,
        intro: "This portal requires a second step at sign-in. Set up an authenticator app now to finish signing in.".into(),
        action: format!("{}/enrol", challenge_path::<S>()),
        csrf,
        error,
        qr_svg: twofactor::totp::qr_svg(&uri),
        secret: twofactor::totp::base32(&seed),
        cancel: None,
    })
}

/// Shows the QR code and the key.
pub async fn get_enrol<S: Side>(
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    if !pending.row.must_enrol {
        return Ok(Redirect::to(&challenge_path::<S>()).into_response());
    }
    Ok(page::render(
        &setup_page::<S>(&tf, &pending.row, csrf, None).await?,
    ))
}

/// Confirms the app with its first code, issues backup codes, and starts the session.
pub async fn post_enrol<S: Side>(
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let pending = pending.row;
    if !pending.must_enrol {
        return Ok(Redirect::to(&challenge_path::<S>()).into_response());
    }
    let codes = match tf.enrol_at_sign_in(&pending, &form.code).await {
        Ok(codes) => codes,
        Err(EnrolError::Wrong(Failure::TryAgain(left))) => {
            let body = setup_page::<S>(
                &tf,
                &pending,
                csrf,
                Some(format!("That code is not right. Check that the app shows the account you just added, and that this device's clock is correct. {left} attempts left.")),
            )
            .await?;
            return Ok((StatusCode::UNAUTHORIZED, page::render(&body)).into_response());
        }
        Err(EnrolError::Wrong(Failure::Cancelled)) => return Ok(cancelled::<S>(arrival.cookies())),
        Err(EnrolError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
        Err(EnrolError::Storage(e)) => return Err(e.into()),
    };
    let (jar, target) = match super::complete::<S>(&tf, &pending, &arrival, "totp").await? {
        Ok(done) => done,
        Err(restart) => return Ok(restart),
    };
    let body = BackupCodesPage {
        title: "Save your backup codes",
        nav: None,
        intro: "Two-step verification is on. If you lose your phone, one of these codes gets you in instead of a code from the app.".into(),
        codes,
        continue_to: target,
        continue_label: "I have saved them: continue",
    };
    Ok((jar, page::render(&body)).into_response())
}
