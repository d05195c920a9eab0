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
        impersonator: None,
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
    let (jar, target) = begin_session(state, sign_in, home).await?;
    Ok((jar, Redirect::to(&target)).into_response())
}

/// Starts a session and returns its cookie and the first URL to visit (with the marker), for
/// callers that show a page before moving on (e.g. fresh backup codes).
///
/// # Errors
/// A session that cannot be stored is a 503 storage page.
pub async fn begin_session(
    state: &AppState,
    sign_in: SignIn<'_>,
    home: &str,
) -> AppResult<(CookieJar, String)> {
    let realm = sign_in.realm;
    let (subject_id, ip) = (sign_in.subject_id, sign_in.ip);
    let user_agent = sign_in.user_agent.to_owned();
    let real = sign_in.impersonator.is_none();
    let started = session::start(state, sign_in)
        .await
        .map_err(AppError::storage)?;
    tracing::info!(realm = realm.as_str(), subject_id, %ip, "signed in");
    if real {
        let actor = format!("{}:{subject_id}", realm.as_str());
        crate::db::audit::insert(
            &state.db,
            state.clock.unix(),
            &crate::db::audit::Entry {
                actor: &actor,
                action: "signin.success",
                subject: &actor,
                detail: "session started",
                ip: &ip.to_string(),
                user_agent: &user_agent,
            },
        )
        .await?;
    }
    let jar = cookie::set(
        state,
        realm,
        started.cookie_value,
        started.persistent_seconds,
    );
    Ok((jar, format!("{home}?{MARKER_PARAM}={}", started.marker)))
}

/// What happens once the password was accepted: a session at once, or, when a second factor is
/// due (or must first be enrolled under a "required" policy), a pending sign-in and the
/// challenge page. `identifier` is what was typed (for the ban rules if the factor fails).
///
/// # Errors
/// Storage errors.
pub async fn after_password(
    state: &AppState,
    sign_in: SignIn<'_>,
    identifier: &str,
    home: &str,
    login: &str,
) -> AppResult<Response> {
    use crate::config::Policy;
    let realm = sign_in.realm;
    let policy = crate::twofactor::policy(state, realm);
    if policy == Policy::Off {
        return start_session(state, sign_in, home).await;
    }
    let enrolled = crate::twofactor::enrolled(state, realm, sign_in.subject_id).await?;
    let must_enrol = !enrolled.any() && policy == Policy::Required;
    if !enrolled.any() && !must_enrol {
        return start_session(state, sign_in, home).await;
    }
    let value = crate::twofactor::pending::start(state, &sign_in, identifier, must_enrol)
        .await
        .map_err(AppError::storage)?;
    let next = if must_enrol {
        format!("{login}/2fa/enrol")
    } else {
        format!("{login}/2fa")
    };
    Ok((
        cookie::set_pending(state, realm, value),
        Redirect::to(&next),
    )
        .into_response())
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
            .map_err(AppError::storage)?;
    }
    Ok(Redirect::to(login_path).into_response())
}

/// Query of the sign-in pages: `?reset=done` after a password reset, `?twofactor=…` after a
/// second step that did not complete.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LoginQuery {
    reset: Option<String>,
    /// `cancelled` after too many wrong second-factor codes, `expired` after a stale one.
    twofactor: Option<String>,
}

impl LoginQuery {
    /// The notice the query asks for, if any.
    pub fn notice(&self) -> Option<String> {
        if self.twofactor.as_deref() == Some("cancelled") {
            return Some("Too many wrong codes: the sign-in was cancelled. Sign in again with your password.".to_owned());
        }
        if self.twofactor.as_deref() == Some("expired") {
            return Some("The second step of your sign-in took longer than 10 minutes, or was already completed. Sign in again.".to_owned());
        }
        (self.reset.as_deref() == Some("done")).then(|| "Your password was changed and every session was signed out. Sign in with your new password.".to_owned())
    }
}

/// A failed password sign-in: counted for the ban rules and written to the audit log with what
/// was typed as the subject (the page itself never says whether the account exists).
pub async fn record_failure(
    state: &AppState,
    realm: crate::session::Realm,
    addr: crate::web::middleware::client_addr::ClientAddr,
    user_agent: &str,
    identifier: &str,
    why: crate::auth::login::Refusal,
) {
    if let Err(e) = crate::ban::record_failure(state, realm, addr.ip, identifier).await {
        tracing::warn!(error = %e, "could not record a failed sign-in");
    }
    let typed: String = identifier.trim().chars().take(254).collect();
    let entry = crate::db::audit::Entry {
        actor: "anonymous",
        action: "signin.failure",
        subject: &typed,
        detail: &format!("{} sign-in: {}", realm.as_str(), why.as_str()),
        ip: &addr.ip.to_string(),
        user_agent,
    };
    if let Err(e) = crate::db::audit::insert(&state.db, state.clock.unix(), &entry).await {
        tracing::warn!(error = %e, "could not audit a failed sign-in");
    }
}
