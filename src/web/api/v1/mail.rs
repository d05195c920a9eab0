//! `POST /api/v1/mail`: queues a message with the generic template (API role `mail.send`), so
//! the portal's other mails (sign-up welcome, order confirmation) go through Portcullis's queue,
//! its retries and its mail log. The checks and the audit entry are the `Mail` service's.

use super::Caller;
use super::body::Body;
use super::users::refused;
use crate::api_credential::ApiRole;
use crate::domain::audit::Actor;
use crate::mail::Mail;
use crate::mail::QueueError;
use crate::mail::generic::{Draft, DraftError};
use crate::web::api::problem::{Problem, ProblemBody};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// A message to queue.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// One email address.
    pub to: String,
    /// One line, at most 200 characters.
    pub subject: String,
    /// Plain text, at most 100000 characters; blank lines separate paragraphs (the HTML part
    /// is made from them).
    pub body: String,
}

/// A queued message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Queued {
    /// Its id in the queue (the admin mail log shows its attempts).
    pub id: i64,
    /// `queued`: the sender delivers it with retries.
    pub state: &'static str,
}

/// Queues a message for delivery.
#[utoipa::path(
    post,
    path = "/api/v1/mail",
    tag = "mail",
    operation_id = "queueMail",
    request_body = MessageBody,
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 400, description = "The body is not well-formed JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The credential lacks `mail.send`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A field is refused", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("basic" = []), ("bearer" = [])),
)]
pub async fn post_queue(
    State(mail): State<Mail>,
    caller: Caller,
    Body(body): Body<MessageBody>,
) -> Result<(StatusCode, Json<Queued>), Problem> {
    caller.require(ApiRole::MailSend)?;
    let draft = Draft {
        to: &body.to,
        subject: &body.subject,
        body: &body.body,
    };
    let how = format!("through the admin API (credential {})", caller.0.identifier);
    match mail
        .queue_generic_as(&Actor::Admin(caller.0.admin), &how, &draft)
        .await
    {
        Ok(id) => Ok((
            StatusCode::ACCEPTED,
            Json(Queued {
                id,
                state: "queued",
            }),
        )),
        Err(DraftError::Invalid(errors)) => Err(refused(errors)),
        Err(DraftError::Queue(QueueError::Storage(e))) => Err(Problem::unavailable(&e)),
        Err(DraftError::Queue(e)) => Err(Problem::unexpected(&e.into())),
    }
}
