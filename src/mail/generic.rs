//! A message another system of the portal sends through Portcullis's queue (the admin API):
//! the sign-up welcome, an order confirmation. The recipient, subject and body are checked
//! before anything is queued, and the message is queued with its audit entry (`mail.queued`,
//! naming the recipient and subject, never the body) in one transaction, so the mail log and
//! the audit log agree.

use super::Mail;
use super::queue::{QueueError, enqueue};
use super::template::Generic;
use crate::account::FieldError;
use crate::domain::audit::{Action, Actor};

/// The longest subject, in characters.
pub const SUBJECT_MAX: usize = 200;
/// The longest body, in characters.
pub const BODY_MAX: usize = 100_000;

/// A generic message to queue.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    /// Plain text; paragraphs separated by blank lines.
    pub body: &'a str,
}

/// Why a message was not queued.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("{}", FieldError::list(.0))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<sqlx::Error> for DraftError {
    fn from(e: sqlx::Error) -> Self {
        Self::Queue(QueueError::Storage(e))
    }
}

impl Draft<'_> {
    /// Each field's problem: an address of the right shape, a subject of one line (a line
    /// break would be a header injection), a body within [`BODY_MAX`].
    pub fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(m) = crate::account::check_email(self.to) {
            errors.push(FieldError::new("to", m));
        }
        let subject = self.subject.trim();
        if subject.is_empty()
            || subject.chars().count() > SUBJECT_MAX
            || subject.chars().any(char::is_control)
        {
            errors.push(FieldError::new(
                "subject",
                format!("Give one line of 1 to {SUBJECT_MAX} characters, without line breaks."),
            ));
        }
        let body = self.body.trim();
        if body.is_empty()
            || body.chars().count() > BODY_MAX
            || body
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            errors.push(FieldError::new(
                "body",
                format!("Give plain text of 1 to {BODY_MAX} characters (paragraphs separated by blank lines)."),
            ));
        }
        errors
    }
}

impl Mail {
    /// Checks `draft` and queues it with the generic template as `actor` (`how`: through
    /// what), recorded as `mail.queued`; the message's id in the queue.
    ///
    /// # Errors
    /// [`DraftError::Invalid`] naming each field, the template, or storage errors.
    pub async fn queue_generic_as(
        &self,
        actor: &Actor,
        how: &str,
        draft: &Draft<'_>,
    ) -> Result<i64, DraftError> {
        let errors = draft.problems();
        if !errors.is_empty() {
            return Err(DraftError::Invalid(errors));
        }
        let to = draft.to.trim();
        let rendered = Generic {
            subject: draft.subject.trim().to_owned(),
            body: draft.body.trim().to_owned(),
        }
        .render()
        .map_err(|e| QueueError::Template(e.to_string()))?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let id = enqueue(&mut *tx, to, &rendered, now).await?;
        crate::audit::record(
            &mut *tx,
            now,
            actor,
            Action::MailQueued,
            format!("mail:{id}"),
            &format!("to {to}: {:?} {how}", rendered.subject),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}
