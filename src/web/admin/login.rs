//! `GET/POST /admin/login`, `POST /admin/logout`: admin sign-in and sign-out.

use crate::app::AppState;
use crate::session::{Realm, Sessions};
use crate::signin::{Attempt, SignIns};
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, Form, Peer, SessionInfo, UserAgent};
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
    State(state): State<AppState>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Response {
    signin::get_login(&state, Realm::Admin, loaded.as_ref(), csrf, &query)
}

/// Checks the credentials and starts a session (or the second step).
pub async fn post_login(
    State(state): State<AppState>,
    State(signins): State<SignIns>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AdminLoginForm>,
) -> AppResult<Response> {
    let attempt = Attempt {
        realm: Realm::Admin,
        identifier: &form.username,
        password: SecretString::from(form.password),
        remember: false,
        ip: addr.ip,
        user_agent: &ua,
        replacing: signin::replacing(loaded.as_ref()),
    };
    signin::post_login(&state, &signins, attempt, csrf).await
}

/// Ends the session.
pub async fn post_logout(
    State(sessions): State<Sessions>,
    SessionInfo(loaded): SessionInfo,
) -> AppResult<Response> {
    signin::sign_out(&sessions, loaded.as_ref(), Realm::Admin).await
}
