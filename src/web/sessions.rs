//! "Where you are signed in": list a person's sessions and end any of them (both realms). The
//! ending and its audit entry are `Sessions::end`'s.

use crate::session::{EndReason, Session, Sessions, Which};
use crate::settings::Settings;
use crate::web::error::AppResult;
use crate::web::page::{self, Nav, SessionRowView, SessionsPage};
use axum::response::{IntoResponse, Redirect, Response};

/// The sessions page for the owner of `current`.
///
/// # Errors
/// Storage errors.
pub async fn list(
    settings: &Settings,
    sessions: &Sessions,
    current: &Session,
    nav: Nav,
    base: &'static str,
) -> AppResult<Response> {
    let sessions = sessions
        .list(current)
        .await?
        .into_iter()
        .map(|r| SessionRowView {
            current: r.id_hash == current.id_hash,
            id: r.id_hash,
            ip: r.ip,
            user_agent: if r.user_agent.is_empty() {
                "Unknown device".into()
            } else {
                r.user_agent
            },
            created: settings.show_time(r.created_at),
            last_seen: settings.show_time(r.last_seen_at),
        })
        .collect();
    let csrf = nav.csrf.clone();
    Ok(page::render(&SessionsPage {
        title: "Your sessions",
        nav: Some(nav),
        notice: None,
        base,
        csrf,
        sessions,
    }))
}

/// Ends one of the person's own sessions (never someone else's).
///
/// # Errors
/// Storage errors.
pub async fn end_one(
    sessions: &Sessions,
    current: &Session,
    target: &str,
    back: &str,
) -> AppResult<Response> {
    let which = Which::OneOf {
        owner: current,
        target,
    };
    sessions.end(which, EndReason::Revoked).await?;
    Ok(Redirect::to(back).into_response())
}

/// Ends every other session of the person.
///
/// # Errors
/// Storage errors.
pub async fn end_others(sessions: &Sessions, current: &Session, back: &str) -> AppResult<Response> {
    sessions
        .end(Which::OthersOf(current), EndReason::Revoked)
        .await?;
    Ok(Redirect::to(back).into_response())
}

/// The form that names a session to end.
#[derive(serde::Deserialize)]
pub struct EndForm {
    pub session: String,
}
