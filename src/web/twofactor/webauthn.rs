//! The JSON endpoints `static/webauthn.js` talks to: options and answer for registering a
//! security key (security page, after step-up) and for using one (challenge page).
//!
//! Ceremony state is kept server-side in `webauthn_ceremonies`, keyed by the session or pending
//! sign-in it belongs to, and taken (deleted) when the answer arrives, so each challenge is
//! answered at most once.

use super::{PendingSignIn, Side, Signed, stepped_up};
use crate::app::AppState;
use crate::config::DuoOutage;
use crate::db;
use crate::twofactor::{manage, webauthn as wa};
use crate::web::error::AppResult;
use crate::web::extract::{Peer, SessionInfo};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How long a ceremony may take.
const CEREMONY_SECONDS: i64 = 300;

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

/// A refusal on its way to becoming a JSON response (kept small for `Result`).
struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(r: Response) -> Self {
        Self(Box::new(r))
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        Refusal::from(refuse(
            StatusCode::BAD_REQUEST,
            format!("The request could not be read as a security key answer ({e}). Reload the page and try again."),
        ))
    })
}

fn relying_party(state: &AppState) -> Result<wa::Webauthn, Refusal> {
    let url = url::Url::parse(&state.config.system_url.to_string()).map_err(|_| {
        Refusal::from(refuse(
            StatusCode::BAD_REQUEST,
            wa::Error::UnsuitableSystemUrl.to_string(),
        ))
    })?;
    wa::relying_party(&url)
        .map_err(|e| Refusal::from(refuse(StatusCode::BAD_REQUEST, e.to_string())))
}

fn passkeys(rows: &[db::two_factor::KeyRow]) -> Vec<(String, wa::Passkey)> {
    rows.iter()
        .filter_map(|k| {
            serde_json::from_str(&k.passkey)
                .ok()
                .map(|p| (k.credential_id.clone(), p))
        })
        .collect()
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

fn key_name(typed: &str) -> Result<String, Refusal> {
    let name = typed.trim();
    if name.chars().count() > 64 {
        return Err(Refusal::from(refuse(
            StatusCode::BAD_REQUEST,
            "Give the key a name of at most 64 characters.",
        )));
    }
    Ok(if name.is_empty() {
        "Security key".to_owned()
    } else {
        name.to_owned()
    })
}

/// `POST {security}/webauthn/options`: starts registering a key.
pub async fn post_register_options<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    body: Bytes,
) -> AppResult<Response> {
    let request: NameBody = if body.is_empty() {
        NameBody::default()
    } else {
        match parse(&body) {
            Ok(b) => b,
            Err(r) => return Ok(*r.0),
        }
    };
    if !stepped_up(&state, &signed.session).await? {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            "Confirm it's you first: enter your password or a current code on this page, then add the key.",
        ));
    }
    let name = match key_name(&request.name) {
        Ok(n) => n,
        Err(r) => return Ok(*r.0),
    };
    let rp = match relying_party(&state) {
        Ok(rp) => rp,
        Err(r) => return Ok(*r.0),
    };
    let rows = db::two_factor::keys_list(&state.db, S::REALM.as_str(), signed.subject.id).await?;
    let existing: Vec<wa::Passkey> = passkeys(&rows).into_iter().map(|(_, p)| p).collect();
    let (options, ceremony) = match wa::start_registration(
        &rp,
        wa::user_handle(S::REALM.as_str(), signed.subject.id),
        &signed.subject.login,
        &signed.subject.display_name,
        &existing,
    ) {
        Ok(started) => started,
        Err(e) => return Ok(refuse(StatusCode::BAD_REQUEST, e.to_string())),
    };
    db::two_factor::ceremony_put(
        &state.db,
        &signed.session.id_hash,
        "register",
        &ceremony,
        &name,
        state.clock.unix() + CEREMONY_SECONDS,
    )
    .await?;
    Ok(axum::Json(options).into_response())
}

/// `POST {security}/webauthn`: stores the new key.
pub async fn post_register<S: Side>(
    State(state): State<AppState>,
    signed: Signed<S>,
    Peer(addr): Peer,
    body: Bytes,
) -> AppResult<Response> {
    let request: RegisterBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return Ok(*r.0),
    };
    let now = state.clock.unix();
    let Some((ceremony, stored_name)) =
        db::two_factor::ceremony_take(&state.db, &signed.session.id_hash, "register", now).await?
    else {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            wa::Error::Expired.to_string(),
        ));
    };
    if !stepped_up(&state, &signed.session).await? {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            "Confirm it's you first: enter your password or a current code on this page.",
        ));
    }
    let rp = match relying_party(&state) {
        Ok(rp) => rp,
        Err(r) => return Ok(*r.0),
    };
    let key = match wa::finish_registration(&rp, &ceremony, &request.credential) {
        Ok(k) => k,
        Err(e) => return Ok(refuse(StatusCode::BAD_REQUEST, e.to_string())),
    };
    let name = if request.name.trim().is_empty() {
        stored_name
    } else {
        match key_name(&request.name) {
            Ok(n) => n,
            Err(r) => return Ok(*r.0),
        }
    };
    let id = wa::credential_id_b64(&key);
    let passkey = serde_json::to_string(&key).map_err(|e| anyhow::anyhow!(e))?;
    if let Err(e) = db::two_factor::key_insert(
        &state.db,
        S::REALM.as_str(),
        signed.subject.id,
        &name,
        &id,
        &passkey,
        now,
    )
    .await
    {
        // The unique index on the credential id: the key is registered (here or elsewhere).
        if e.as_database_error()
            .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
        {
            return Ok(refuse(
                StatusCode::CONFLICT,
                wa::Error::AlreadyRegistered.to_string(),
            ));
        }
        return Err(e.into());
    }
    manage::audit(
        &state,
        &manage::actor(S::REALM, signed.subject.id),
        "two_factor.webauthn_added",
        &format!("security key \"{name}\" added"),
        &addr.ip.to_string(),
    )
    .await?;
    Ok(axum::Json(json!({ "redirect": S::SECURITY })).into_response())
}

/// Whether Duo's outage locks this pending sign-in to backup codes.
fn backup_only(state: &AppState, pending: &db::two_factor::PendingRow) -> bool {
    pending.duo_down && state.config.two_factor.duo_outage == DuoOutage::FailClosed
}

/// `POST {login}/2fa/webauthn/options`: starts using a key.
pub async fn post_authenticate_options<S: Side>(
    State(state): State<AppState>,
    pending: PendingSignIn<S>,
) -> AppResult<Response> {
    let pending = pending.row;
    if pending.must_enrol || backup_only(&state, &pending) {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            "Security keys cannot complete this sign-in; use the form on the page.",
        ));
    }
    let rp = match relying_party(&state) {
        Ok(rp) => rp,
        Err(r) => return Ok(*r.0),
    };
    let rows = db::two_factor::keys_list(&state.db, S::REALM.as_str(), pending.subject_id).await?;
    let keys: Vec<wa::Passkey> = passkeys(&rows).into_iter().map(|(_, p)| p).collect();
    let (options, ceremony) = match wa::start_authentication(&rp, &keys) {
        Ok(started) => started,
        Err(e) => return Ok(refuse(StatusCode::BAD_REQUEST, e.to_string())),
    };
    db::two_factor::ceremony_put(
        &state.db,
        &pending.id_hash,
        "authenticate",
        &ceremony,
        "",
        state.clock.unix() + CEREMONY_SECONDS,
    )
    .await?;
    Ok(axum::Json(options).into_response())
}

/// `POST {login}/2fa/webauthn`: verifies the key's answer and completes the sign-in.
pub async fn post_authenticate<S: Side>(
    State(state): State<AppState>,
    pending: PendingSignIn<S>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    body: Bytes,
) -> AppResult<Response> {
    let pending = pending.row;
    let request: AuthenticateBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return Ok(*r.0),
    };
    if pending.must_enrol || backup_only(&state, &pending) {
        return Ok(refuse(
            StatusCode::FORBIDDEN,
            "Security keys cannot complete this sign-in; use the form on the page.",
        ));
    }
    let now = state.clock.unix();
    let Some((ceremony, _)) =
        db::two_factor::ceremony_take(&state.db, &pending.id_hash, "authenticate", now).await?
    else {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            wa::Error::Expired.to_string(),
        ));
    };
    let rp = match relying_party(&state) {
        Ok(rp) => rp,
        Err(r) => return Ok(*r.0),
    };
    let result = match wa::finish_authentication(&rp, &ceremony, &request.credential) {
        Ok(r) => r,
        Err(e) => {
            return Ok(
                match crate::twofactor::pending::fail(&state, &pending).await? {
                    crate::twofactor::pending::Failure::TryAgain(left) => refuse(
                        StatusCode::UNAUTHORIZED,
                        format!("{e} {left} attempts left."),
                    ),
                    crate::twofactor::pending::Failure::Cancelled => (
                        StatusCode::UNAUTHORIZED,
                        crate::web::cookie::clear_pending(&state, S::REALM),
                        axum::Json(json!({
                            "status": 401,
                            "error": "webauthn",
                            "message": "Too many failed attempts: the sign-in was cancelled.",
                            "redirect": format!("{}?twofactor=cancelled", S::LOGIN),
                        })),
                    )
                        .into_response(),
                },
            );
        }
    };
    // Keep the signature counter current, so a cloned key is noticed.
    let used = wa::result_credential_id_b64(&result);
    let rows = db::two_factor::keys_list(&state.db, S::REALM.as_str(), pending.subject_id).await?;
    if let Some((id, mut key)) = passkeys(&rows).into_iter().find(|(id, _)| *id == used) {
        key.update_credential(&result);
        let json = serde_json::to_string(&key).map_err(|e| anyhow::anyhow!(e))?;
        db::two_factor::key_used(&state.db, &id, &json, now).await?;
    }
    let (jar, target) = match super::complete::<S>(&state, &pending, addr, loaded.as_ref()).await? {
        Ok(done) => done,
        Err(restart) => return Ok(restart),
    };
    Ok((jar, axum::Json(json!({ "redirect": target }))).into_response())
}
