//! `GET /verify-email/{token}`: confirm an email address; `POST /account/verify-email/resend`.
//! The links, their rules and the resend limit are the [`Accounts`] service's.

use crate::account::{Accounts, ConfirmError, LinkError, LinkState, ResendError, Resent};
use crate::settings::Settings;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::CurrentClient;
use crate::web::page::{self, ErrorPage};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

/// Confirms the address the link was sent to. Works without a session, in any browser.
pub async fn get_verify(
    State(accounts): State<Accounts>,
    State(settings): State<Settings>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let user_id = match accounts.confirm_email(&token).await {
        Ok(user) => user.get(),
        Err(ConfirmError::Link(link)) => {
            return Err(AppError::LinkInvalid {
                title: "This confirmation link cannot be used",
                message: crate::reset::link_problem(
                    link,
                    "your client area (sign in and choose \"Send the link again\")",
                    &settings.snapshot().values.timezone,
                ),
                unknown: matches!(link, LinkState::Unknown),
            });
        }
        Err(conflict @ ConfirmError::Taken(_)) => {
            return Err(AppError::Conflict(conflict.to_string()));
        }
        Err(ConfirmError::Storage(e)) => return Err(e.into()),
    };
    tracing::info!(user_id, "email address verified");
    Ok(page::render(&ErrorPage {
        title: "Your email address is confirmed",
        message: "Thank you. You can close this page or go to your client area.",
        details: &[],
        nav: None,
    }))
}

/// Sends a fresh verification link (the old one stops working).
pub async fn post_resend(
    State(accounts): State<Accounts>,
    current: CurrentClient,
) -> AppResult<Response> {
    // Confirming the address is the client's own business, like changing it.
    current.not_impersonated()?;
    match accounts.resend_verification(current.user.id.into()).await {
        Ok(Resent::Sent) => Ok(Redirect::to("/clientarea?resent=1").into_response()),
        Ok(Resent::AlreadyVerified) => Ok(Redirect::to("/clientarea").into_response()),
        Err(limit @ ResendError::TooMany) => Err(AppError::Forbidden(limit.to_string())),
        Err(ResendError::Storage(e) | ResendError::Link(LinkError::Storage(e))) => Err(e.into()),
        Err(e @ (ResendError::Link(_) | ResendError::NoUser)) => {
            Err(AppError::Unexpected(anyhow::anyhow!(e.to_string())))
        }
    }
}
