//! The "login as client" banner on error pages too. Error pages render without a signed-in bar
//! (they must work without a database), so an admin signed in as a client who is refused a page
//! would lose the banner and its "Return to admin" button exactly where they need it. For such a
//! session only, the session step re-renders the error page with the client's bar and banner.

use crate::app::AppState;
use crate::impersonation::Impersonation;
use crate::session::Session;
use crate::web::error::ErrorInfo;
use crate::web::extract::ActiveAccount;
use crate::web::page::{self, ErrorPage, Nav};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Adds the bar and banner to `response` if it is an error page (not a 503: the database may be
/// the reason for it) of an impersonated client session.
pub async fn on_error_page(state: &AppState, session: &Session, response: Response) -> Response {
    let (Some(admin_id), Some(info)) = (
        session.impersonator(),
        response.extensions().get::<ErrorInfo>().cloned(),
    ) else {
        return response;
    };
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        return response;
    }
    let Some((user, membership)) = session.client_user.as_ref().map(|u| &*u.0) else {
        return response;
    };
    let account = membership.clone().map(ActiveAccount::from);
    let admin = Impersonation::from(state).admin_name(admin_id).await;
    let csrf = crate::csrf::session_token(&state.csrf_key, &session.id_hash);
    let nav = Nav::client(user, csrf, account.as_ref(), Some(&admin));
    let body = page::render(&ErrorPage {
        title: &info.title,
        message: &info.message,
        details: &info.details,
        nav: Some(nav),
    });
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let (_, body) = body.into_response().into_parts();
    Response::from_parts(parts, body)
}
