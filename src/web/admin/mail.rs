//! `GET /admin/mail`: every queued, sent and failed message with its last server reply (F11).

use crate::app::AppState;
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, RequirePermission, ViewMailLog};
use crate::web::page::{self, MailLogPage, MailRowView};
use axum::extract::{Query, State};
use axum::response::Response;

/// Filters.
#[derive(serde::Deserialize, Default)]
pub struct MailQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    to: String,
}

/// The newest 200 messages matching the filters.
pub async fn get_mail(
    State(state): State<AppState>,
    gate: RequirePermission<ViewMailLog>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<MailQuery>,
) -> AppResult<Response> {
    let filter_state = if matches!(q.state.as_str(), "queued" | "sent" | "failed") {
        q.state.clone()
    } else {
        String::new()
    };
    let to: String = q.to.chars().take(254).collect();
    let messages = crate::db::mail::log(&state.db, &filter_state, &to, 200)
        .await?
        .into_iter()
        .map(|m| MailRowView {
            created: state.show_time(m.created_at),
            to: m.to_addr,
            template: m.template,
            state: m.state,
            next: state.show_time(m.next_attempt_at),
            attempts: m.attempts,
            reply: m.last_reply,
        })
        .collect();
    Ok(page::render(&MailLogPage {
        title: "Mail log",
        nav: Some(super::nav(&gate.current, csrf)),
        states: vec![
            ("", "All"),
            ("queued", "Waiting"),
            ("sent", "Sent"),
            ("failed", "Failed"),
        ],
        state: filter_state,
        to,
        messages,
    }))
}
