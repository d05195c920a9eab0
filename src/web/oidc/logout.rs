//! `GET`/`POST /oidc/logout` (RP-Initiated Logout 1.0, the discovery document's
//! `end_session_endpoint`) and its confirmation form. The rules (which return address is
//! allowed, when the session may end without asking) are `oidc::logout`'s.

use crate::oidc::authorize::Params;
use crate::oidc::grant::pairs;
use crate::oidc::logout::{LogoutError, Logouts};
use crate::session::{EndReason, Realm, Sessions, Which};
use crate::web::error::AppError;
use crate::web::extract::{CsrfToken, Form, SessionInfo};
use crate::web::middleware::security_headers::FormTargets;
use crate::web::middleware::session::{LoadedSession, realm_of};
use crate::web::page::{self, ErrorPage};
use crate::web::twofactor::{Side, Signed};
use axum::Extension;
use axum::extract::{FromRef, OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// The end-session endpoint of a realm.
pub fn logout_path(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/oidc/logout",
        Realm::Admin => "/admin/oidc/logout",
    }
}

/// What the handlers need.
pub struct Endpoint {
    logouts: Logouts,
    sessions: Sessions,
}

impl FromRef<crate::app::AppState> for Endpoint {
    fn from_ref(state: &crate::app::AppState) -> Self {
        Self {
            logouts: Logouts::from(state),
            sessions: Sessions::from(state),
        }
    }
}

/// `GET /oidc/logout`.
pub async fn get_logout(
    State(endpoint): State<Endpoint>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let realm = realm_of(uri.path());
    let query = uri.query().unwrap_or("").to_owned();
    endpoint
        .answer(realm, &query, loaded.as_ref(), csrf, false)
        .await
}

/// `POST /oidc/logout`: the application's page may post the request (cross-site, no CSRF
/// token); it is answered as the `GET` is.
pub async fn post_logout(
    State(endpoint): State<Endpoint>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    OriginalUri(uri): OriginalUri,
    body: String,
) -> Response {
    let realm = realm_of(uri.path());
    endpoint
        .answer(realm, &body, loaded.as_ref(), csrf, false)
        .await
}

/// The confirmation form: the request's own parameters again, and the CSRF token.
#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    post_logout_redirect_uri: String,
    #[serde(default)]
    state: String,
}

/// `POST /oidc/logout/confirm`: the person said yes.
pub async fn post_confirm<S: Side>(
    State(endpoint): State<Endpoint>,
    SessionInfo(loaded): SessionInfo,
    _signed: Signed<S>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ConfirmForm>,
) -> Response {
    // The serializer is not Send: it must not live across the await.
    let query = {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("client_id", &form.client_id),
            ("post_logout_redirect_uri", &form.post_logout_redirect_uri),
            ("state", &form.state),
        ] {
            if !v.is_empty() {
                query.append_pair(k, v);
            }
        }
        query.finish()
    };
    endpoint
        .answer(S::REALM, &query, loaded.as_ref(), csrf, true)
        .await
}

impl Endpoint {
    async fn answer(
        &self,
        realm: Realm,
        query: &str,
        loaded: Option<&LoadedSession>,
        csrf: String,
        confirmed: bool,
    ) -> Response {
        let pairs = pairs(query);
        let request = match self.logouts.request(&Params::new(&pairs)).await {
            Ok(r) => r,
            Err(LogoutError::Refused(message)) => {
                let body = ErrorPage {
                    title: "This sign-out link cannot be used",
                    message: &message,
                    details: &[],
                    nav: None,
                };
                return (StatusCode::BAD_REQUEST, page::render(&body)).into_response();
            }
            Err(LogoutError::Storage(e)) => return AppError::storage(e).into_response(),
            Err(LogoutError::Key(e)) => return AppError::Unexpected(e.into()).into_response(),
        };
        if let Some(other) = request.realm.filter(|r| *r != realm) {
            return Redirect::to(&format!("{}?{query}", logout_path(other))).into_response();
        }
        let done = || match &request.return_to {
            Some(to) => Redirect::to(to).into_response(),
            None => Redirect::to(crate::web::signin::login_path(realm)).into_response(),
        };
        let Some(session) = loaded.and_then(LoadedSession::live) else {
            return done();
        };
        if confirmed || request.hint_is_for(session) {
            if let Err(e) = self
                .sessions
                .end(Which::This(session), EndReason::Logout)
                .await
            {
                return AppError::storage(e).into_response();
            }
            return done();
        }
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let client_id = request
            .application
            .as_ref()
            .map(|a| a.client_id.clone())
            .unwrap_or_default();
        let body = page::OidcLogoutPage {
            title: "Sign out?",
            nav: None,
            application: request.application.as_ref().map(|a| a.name.clone()),
            action: match realm {
                Realm::Client => "/oidc/logout/confirm",
                Realm::Admin => "/admin/oidc/logout/confirm",
            },
            client_id,
            post_logout_redirect_uri: field("post_logout_redirect_uri"),
            state: field("state"),
            csrf,
        };
        // Confirming is answered by a redirect to the registered post-logout URI.
        let targets = FormTargets::of(request.return_to.as_deref());
        (Extension(targets), page::render(&body)).into_response()
    }
}
