//! Queueing mail: the internal API every part of Portcullis (and of a portal built on it) uses.
//!
//! ```no_run
//! # async fn example(state: &portcullis::app::AppState) -> Result<(), sqlx::Error> {
//! // Queue a generic message (e.g. an order confirmation); the sender delivers it with retries.
//! portcullis::mail::queue::send_generic(state, "ada@example.com", "Your order #42", "Thank you for your order.\n\nWe will email you when it ships.").await?;
//! # Ok(()) }
//! ```
//!
//! Code that causes a message as part of a larger change calls [`enqueue`] with its own
//! transaction, so the message is queued if and only if the change commits.

use super::template::{Generic, Rendered};
use crate::app::AppState;
use crate::db::Db;
use sqlx::Executor;

/// Queues a rendered message for `to`.
///
/// # Errors
/// Storage errors.
pub async fn enqueue<'e>(
    ex: impl Executor<'e, Database = Db>,
    to: &str,
    rendered: &Rendered,
    now: i64,
) -> Result<i64, sqlx::Error> {
    crate::db::mail::enqueue(
        ex,
        to,
        rendered.template,
        &rendered.subject,
        &rendered.text,
        &rendered.html,
        now,
    )
    .await
}

/// Queues a generic message (subject and plain-text body; paragraphs separated by blank lines).
///
/// # Errors
/// Storage errors, or a template error turned into one.
pub async fn send_generic(
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<i64, sqlx::Error> {
    let rendered = Generic {
        subject: subject.to_owned(),
        body: body.to_owned(),
    }
    .render()
    .map_err(|e| sqlx::Error::Protocol(format!("email template: {e}")))?;
    enqueue(&state.db, to, &rendered, state.clock.unix()).await
}
