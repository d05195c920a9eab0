//! `GET /admin/mail`: every queued, sent and failed message with its last server reply (F11).
//! The filters' rules and the read are the [`Mail`] service's.

use crate::mail::{LogQuery, Mail};
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
    State(mail): State<Mail>,
    State(settings): State<crate::settings::Settings>,
    gate: RequirePermission<ViewMailLog>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<MailQuery>,
) -> AppResult<Response> {
    let query = LogQuery::new(&q.state, &q.to);
    let messages = mail
        .log(&query)
        .await?
        .into_iter()
        .map(|m| MailRowView {
            created: settings.show_time(m.created_at),
            to: m.to_addr,
            template: m.template,
            state: m.state,
            next: settings.show_time(m.next_attempt_at),
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
        state: query.state,
        to: query.to,
        messages,
    }))
}
