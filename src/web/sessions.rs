//! "Where you are signed in": list a person's sessions and end any of them (both realms). The
//! ending, its step-up rule and its audit entry are `Sessions::end_chosen`'s; this file shows
//! the step-up form when that rule refuses (ASVS 4.0.3 3.3.4: another session ends only after
//! the person re-entered their password or a current code) and words the refusal.

use crate::session::{EndError, EndReason, Session, Sessions, Which};
use crate::settings::Settings;
use crate::twofactor::{STEP_UP_SECONDS, StepUpError, TwoFactor};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, Peer};
use crate::web::page::{self, Nav, SessionRowView, SessionsPage};
use crate::web::twofactor::{Side, Signed};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// What the page says above the list.
#[derive(Default)]
struct Said {
    notice: Option<String>,
    error: Option<String>,
}

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
    let body = render(settings, sessions, current, nav, base, Said::default()).await?;
    Ok(body.into_response())
}

async fn render(
    settings: &Settings,
    sessions: &Sessions,
    current: &Session,
    nav: Nav,
    base: &'static str,
    said: Said,
) -> AppResult<Response> {
    let stepped_up = sessions.stepped_up(current).await?;
    let mut applications = sessions.applications(current).await?;
    let sessions = sessions
        .list(current)
        .await?
        .into_iter()
        .map(|r| SessionRowView {
            current: r.id_hash == current.id_hash,
            applications: applications
                .remove(&r.id_hash)
                .map(|names| names.join(", "))
                .unwrap_or_default(),
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
        notice: said.notice,
        error: said.error,
        stepped_up,
        minutes: STEP_UP_SECONDS / 60,
        base,
        csrf,
        sessions,
    }))
}

/// Ends `which` on the person's request, or shows the page with the step-up form and why.
async fn end_chosen(
    settings: &Settings,
    sessions: &Sessions,
    current: &Session,
    which: Which<'_>,
    nav: Nav,
    base: &'static str,
) -> AppResult<Response> {
    match sessions.end_chosen(which, EndReason::Revoked).await {
        Ok(_) => Ok(Redirect::to(base).into_response()),
        Err(EndError::StepUpNeeded) => {
            let error = format!(
                "Nothing was ended. To end another session, confirm it's you first: enter your password (or a code from a current factor) below, then end it within {} minutes.",
                STEP_UP_SECONDS / 60
            );
            let said = Said {
                notice: None,
                error: Some(error),
            };
            let body = render(settings, sessions, current, nav, base, said).await?;
            Ok((StatusCode::FORBIDDEN, body).into_response())
        }
        Err(EndError::Storage(e)) => Err(e.into()),
    }
}

/// Ends one of the person's own sessions (never someone else's); another than `current`
/// only after a recent step-up.
///
/// # Errors
/// Storage errors.
pub async fn end_one(
    settings: &Settings,
    sessions: &Sessions,
    current: &Session,
    target: &str,
    nav: Nav,
    base: &'static str,
) -> AppResult<Response> {
    let which = Which::OneOf {
        owner: current,
        target,
    };
    end_chosen(settings, sessions, current, which, nav, base).await
}

/// Ends every other session of the person, after a recent step-up.
///
/// # Errors
/// Storage errors.
pub async fn end_others(
    settings: &Settings,
    sessions: &Sessions,
    current: &Session,
    nav: Nav,
    base: &'static str,
) -> AppResult<Response> {
    let which = Which::OthersOf(current);
    end_chosen(settings, sessions, current, which, nav, base).await
}

/// The form that names a session to end.
#[derive(serde::Deserialize)]
pub struct EndForm {
    pub session: String,
}

/// The step-up form on the sessions page: the password, or a code.
#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// The sessions page of side `S`.
const fn base<S: Side>() -> &'static str {
    match S::REALM {
        crate::session::Realm::Client => "/account/sessions",
        crate::session::Realm::Admin => "/admin/sessions",
    }
}

/// `POST {sessions}/confirm`: the step-up (the same one the security page records, through
/// `TwoFactor::step_up`), then the sessions page again.
pub async fn post_confirm<S: Side>(
    State(tf): State<TwoFactor>,
    State(settings): State<Settings>,
    State(sessions): State<Sessions>,
    signed: Signed<S>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    let stepped = tf
        .step_up(
            &signed.subject,
            &signed.session.id_hash,
            form.password,
            &form.code,
            addr.ip,
        )
        .await;
    let said = match stepped {
        Ok(()) => Said {
            notice: Some(format!(
                "Confirmed. You can end your other sessions for the next {} minutes.",
                STEP_UP_SECONDS / 60
            )),
            error: None,
        },
        Err(StepUpError::Wrong) => Said {
            notice: None,
            error: Some("That password or code is not right. Nothing was ended.".into()),
        },
        Err(StepUpError::Busy) => return Err(AppError::Busy),
        Err(StepUpError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
        Err(StepUpError::Storage(e)) => return Err(e.into()),
    };
    let nav = Nav {
        admin: S::REALM == crate::session::Realm::Admin,
        name: signed.subject.display_name.clone(),
        csrf,
        links: signed.nav_links.clone(),
        impersonation: None,
    };
    render(
        &settings,
        &sessions,
        &signed.session,
        nav,
        base::<S>(),
        said,
    )
    .await
}
