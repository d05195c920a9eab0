//! What both realms do after credentials were accepted, and on the sign-in page itself.

use crate::app::AppState;
use crate::session::{self, Realm, SignIn};
use crate::web::cookie;
use crate::web::error::{AppError, AppResult};
use crate::web::middleware::session::{LoadedSession, MARKER_PARAM, SessionState};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

/// The sign-in details of this request: its client address and user agent, and the cookie the
/// browser already had (ended when the new session starts, so the id always rotates).
pub fn for_request<'a>(
    realm: Realm,
    subject_id: i64,
    client_id: Option<i64>,
    addr: crate::web::middleware::client_addr::ClientAddr,
    user_agent: &'a str,
    loaded: Option<&'a LoadedSession>,
) -> SignIn<'a> {
    SignIn {
        realm,
        subject_id,
        client_id,
        ip: addr.ip,
        user_agent,
        remember: false,
        replacing: loaded.and_then(|l| l.cookie.as_deref()),
    }
}

/// Starts a session with a fresh id (the browser's old one is ended), sets the cookie and
/// redirects to `home` with the one-time marker that detects a dropped cookie (F06).
///
/// # Errors
/// A session that cannot be stored is a 503 storage page, never a redirect to the sign-in page.
pub async fn start_session(
    state: &AppState,
    sign_in: SignIn<'_>,
    home: &str,
) -> AppResult<Response> {
    let realm = sign_in.realm;
    let (subject_id, ip) = (sign_in.subject_id, sign_in.ip);
    let started = session::start(state, sign_in)
        .await
        .map_err(|e| AppError::StorageUnavailable(e.to_string()))?;
    tracing::info!(realm = realm.as_str(), subject_id, %ip, "signed in");
    let jar = cookie::set(
        state,
        realm,
        started.cookie_value,
        started.persistent_seconds,
    );
    let target = format!("{home}?{MARKER_PARAM}={}", started.marker);
    Ok((jar, Redirect::to(&target)).into_response())
}

/// The sign-in page's notice about the previous session, and a jar that forgets its cookie.
pub fn previous_session_notice(
    state: &AppState,
    realm: Realm,
    loaded: Option<&LoadedSession>,
) -> (Option<String>, CookieJar) {
    let policy = realm.policy(state);
    match loaded.map(|l| &l.state) {
        Some(SessionState::Ended(reason)) => {
            (Some(reason.message(&policy)), cookie::clear(state, realm))
        }
        Some(SessionState::Unknown) => (None, cookie::clear(state, realm)),
        _ => (None, CookieJar::new()),
    }
}

/// Signs out: ends the live session (reason `logout`) and goes to the sign-in page, keeping the
/// cookie one more request so that page can say "You have signed out."
///
/// # Errors
/// Storage errors.
pub async fn sign_out(
    state: &AppState,
    loaded: Option<&LoadedSession>,
    login_path: &str,
) -> AppResult<Response> {
    if let Some(s) = loaded.and_then(LoadedSession::live) {
        session::end(state, &s.id_hash, session::EndReason::Logout)
            .await
            .map_err(|e| AppError::StorageUnavailable(e.to_string()))?;
    }
    Ok(Redirect::to(login_path).into_response())
}

/// Query of the sign-in pages: `?reset=done` after a password reset.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LoginQuery {
    reset: Option<String>,
}

impl LoginQuery {
    /// The notice the query asks for, if any.
    pub fn notice(&self) -> Option<String> {
        (self.reset.as_deref() == Some("done")).then(|| "Your password was changed and every session was signed out. Sign in with your new password.".to_owned())
    }
}
