//! Queueing mail: the internal API every part of Portcullis (and of a portal built on it) uses,
//! and the rest of the [`Mail`] service (the log's read, the CLI's test message).
//!
//! ```no_run
//! # async fn example(state: &portcullis::app::AppState) -> Result<(), portcullis::mail::QueueError> {
//! // Queue a generic message (e.g. an order confirmation); the sender delivers it with retries.
//! let mail = portcullis::mail::Mail::from(state);
//! mail.send_generic("ada@example.com", "Your order #42", "Thank you for your order.\n\nWe will email you when it ships.").await?;
//! # Ok(()) }
//! ```
//!
//! Code that causes a message as part of a larger change calls [`enqueue`] with its own
//! transaction, so the message is queued if and only if the change commits.

use super::template::{Generic, Rendered};
use super::{LogRow, Mail, Reply, SendFailure};
use crate::app::AppState;
use crate::db::Db;
use sqlx::Executor;

/// Why a message was not queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The template did not render (a template bug, never the caller's text).
    #[error("email template: {0}")]
    Template(String),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Why the test message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("email template: {0}")]
    Template(String),
    /// The transport refused it; the server's reply when there was one.
    #[error("not delivered: {}{}", .0.code.map(|c| format!("{c} ")).unwrap_or_default(), .0.text)]
    NotDelivered(SendFailure),
}

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

/// Queues a generic message ([`Mail::send_generic`]), for the tests and benchmarks, which hold
/// the application state and expect storage errors.
///
/// # Errors
/// [`QueueError::Template`] when the template does not render, storage errors.
pub async fn send_generic(
    state: &AppState,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<i64, QueueError> {
    Mail::from(state).send_generic(to, subject, body).await
}

/// The mail log's filters: a state (`queued`, `sent`, `failed`; anything else is every state)
/// and part of a recipient's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    pub state: String,
    pub to: String,
}

impl LogQuery {
    /// The filters as typed, reduced to what the log searches: an unknown state is none, the
    /// address is cut at 254 characters.
    pub fn new(state: &str, to: &str) -> Self {
        Self {
            state: if matches!(state, "queued" | "sent" | "failed") {
                state.to_owned()
            } else {
                String::new()
            },
            to: to.chars().take(254).collect(),
        }
    }
}

impl Mail {
    /// Queues a rendered message for `to` now.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn queue(&self, to: &str, rendered: &Rendered) -> Result<i64, sqlx::Error> {
        enqueue(&self.db, to, rendered, self.clock.unix()).await
    }

    /// Queues a generic message (subject and plain-text body; paragraphs separated by blank
    /// lines).
    ///
    /// # Errors
    /// Storage errors, or the template did not render.
    pub async fn send_generic(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<i64, QueueError> {
        let rendered = Generic {
            subject: subject.to_owned(),
            body: body.to_owned(),
        }
        .render()
        .map_err(|e| QueueError::Template(e.to_string()))?;
        Ok(self.queue(to, &rendered).await?)
    }

    /// The newest 200 messages matching the filters, newest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn log(&self, query: &LogQuery) -> Result<Vec<LogRow>, sqlx::Error> {
        crate::db::mail::log(&self.db, &query.state, &query.to, 200).await
    }

    /// The transport in one line (never a password), for the CLI and logs.
    pub fn describe(&self) -> String {
        self.mailer.describe()
    }

    /// Sends a test message to `to` through the transport at once, bypassing the queue, so
    /// the operator sees the server's reply.
    ///
    /// # Errors
    /// The transport refused it (with the reply), or the template did not render.
    pub async fn send_test(&self, to: &str) -> Result<Reply, TestError> {
        let rendered = Generic {
            subject: "Portcullis test message".into(),
            body: format!("This is a test message from Portcullis at {}.\n\nIf you can read it, mail delivery works.", self.system_url),
        }
        .render()
        .map_err(|e| TestError::Template(e.to_string()))?;
        let message = super::Outgoing {
            to: to.to_owned(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        };
        self.mailer
            .send(&message)
            .await
            .map_err(TestError::NotDelivered)
    }
}
