//! Outgoing mail: a persistent queue in the database, a sender that delivers it with retries,
//! the transports (SMTP, files), and the compiled-in templates (F11).
//!
//! [`Mail`] is the service front ends call: queue a message, the generic template, the mail
//! log's read, the CLI's test message. Services that queue mail as part of a larger change call
//! [`queue::enqueue`] on their own transaction instead.
//!
//! Nothing sends mail directly from a request: code that causes a message calls
//! [`queue::enqueue`] inside its own transaction, so the message exists if and only if the
//! event does. The [`sender`] delivers due messages through the configured [`Mailer`], keeps
//! every attempt's reply, backs off exponentially, and marks a message `failed` after
//! `mail.max_attempts`.

pub mod file;
pub mod generic;
pub mod queue;
pub mod sender;
pub mod smtp;
pub mod template;

use crate::app::AppState;
use crate::clock::Clock;
use crate::config::{MailConfig, MailTransport};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::db::mail::LogRow;
pub use queue::{LogQuery, QueueError, TestError};

/// The mail service: the queue, its log and the configured transport.
#[derive(Clone)]
pub struct Mail {
    db: crate::db::Pool,
    clock: Arc<dyn Clock>,
    mailer: Arc<dyn Mailer>,
    system_url: String,
}

impl From<&AppState> for Mail {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            mailer: state.mailer.clone(),
            system_url: state.config.system_url.to_string(),
        }
    }
}

/// A rendered message, ready for a transport.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The server's answer to a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Option<u16>,
    pub text: String,
}

/// Why a delivery failed, with the server's reply when there was one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct SendFailure {
    pub code: Option<u16>,
    pub text: String,
}

/// A boxed future, so transports can sit behind `dyn Mailer`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A way to deliver mail.
///
/// Implementations must not retry on their own (the queue decides), must report the server's
/// reply code and text for every outcome, and must never log message bodies (they hold links).
pub trait Mailer: Send + Sync {
    /// Delivers one message.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Reply, SendFailure>>;
    /// Checks the transport without sending (connect, TLS, authenticate), for the doctor.
    fn check(&self) -> BoxFuture<'_, Result<String, SendFailure>>;
    /// A one-line description for logs and the doctor (never a password).
    fn describe(&self) -> String;
}

/// Builds the transport the configuration asks for.
///
/// # Errors
/// When the SMTP transport cannot be set up (an invalid host name).
pub fn from_config(config: &MailConfig) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match config.transport {
        MailTransport::Smtp => Arc::new(smtp::SmtpMailer::new(config)?),
        MailTransport::File => Arc::new(file::FileMailer::new(config)),
    })
}

/// Builds a lettre message with text and HTML alternatives.
///
/// # Errors
/// When an address does not parse.
pub fn build_message(from: &str, message: &Outgoing) -> Result<lettre::Message, SendFailure> {
    let fail = |text: String| SendFailure { code: None, text };
    let from = from
        .parse()
        .map_err(|e| fail(format!("mail.from is not a mailbox: {e}")))?;
    let to = message.to.parse().map_err(|e| {
        fail(format!(
            "the recipient {:?} is not an address: {e}",
            message.to
        ))
    })?;
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        .multipart(lettre::message::MultiPart::alternative_plain_html(
            message.text.clone(),
            message.html.clone(),
        ))
        .map_err(|e| fail(format!("the message could not be built: {e}")))
}
