//! "Where you are signed in": list a subject's sessions and end any of them (both realms).

use crate::app::AppState;
use crate::session::{EndReason, Session};
use crate::web::error::AppResult;
use crate::web::page::{self, Nav, SessionRowView, SessionsPage};
use axum::response::{IntoResponse, Redirect, Response};

/// The sessions page for the owner of `current`.
///
/// # Errors
/// Storage errors.
pub async fn list(
    state: &AppState,
    current: &Session,
    nav: Nav,
    base: &'static str,
) -> AppResult<Response> {
    let rows = crate::db::session::list_live_for_subject(
        &state.db,
        current.realm.as_str(),
        current.subject_id,
        state.clock.unix(),
    )
    .await?;
    let sessions = rows
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
            created: state.show_time(r.created_at),
            last_seen: state.show_time(r.last_seen_at),
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

/// Ends one of the subject's own sessions (never someone else's).
///
/// # Errors
/// Storage errors.
pub async fn end_one(
    state: &AppState,
    current: &Session,
    target: &str,
    back: &str,
) -> AppResult<Response> {
    let ended = crate::db::session::end_for_subject(
        &state.db,
        current.realm.as_str(),
        current.subject_id,
        target,
        EndReason::Revoked.as_str(),
        state.clock.unix(),
    )
    .await?;
    audit_ended(state, current, u64::from(ended), "one other session").await?;
    Ok(Redirect::to(back).into_response())
}

/// Records that the subject ended their own sessions from the list (the address and user
/// agent are the request's).
async fn audit_ended(
    state: &AppState,
    current: &Session,
    ended: u64,
    which: &str,
) -> Result<(), sqlx::Error> {
    if ended == 0 {
        return Ok(());
    }
    let who = format!("{}:{}", current.realm.as_str(), current.subject_id);
    crate::db::setting::audit_about(
        &state.db,
        state.clock.unix(),
        &who,
        "session.ended",
        &who,
        &format!("revoked: {which} ended from the sessions page ({ended})"),
        "",
    )
    .await
}

/// Ends every other session of the subject.
///
/// # Errors
/// Storage errors.
pub async fn end_others(state: &AppState, current: &Session, back: &str) -> AppResult<Response> {
    let ended = crate::db::session::end_all_for_subject(
        &state.db,
        current.realm.as_str(),
        current.subject_id,
        Some(&current.id_hash),
        EndReason::Revoked.as_str(),
        state.clock.unix(),
    )
    .await?;
    audit_ended(state, current, ended, "every other session").await?;
    Ok(Redirect::to(back).into_response())
}

/// The form that names a session to end.
#[derive(serde::Deserialize)]
pub struct EndForm {
    pub session: String,
}
