//! `GET/POST /admin/login`, `POST /admin/logout`: admin sign-in and sign-out.

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

/// The admin sign-in form's fields.
#[derive(serde::Deserialize)]
pub struct AdminLoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn page(
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
    username: String,
) -> LoginPage {
    LoginPage {
        title: "Admin sign in",
        nav: None,
        admin: true,
        action: "/admin/login",
        notice,
        error,
        identifier: username,
        csrf,
        registration: false,
    }
}

/// Shows the form, with why the previous session ended.
pub async fn get_login(
    State(state): State<AppState>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    axum::extract::Query(query): axum::extract::Query<crate::web::signin::LoginQuery>,
) -> Response {
    if loaded.as_ref().and_then(|l| l.live()).is_some() {
        return Redirect::to("/admin").into_response();
    }
    let (notice, jar) = signin::previous_session_notice(&state, Realm::Admin, loaded.as_ref());
    let notice = query.notice().or(notice);
    (jar, page::render(&page(csrf, notice, None, String::new()))).into_response()
}

/// Checks the credentials and starts a session.
pub async fn post_login(
    State(state): State<AppState>,
    SessionInfo(loaded): SessionInfo,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<AdminLoginForm>,
) -> AppResult<Response> {
    let password = SecretString::from(form.password);
    match login::admin(&state, &form.username, &password).await {
        Ok(admin) => {
            let sign_in =
                signin::for_request(Realm::Admin, admin.id, None, addr, &ua, loaded.as_ref());
            signin::after_password(&state, sign_in, &form.username, "/admin", "/admin/login").await
        }
        Err(refused @ LoginError::InvalidCredentials(why)) => {
            tracing::warn!(ip = %addr.ip, "admin sign-in failed");
            signin::record_failure(&state, Realm::Admin, addr, &ua, &form.username, why).await;
            let body = page(
                csrf,
                None,
                Some(refused.to_string()),
                form.username.chars().take(64).collect(),
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
    signin::sign_out(&state, loaded.as_ref(), "/admin/login").await
}
