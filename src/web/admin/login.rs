//! `GET/POST /admin/login`, `POST /admin/logout`: admin sign-in and sign-out.

use crate::account::Accounts;
use crate::session::{Realm, Sessions};
use crate::signin::Attempt;
use crate::web::cookie::Cookies;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, Form, SessionInfo};
use crate::web::invitation::Arrival;
use crate::web::signin::{self, LoginQuery};
use axum::extract::{Query, State};
use axum::response::Response;
use secrecy::SecretString;

/// The admin sign-in form's fields.
#[derive(serde::Deserialize)]
pub struct AdminLoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Shows the form, with why the previous session ended.
pub async fn get_login(
    State(cookies): State<Cookies>,
    State(sessions): State<Sessions>,
    State(accounts): State<Accounts>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Response {
    signin::get_login(
        &cookies,
        &sessions,
        &accounts,
        Realm::Admin,
        loaded.as_ref(),
        csrf,
        &query,
    )
}

/// Checks the credentials and starts a session (or the second step).
pub async fn post_login(
    State(accounts): State<Accounts>,
    arrival: Arrival,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AdminLoginForm>,
) -> AppResult<Response> {
    let attempt = Attempt {
        realm: Realm::Admin,
        identifier: &form.username,
        password: SecretString::from(form.password),
        remember: false,
        ip: arrival.addr.ip,
        user_agent: &arrival.user_agent,
        replacing: signin::replacing(arrival.loaded.as_ref()),
    };
    let (cookies, signins) = (arrival.cookies(), arrival.signins());
    let home = arrival.home(Realm::Admin);
    signin::post_login(cookies, signins, &accounts, attempt, csrf, &home).await
}

/// Ends the session.
pub async fn post_logout(
    State(sessions): State<Sessions>,
    SessionInfo(loaded): SessionInfo,
) -> AppResult<Response> {
    signin::sign_out(&sessions, loaded.as_ref(), Realm::Admin).await
}
