//! `GET/POST /login`, `POST /logout`: client sign-in and sign-out.

use crate::app::AppState;
use crate::auth::login::{self, LoginError};
use crate::session::Realm;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, Form, Peer, SessionInfo, UserAgent};
use crate::web::page::{self, LoginPage};
use crate::web::signin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;

/// The sign-in form's fields.
#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    remember: Option<String>,
}

fn page(
    state: &AppState,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
    email: String,
) -> LoginPage {
    LoginPage {
        title: "Sign in",
        nav: None,
        admin: false,
        action: "/login",
        notice,
        error,
        identifier: email,
        csrf,
        registration: state.config.registration,
    }
}

/// Shows the form, with why the previous session ended (F02).
pub async fn get_login(
    State(state): State<AppState>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    axum::extract::Query(query): axum::extract::Query<crate::web::signin::LoginQuery>,
) -> Response {
    if loaded.as_ref().and_then(|l| l.live()).is_some() {
        return Redirect::to("/clientarea").into_response();
    }
    let (notice, jar) = signin::previous_session_notice(&state, Realm::Client, loaded.as_ref());
    let notice = query.notice().or(notice);
    (
        jar,
        page::render(&page(&state, csrf, notice, None, String::new())),
    )
        .into_response()
}

/// Checks the credentials and starts a session.
pub async fn post_login(
    State(state): State<AppState>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let password = SecretString::from(form.password);
    match login::client(&state, &form.email, &password).await {
        Ok(user) => {
            let client_id = crate::db::account::find_usable_client(&state.db, user.id).await?;
            let mut sign_in = signin::for_request(
                Realm::Client,
                user.id,
                client_id,
                addr,
                &ua,
                loaded.as_ref(),
            );
            sign_in.remember = form.remember.is_some();
            signin::after_password(&state, sign_in, &form.email, "/clientarea", "/login").await
        }
        Err(refused @ LoginError::InvalidCredentials(why)) => {
            tracing::info!(ip = %addr.ip, "client sign-in failed");
            signin::record_failure(&state, Realm::Client, addr, &ua, &form.email, why).await;
            let body = page(
                &state,
                csrf,
                None,
                Some(refused.to_string()),
                form.email.chars().take(254).collect(),
            );
            Ok((StatusCode::UNAUTHORIZED, page::render(&body)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// Ends the session.
pub async fn post_logout(
    State(state): State<AppState>,
    SessionInfo(loaded): SessionInfo,
) -> AppResult<Response> {
    signin::sign_out(&state, loaded.as_ref(), "/login").await
}
