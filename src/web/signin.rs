//! The web side of signing in, for both realms: the sign-in page, what a [`Decision`] becomes
//! (a session cookie and a redirect with the one-time marker, or the pending sign-in's cookie
//! and the second-factor page), the one rendering of a refused password, and sign-out.
//!
//! The decisions themselves (credentials, ban counting, the active account, whether a second
//! factor is due, the audit entries) are `crate::signin`'s; ending a session is `crate::session`'s.

use crate::account::Accounts;
use crate::auth::login::LoginError;
use crate::session::{EndReason, Realm, Sessions, SignIn, Started, Which};
use crate::signin::{Attempt, Decision, SignInError, SignIns};
use crate::web::cookie::Cookies;
use crate::web::error::{AppError, AppResult};
use crate::web::middleware::session::{LoadedSession, MARKER_PARAM, SessionState};
use crate::web::page::{self, LoginPage};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

/// The realm's first page after signing in.
pub fn home(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/clientarea",
        Realm::Admin => "/admin",
    }
}

/// The realm's sign-in page.
pub fn login_path(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/login",
        Realm::Admin => "/admin/login",
    }
}

/// The realm's sign-in page, with a notice (why the last session ended), an error (a refused
/// password) and what was typed to name the account.
pub fn login_page(
    accounts: &Accounts,
    realm: Realm,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
    identifier: &str,
) -> LoginPage {
    let (title, registration, shown) = match realm {
        Realm::Client => ("Sign in", accounts.registration_open(), 254),
        Realm::Admin => ("Admin sign in", false, 64),
    };
    LoginPage {
        title,
        nav: None,
        admin: realm == Realm::Admin,
        action: login_path(realm),
        notice,
        error,
        identifier: identifier.chars().take(shown).collect(),
        csrf,
        registration,
        remember: realm == Realm::Client && accounts.remember_offered(),
    }
}

/// `GET` of either sign-in page: a live session goes home; otherwise the form, with why the
/// previous session ended (F02) or what the query reports.
pub fn get_login(
    cookies: &Cookies,
    sessions: &Sessions,
    accounts: &Accounts,
    realm: Realm,
    loaded: Option<&LoadedSession>,
    csrf: String,
    query: &LoginQuery,
) -> Response {
    // An application asking for a fresh sign-in (OpenID `prompt=login`, `max_age`) shows the
    // form to someone signed in; signing in again replaces their session.
    if loaded.and_then(LoadedSession::live).is_some() && !query.again() {
        return Redirect::to(home(realm)).into_response();
    }
    let (notice, jar) = previous_session_notice(cookies, sessions, realm, loaded);
    let notice = query.notice().or(notice);
    let hint = query.login_hint.as_deref().unwrap_or("");
    let body = login_page(accounts, realm, csrf, notice, None, hint);
    (jar, page::render(&body)).into_response()
}

/// `POST` of either sign-in page: the attempt goes to the sign-in service; its decision becomes
/// cookies and a redirect, a refusal the one 401 form both realms show.
///
/// # Errors
/// A busy hasher, storage errors (a session that cannot be stored is the 503 storage page).
pub async fn post_login(
    cookies: &Cookies,
    signins: &SignIns,
    accounts: &Accounts,
    attempt: Attempt<'_>,
    csrf: String,
    home: &str,
) -> AppResult<Response> {
    let realm = attempt.realm;
    let typed = attempt.identifier.to_owned();
    match signins.with_password(attempt).await {
        Ok(decision) => Ok(respond(cookies, realm, decision, home)),
        Err(SignInError::Password(refused @ LoginError::InvalidCredentials(_))) => {
            let body = login_page(
                accounts,
                realm,
                csrf,
                None,
                Some(refused.to_string()),
                &typed,
            );
            Ok((StatusCode::UNAUTHORIZED, page::render(&body)).into_response())
        }
        Err(SignInError::CommonPassword(message)) => {
            let body = login_page(accounts, realm, csrf, None, Some(message), &typed);
            Ok((StatusCode::FORBIDDEN, page::render(&body)).into_response())
        }
        Err(SignInError::Delayed(delayed)) => {
            let message = delayed.message.clone();
            let body = login_page(accounts, realm, csrf, None, Some(message), &typed);
            Ok(too_many(&delayed, page::render(&body)))
        }
        Err(other) => Err(app_error(other)),
    }
}

/// A 429 with `Retry-After` for an attempt refused while its account's delay runs
/// (`crate::throttle`), around the page (or JSON) that says until when.
pub fn too_many(delayed: &crate::throttle::Delayed, body: impl IntoResponse) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, delayed.seconds.to_string())],
        body,
    )
        .into_response()
}

/// The browser's old session cookie, ended when a new session starts (the id always rotates).
pub fn replacing(loaded: Option<&LoadedSession>) -> Option<&str> {
    loaded.and_then(|l| l.cookie.as_deref())
}

/// What a sign-in decision sends the browser: the session cookie and `home` (with the marker),
/// or the pending sign-in's cookie and the second-factor (or enrolment) page.
pub fn respond(cookies: &Cookies, realm: Realm, decision: Decision, home: &str) -> Response {
    match decision {
        Decision::Session(started) => {
            let (jar, target) = session_cookie(cookies, realm, *started, home);
            (jar, Redirect::to(&target)).into_response()
        }
        Decision::SecondFactor {
            pending,
            must_enrol,
        } => {
            let login = login_path(realm);
            let next = if must_enrol {
                format!("{login}/2fa/enrol")
            } else {
                format!("{login}/2fa")
            };
            (cookies.set_pending(realm, pending), Redirect::to(&next)).into_response()
        }
    }
}

/// The cookie of a started session and the first URL to visit, with the one-time marker that
/// detects a dropped cookie (F06).
pub fn session_cookie(
    cookies: &Cookies,
    realm: Realm,
    started: Started,
    home: &str,
) -> (CookieJar, String) {
    let jar = cookies.set(realm, started.cookie_value, started.persistent_seconds);
    (jar, format!("{home}?{MARKER_PARAM}={}", started.marker))
}

/// The page for a sign-in error other than a refused password.
pub fn app_error(e: SignInError) -> AppError {
    match e {
        SignInError::Password(e) => e.into(),
        SignInError::Delayed(d) => AppError::BadRequest(d.message),
        SignInError::CommonPassword(m) => AppError::BadRequest(m),
        SignInError::NotStored(e) => AppError::storage(e),
        SignInError::Storage(e) => e.into(),
    }
}

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
        replacing: replacing(loaded),
        second_factor: None,
    }
}

/// Starts a session with a fresh id (the browser's old one is ended), sets the cookie and
/// redirects to `home` with the one-time marker that detects a dropped cookie (F06).
///
/// # Errors
/// A session that cannot be stored is a 503 storage page, never a redirect to the sign-in page.
pub async fn start_session(
    signins: &SignIns,
    cookies: &Cookies,
    sign_in: SignIn<'_>,
    home: &str,
) -> AppResult<Response> {
    let (jar, target) = begin_session(signins, cookies, sign_in, home).await?;
    Ok((jar, Redirect::to(&target)).into_response())
}

/// Starts a session (recorded by the sign-in service) and returns its cookie and the first URL
/// to visit (with the marker), for callers that show a page before moving on (e.g. fresh
/// backup codes).
///
/// # Errors
/// A session that cannot be stored is a 503 storage page.
pub async fn begin_session(
    signins: &SignIns,
    cookies: &Cookies,
    sign_in: SignIn<'_>,
    home: &str,
) -> AppResult<(CookieJar, String)> {
    let realm = sign_in.realm;
    let started = signins.begin(sign_in).await.map_err(app_error)?;
    Ok(session_cookie(cookies, realm, started, home))
}

/// The sign-in page's notice about the previous session, and a jar that forgets its cookie.
pub fn previous_session_notice(
    cookies: &Cookies,
    sessions: &Sessions,
    realm: Realm,
    loaded: Option<&LoadedSession>,
) -> (Option<String>, CookieJar) {
    let policy = sessions.policy(realm);
    match loaded.map(|l| &l.state) {
        Some(SessionState::Ended(reason)) => (Some(reason.message(&policy)), cookies.clear(realm)),
        Some(SessionState::Unknown) => (None, cookies.clear(realm)),
        _ => (None, CookieJar::new()),
    }
}

/// Signs out: ends the live session (reason `logout`) and goes to the sign-in page, keeping the
/// cookie one more request so that page can say "You have signed out."
///
/// # Errors
/// Storage errors.
pub async fn sign_out(
    sessions: &Sessions,
    loaded: Option<&LoadedSession>,
    realm: Realm,
) -> AppResult<Response> {
    if let Some(s) = loaded.and_then(LoadedSession::live) {
        sessions
            .end(Which::This(s), EndReason::Logout)
            .await
            .map_err(AppError::storage)?;
    }
    Ok(Redirect::to(login_path(realm)).into_response())
}

/// Query of the sign-in pages: `?reset=done` after a password reset, `?twofactor=…` after a
/// second step that did not complete.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LoginQuery {
    reset: Option<String>,
    /// `cancelled` after too many wrong second-factor codes, `expired` after a stale one.
    twofactor: Option<String>,
    /// Sent here by an OpenID application: `signin`, or `again` for a fresh sign-in.
    oidc: Option<String>,
    /// The application's guess of who signs in (OpenID `login_hint`), typed in for them.
    login_hint: Option<String>,
}

impl LoginQuery {
    /// Whether an application asked for a fresh sign-in.
    fn again(&self) -> bool {
        self.oidc.as_deref() == Some("again")
    }

    /// The notice the query asks for, if any.
    pub fn notice(&self) -> Option<String> {
        if self.again() {
            return Some(
                "The application that sent you here asks you to sign in again.".to_owned(),
            );
        }
        if self.oidc.is_some() {
            return Some("An application asks you to sign in with your portal account. Sign in to continue to it.".to_owned());
        }
        if self.twofactor.as_deref() == Some("cancelled") {
            return Some("Too many wrong codes: the sign-in was cancelled. Sign in again with your password.".to_owned());
        }
        if self.twofactor.as_deref() == Some("expired") {
            return Some("The second step of your sign-in took longer than 10 minutes, or was already completed. Sign in again.".to_owned());
        }
        (self.reset.as_deref() == Some("done")).then(|| "Your password was changed and every session was signed out. Sign in with your new password.".to_owned())
    }
}
