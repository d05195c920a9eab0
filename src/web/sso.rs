//! Single sign-on links (`crate::sso`): `GET /sso/{token}` shows one button (a link scanner's
//! or preview's fetch uses nothing up, F20), `POST /sso/{token}` spends the token and signs in
//! (or asks for the second factor), and `GET /sso/continue` sends the signed-in person where
//! the link lands. The destination travels in a browser-session cookie across the
//! second-factor step and is checked again as a local path before the redirect.

use crate::session::Realm;
use crate::sso::{Browser, RedeemError, Sso};
use crate::web::cookie::Cookies;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, SessionInfo};
use crate::web::invitation::Arrival;
use crate::web::page::{self, SsoPage};
use crate::web::signin;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

/// Where a sign-in from a link continues, whichever step completes it.
pub const CONTINUE: &str = "/sso/continue";

fn refused(refusal: &crate::sso::Refusal) -> AppError {
    let (title, message) = refusal.words();
    AppError::LinkInvalid {
        title,
        message,
        unknown: matches!(refusal, crate::sso::Refusal::Unknown),
    }
}

/// The link's page: a button when the link can sign in, else which of F20's causes it is.
pub async fn get_link(
    State(sso): State<Sso>,
    CsrfToken(csrf): CsrfToken,
    Path(token): Path<String>,
) -> AppResult<Response> {
    if let Err(refusal) = sso.check(&token).await? {
        return Err(refused(&refusal));
    }
    Ok(page::render(&SsoPage {
        title: "Sign in",
        nav: None,
        action: format!("/sso/{token}"),
        csrf,
        portal: sso.portal().to_owned(),
    }))
}

/// The button: spends the token and signs in.
pub async fn post_link(
    State(sso): State<Sso>,
    arrival: Arrival,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let browser = Browser {
        ip: arrival.addr.ip,
        user_agent: &arrival.user_agent,
        replacing: signin::replacing(arrival.loaded.as_ref()),
    };
    match sso.redeem(&token, browser).await {
        Ok(redeemed) => {
            let cookies = arrival.cookies();
            let landing = CookieJar::new()
                .add(cookies.named(cookies.sso_return_name(), redeemed.destination));
            let next = signin::respond(cookies, Realm::Client, redeemed.decision, CONTINUE);
            Ok((landing, next).into_response())
        }
        Err(RedeemError::Refused(refusal)) => Err(refused(&refusal)),
        Err(RedeemError::SignIn(e)) => Err(signin::app_error(e)),
        Err(RedeemError::Storage(e)) => Err(e.into()),
    }
}

/// Where the link lands, once signed in; the cookie goes.
pub async fn get_continue(
    State(cookies): State<Cookies>,
    SessionInfo(loaded): SessionInfo,
    headers: HeaderMap,
) -> Response {
    let name = cookies.sso_return_name();
    let landing = cookies.read_named(&headers, name);
    let jar = CookieJar::new().add(cookies.removal(name));
    let signed_in = loaded.as_ref().and_then(|l| l.live()).is_some();
    let target = match landing {
        Some(path) if signed_in && crate::sso::local_path(&path) => path,
        _ if signed_in => signin::home(Realm::Client).to_owned(),
        _ => signin::login_path(Realm::Client).to_owned(),
    };
    (jar, Redirect::to(&target)).into_response()
}
