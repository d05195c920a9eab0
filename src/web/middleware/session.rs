//! Step 4: load the session of the realm the path belongs to (`/admin...` or the client area).
//!
//! The result goes into the request as [`LoadedSession`] for the CSRF step and the extractors.
//! A storage failure is answered here with a 503 page (F06): it must never look like "signed
//! out" and send the browser back to the sign-in page in a loop. The one-time sign-in marker is
//! also checked here: a request that carries a marker whose session is live, but no session
//! cookie, means the browser dropped the cookie, and gets the page explaining that.

use super::client_addr::ClientAddr;
use crate::app::AppState;
use crate::session::{EndReason, Lookup, Marker, Realm, Session, Sessions};
use crate::web::cookie::Cookies;
use crate::web::error::AppError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Query parameter carrying the one-time sign-in marker.
pub const MARKER_PARAM: &str = "signed_in";
/// Counter name for cookie-loss events (defined with the sessions that count them).
pub use crate::session::COOKIE_LOSS_COUNTER;

/// The session state of this request's realm.
#[derive(Debug, Clone)]
pub struct LoadedSession {
    pub realm: Realm,
    /// The raw cookie value (to replace at sign-in and clear at sign-out).
    pub cookie: Option<String>,
    pub state: SessionState,
}

/// What the cookie led to.
#[derive(Debug, Clone)]
pub enum SessionState {
    /// No cookie.
    None,
    Live(Session),
    Ended(EndReason),
    /// A cookie we do not know (garbage, forged, or long gone).
    Unknown,
}

impl LoadedSession {
    /// The live session, if any.
    pub fn live(&self) -> Option<&Session> {
        match &self.state {
            SessionState::Live(s) => Some(s),
            _ => None,
        }
    }
}

/// The realm a path belongs to.
pub fn realm_of(path: &str) -> Realm {
    if path == "/admin" || path.starts_with("/admin/") {
        Realm::Admin
    } else {
        Realm::Client
    }
}

fn marker(request: &Request) -> Option<String> {
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == MARKER_PARAM)
        .map(|(_, v)| v.into_owned())
        .filter(|v| crate::token::looks_valid(v))
}

/// Loads the session and checks the sign-in marker. After a state-changing request (of any
/// path: pages, the API, the protocol endpoints) this node reads the session change log before
/// answering, so what the request changed holds for the next one (`session::cache`).
pub async fn load(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes =
        !request.method().is_safe() || crate::web::routes::get_changes_state(request.uri().path());
    let response = load_session(&state, request, next).await;
    if writes {
        // A failure is logged there and leaves memory untrusted: the next request reads the
        // database.
        let _ = state.session_cache.catch_up(&state.db).await;
    }
    response
}

async fn load_session(state: &AppState, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/healthz"
        || path.starts_with("/static/")
        || crate::web::api::is_api(path)
        || crate::web::oidc::is_machine(path)
        || crate::web::forward_auth::is_endpoint(path)
    {
        return next.run(request).await;
    }
    let realm = realm_of(path);
    let ip = request
        .extensions()
        .get::<ClientAddr>()
        .map_or([0, 0, 0, 0].into(), |a| a.ip);
    let value = Cookies::from(state).read(request.headers(), realm);
    let sessions = Sessions::from(state);
    let lookup = match &value {
        Some(v) => sessions.load(realm, v, ip).await.map(Some),
        None => Ok(None),
    };
    let session_state = match lookup {
        Ok(None) => SessionState::None,
        Ok(Some(Lookup::Live(s))) => SessionState::Live(s),
        Ok(Some(Lookup::Ended(r))) => SessionState::Ended(r),
        Ok(Some(Lookup::Unknown)) => SessionState::Unknown,
        Err(e) => return AppError::storage(e).into_response(),
    };
    if let Some(marker) = marker(&request) {
        let result = check_marker(state, &sessions, &session_state, &marker, path).await;
        if let Err(e) = result {
            return e.into_response();
        }
    }
    let impersonated = match &session_state {
        SessionState::Live(s) if s.impersonator_admin_id.is_some() => Some(s.clone()),
        _ => None,
    };
    request.extensions_mut().insert(LoadedSession {
        realm,
        cookie: value,
        state: session_state,
    });
    let response = next.run(request).await;
    match impersonated {
        Some(s) => super::banner::on_error_page(state, &s, response).await,
        None => response,
    }
}

/// The marker's verdict as a response: the page explaining a dropped cookie, or nothing.
async fn check_marker(
    state: &AppState,
    sessions: &Sessions,
    session_state: &SessionState,
    marker: &str,
    path: &str,
) -> Result<(), AppError> {
    let live = match session_state {
        SessionState::Live(s) => Some(s),
        _ => None,
    };
    match sessions
        .check_marker(live, marker, path)
        .await
        .map_err(AppError::storage)?
    {
        Marker::Fine => Ok(()),
        Marker::CookieLost => {
            let https = state.config.system_url.is_https();
            Err(AppError::CookieLoss {
                https_system_url: https,
                secure_cookie: https,
            })
        }
    }
}
