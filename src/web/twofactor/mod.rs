//! Second-factor pages for both realms: the challenge after a correct password, enrolment
//! under a "required" policy, the security page where people manage their factors, and Duo's
//! redirect round trip.
//!
//! Handlers are generic over a [`Side`] (client area or admin area), so both realms run the
//! same code and differ only in their paths and the account they load. Every check and change
//! is an operation of the [`TwoFactor`] service; these pages map its outcomes to pages,
//! statuses and messages, and start the session once a pending sign-in is done.

pub mod challenge;
pub mod duo;
pub mod enrol;
pub mod pages;
pub mod security;
pub mod webauthn;

use crate::app::AppState;
use crate::session::{Realm, Session};
use crate::twofactor::{PendingRow, Subject, TwoFactor};
use crate::web::cookie::Cookies;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CurrentAdmin, CurrentClient};
use crate::web::invitation::Arrival;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

/// One realm's paths.
pub trait Side: Send + Sync + 'static {
    const REALM: Realm;
    /// The sign-in page; the challenge lives under it (`{LOGIN}/2fa`).
    const LOGIN: &'static str;
    /// Where a completed sign-in lands.
    const HOME: &'static str;
    /// The page where people manage their factors.
    const SECURITY: &'static str;
}

/// The client area.
pub struct ClientSide;
impl Side for ClientSide {
    const REALM: Realm = Realm::Client;
    const LOGIN: &'static str = "/login";
    const HOME: &'static str = "/clientarea";
    const SECURITY: &'static str = "/account/security";
}

/// The admin area.
pub struct AdminSide;
impl Side for AdminSide {
    const REALM: Realm = Realm::Admin;
    const LOGIN: &'static str = "/admin/login";
    const HOME: &'static str = "/admin";
    const SECURITY: &'static str = "/admin/account/security";
}

/// The challenge page's path.
pub fn challenge_path<S: Side>() -> String {
    format!("{}/2fa", S::LOGIN)
}

/// The browser's live pending sign-in for the side; without one, the browser goes back to the
/// sign-in page, which says the second step expired.
pub struct PendingSignIn<S: Side> {
    pub row: PendingRow,
    _side: std::marker::PhantomData<S>,
}

impl<S: Side> FromRequestParts<AppState> for PendingSignIn<S> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let cookies = Cookies::from(state);
        let expired = || {
            (
                cookies.clear_pending(S::REALM),
                Redirect::to(&format!("{}?twofactor=expired", S::LOGIN)),
            )
                .into_response()
        };
        let Some(value) = cookies.read_pending(&parts.headers, S::REALM) else {
            return Err(Redirect::to(S::LOGIN).into_response());
        };
        match TwoFactor::from(state).find_pending(S::REALM, &value).await {
            Ok(Some(row)) => Ok(Self {
                row,
                _side: std::marker::PhantomData,
            }),
            Ok(None) => Err(expired()),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// A signed-in person of the side, with the session.
pub struct Signed<S: Side> {
    pub session: Session,
    pub subject: Subject,
    /// The bar's links for this person.
    pub nav_links: Vec<crate::web::page::NavLink>,
    _side: std::marker::PhantomData<S>,
}

impl<S: Side> FromRequestParts<AppState> for Signed<S> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (session, subject, nav_links) = match S::REALM {
            Realm::Client => {
                let c = CurrentClient::from_request_parts(parts, state).await?;
                // Second factors are the client's own business, never an impersonator's.
                c.not_impersonated().map_err(IntoResponse::into_response)?;
                let subject = Subject::of_user(&c.user);
                let links = crate::web::page::client_links(c.account.as_ref(), false);
                (c.session, subject, links)
            }
            Realm::Admin => {
                let a = CurrentAdmin::from_request_parts(parts, state).await?;
                let subject = Subject::of_admin(&a.admin);
                let links = crate::web::page::admin_links(a.permissions);
                (a.session, subject, links)
            }
        };
        Ok(Self {
            session,
            subject,
            nav_links,
            _side: std::marker::PhantomData,
        })
    }
}

/// Completes a pending sign-in: ends it (once; a second request loses the race and starts
/// over) and starts a session with a fresh id, recording which `factor` completed it (for the
/// OpenID provider's `amr`). Returns the cookies (session set, pending cleared) and the first
/// URL to visit: home, or the authorization request that sent the person to sign in.
///
/// # Errors
/// Storage errors.
pub async fn complete<S: Side>(
    tf: &TwoFactor,
    pending: &PendingRow,
    arrival: &Arrival,
    factor: &'static str,
) -> AppResult<Result<(CookieJar, String), Response>> {
    if !tf.end_pending(pending).await? {
        return Ok(Err(Redirect::to(&format!(
            "{}?twofactor=expired",
            S::LOGIN
        ))
        .into_response()));
    }
    let mut sign_in = crate::web::signin::for_request(
        S::REALM,
        pending.subject_id,
        pending.client_id,
        arrival.addr,
        &pending.user_agent,
        arrival.loaded.as_ref(),
    );
    sign_in.remember = pending.remember;
    sign_in.second_factor = Some(factor);
    let home = arrival.home(S::REALM);
    let (jar, target) =
        crate::web::signin::begin_session(arrival.signins(), arrival.cookies(), sign_in, &home)
            .await?;
    let mut jar = jar;
    for c in arrival.cookies().clear_pending(S::REALM).iter() {
        jar = jar.add(c.clone());
    }
    Ok(Ok((jar, target)))
}
