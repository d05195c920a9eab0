//! The JSON endpoints `static/webauthn.js` talks to: options and answer for registering a
//! security key (security page, after step-up) and for using one (challenge page).
//!
//! The ceremonies, their server-side state (taken when the answer arrives, so each challenge
//! is answered at most once) and the stored keys are the [`TwoFactor`] service's
//! (`twofactor::keys`); this file reads the JSON bodies and maps [`KeyError`] to a status and
//! a JSON message.

use super::{PendingSignIn, Side, Signed};
use crate::twofactor::keys::KeyError;
use crate::twofactor::pending::Failure;
use crate::twofactor::{TwoFactor, webauthn as wa};
use crate::web::cookie::Cookies;
use crate::web::error::{AppError, AppResult};
use crate::web::invitation::Arrival;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A JSON error in the shape every JSON error of Portcullis has.
fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({
            "status": status.as_u16(),
            "error": "webauthn",
            "message": message.into(),
        })),
    )
        .into_response()
}

/// The JSON answer to a refused operation; `step_up` is what a missing step-up is told.
fn refused<S: Side>(cookies: &Cookies, why: KeyError, step_up: &str) -> AppResult<Response> {
    Ok(match why {
        KeyError::StepUpNeeded => refuse(StatusCode::FORBIDDEN, step_up),
        KeyError::NotForThisSignIn => refuse(
            StatusCode::FORBIDDEN,
            "Security keys cannot complete this sign-in; use the form on the page.",
        ),
        KeyError::AlreadyRegistered => refuse(StatusCode::CONFLICT, why.to_string()),
        KeyError::BadName | KeyError::Ceremony(_) => {
            refuse(StatusCode::BAD_REQUEST, why.to_string())
        }
        KeyError::Refused {
            error,
            failure: Failure::TryAgain(left),
        } => refuse(
            StatusCode::UNAUTHORIZED,
            format!("{error} {left} attempts left."),
        ),
        KeyError::Refused {
            failure: Failure::Cancelled,
            ..
        } => (
            StatusCode::UNAUTHORIZED,
            cookies.clear_pending(S::REALM),
            axum::Json(json!({
                "status": 401,
                "error": "webauthn",
                "message": "Too many failed attempts: the sign-in was cancelled.",
                "redirect": format!("{}?twofactor=cancelled", S::LOGIN),
            })),
        )
            .into_response(),
        KeyError::Unexpected(e) => return Err(AppError::Unexpected(e)),
        KeyError::Storage(e) => return Err(e.into()),
    })
}

/// The body as `T`, or the refusal to send (boxed: a response is large for a `Result`).
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            format!("The request could not be read as a security key answer ({e}). Reload the page and try again."),
        ))
    })
}

/// The name given to a new key.
#[derive(serde::Deserialize, Default)]
struct NameBody {
    #[serde(default)]
    name: String,
}

/// The browser's answer to a registration.
#[derive(serde::Deserialize)]
struct RegisterBody {
    credential: wa::RegisterPublicKeyCredential,
    #[serde(default)]
    name: String,
}

/// The browser's answer to an authentication.
#[derive(serde::Deserialize)]
struct AuthenticateBody {
    credential: wa::PublicKeyCredential,
}

/// `POST {security}/webauthn/options`: starts registering a key.
pub async fn post_register_options<S: Side>(
    State(cookies): State<Cookies>,
    State(tf): State<TwoFactor>,
    signed: Signed<S>,
    body: Bytes,
) -> AppResult<Response> {
    let request: NameBody = if body.is_empty() {
        NameBody::default()
    } else {
        match parse(&body) {
            Ok(b) => b,
            Err(r) => return Ok(*r),
        }
    };
    match tf
        .begin_key_registration(&signed.subject, &signed.session.id_hash, &request.name)
        .await
    {
        Ok(options) => Ok(axum::Json(options).into_response()),
        Err(why) => refused::<S>(
            &cookies,
            why,
            "Confirm it's you first: enter your password or a current code on this page, then add the key.",
        ),
    }
}

/// `POST {security}/webauthn`: stores the new key.
pub async fn post_register<S: Side>(
    State(cookies): State<Cookies>,
    State(tf): State<TwoFactor>,
    signed: Signed<S>,
    body: Bytes,
) -> AppResult<Response> {
    let request: RegisterBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return Ok(*r),
    };
    let subject = &signed.subject;
    let session = &signed.session.id_hash;
    match tf
        .finish_key_registration(subject, session, &request.credential, &request.name)
        .await
    {
        Ok(()) => Ok(axum::Json(json!({ "redirect": S::SECURITY })).into_response()),
        Err(why) => refused::<S>(
            &cookies,
            why,
            "Confirm it's you first: enter your password or a current code on this page.",
        ),
    }
}

/// `POST {login}/2fa/webauthn/options`: starts using a key.
pub async fn post_authenticate_options<S: Side>(
    State(cookies): State<Cookies>,
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
) -> AppResult<Response> {
    match tf.begin_key_sign_in(&pending.row).await {
        Ok(options) => Ok(axum::Json(options).into_response()),
        Err(why) => refused::<S>(&cookies, why, ""),
    }
}

/// `POST {login}/2fa/webauthn`: verifies the key's answer and completes the sign-in.
pub async fn post_authenticate<S: Side>(
    State(tf): State<TwoFactor>,
    pending: PendingSignIn<S>,
    arrival: Arrival,
    body: Bytes,
) -> AppResult<Response> {
    let pending = pending.row;
    let request: AuthenticateBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return Ok(*r),
    };
    if let Err(why) = tf.finish_key_sign_in(&pending, &request.credential).await {
        return refused::<S>(arrival.cookies(), why, "");
    }
    let (jar, target) = match super::complete::<S>(&tf, &pending, &arrival, "webauthn").await? {
        Ok(done) => done,
        Err(restart) => return Ok(restart),
    };
    Ok((jar, axum::Json(json!({ "redirect": target }))).into_response())
}
