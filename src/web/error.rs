//! The one web-facing error type, and how each error becomes a page or a JSON object.
//!
//! Handlers and pipeline steps return [`AppError`]; its `IntoResponse` renders the HTML error
//! page and attaches an [`ErrorInfo`] extension, which the content-negotiation step turns into
//! JSON for callers that asked for JSON. Unexpected errors are logged here, once, with their
//! cause chain; the person sees a short message without internals.

use crate::csrf::CsrfFailure;
use crate::diagnostics::outage;
use crate::web::page;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything a request can fail with, from the client's point of view.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("csrf: {}", .0.as_str())]
    Csrf(CsrfFailure),
    /// A form was sent to an origin other than the System URL (F05).
    #[error("wrong origin {used}")]
    WrongOrigin { used: String, system: String },
    /// The browser did not send back the cookie set at sign-in (F06).
    #[error("session cookie not returned")]
    CookieLoss {
        https_system_url: bool,
        secure_cookie: bool,
    },
    /// The session store cannot be written or read (F06, F02).
    #[error("session storage unavailable: {0}")]
    StorageUnavailable(String),
    /// The database cannot be reached (a lost connection; the pool keeps reconnecting).
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// Too many password verifications queued.
    #[error("busy")]
    Busy,
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The work asked for is being done by another process right now.
    #[error("conflict: {0}")]
    Conflict(String),
    /// An admin's role lacks a permission (F08): says what, which, whose role, and who can help.
    #[error("access denied: {action}")]
    AccessDenied {
        action: &'static str,
        missing: Vec<&'static str>,
        role: String,
        granters: Vec<String>,
    },
    /// A one-time link (reset, verification) that cannot be used: unknown, expired or used.
    #[error("invalid link")]
    LinkInvalid {
        title: &'static str,
        message: String,
        unknown: bool,
    },
    /// Forward authentication cannot work as the proxy is set up (F18): a sign-in loop, an
    /// untrusted proxy, a missing original URL, a return address nobody protects.
    #[error("forward auth: {title}")]
    ForwardAuthSetup {
        title: &'static str,
        message: String,
    },
    /// The client address is banned.
    #[error("banned")]
    Banned {
        ip: String,
        reason: String,
        until: Option<String>,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if outage::report_if_lost(&e) {
            return Self::DatabaseUnavailable(e.to_string());
        }
        Self::Unexpected(e.into())
    }
}

impl AppError {
    /// A session or ban lookup that failed: a lost connection says so; anything else is the
    /// store refusing reads or writes (read-only file, full disk).
    pub fn storage(e: impl Into<anyhow::Error>) -> Self {
        let e = e.into();
        if outage::report_if_lost_in(&e) {
            return Self::DatabaseUnavailable(format!("{e:#}"));
        }
        Self::StorageUnavailable(format!("{e:#}"))
    }
}

/// The machine-readable form of an error, turned into JSON for JSON callers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ErrorInfo {
    pub status: u16,
    pub error: &'static str,
    pub message: String,
    /// The page's heading and detail lines, kept so the page can be drawn again with the
    /// impersonation banner (`middleware::banner`); JSON callers get `message`.
    #[serde(skip)]
    pub title: String,
    #[serde(skip)]
    pub details: Vec<String>,
    /// For `access_denied`: the action, the missing permissions, the role, who can grant them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<serde_json::Value>,
}

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str, String, String, Vec<String>) {
        match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Page not found".into(),
                "There is no page at this address. Check the link, or go to the start page.".into(),
                vec![],
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed".into(),
                "This address does not accept that kind of request.".into(),
                vec![],
            ),
            Self::BadRequest(why) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "The request could not be read".into(),
                why.clone(),
                vec![],
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Too much data".into(),
                "The form sent more data than this server accepts.".into(),
                vec![],
            ),
            Self::Csrf(kind) => (
                StatusCode::FORBIDDEN,
                "csrf",
                if *kind == CsrfFailure::SessionExpired {
                    "Your session expired".into()
                } else {
                    "Invalid CSRF protection token".into()
                },
                kind.message().into(),
                vec![],
            ),
            Self::WrongOrigin { used, system } => (
                StatusCode::MISDIRECTED_REQUEST,
                "wrong_origin",
                "Wrong address for this portal".into(),
                format!(
                    "This form was sent to {used}, but this portal lives at {system}. Your details were not checked. Open {system} and sign in there."
                ),
                vec![format!("Address used: {used}"), format!("System URL: {system}")],
            ),
            Self::CookieLoss { https_system_url, secure_cookie } => {
                let mut causes = vec![
                    "Cookies are blocked for this site in your browser's settings or by an extension.".to_owned(),
                    "The page was opened through a different address than the portal's own, so the cookie belongs to another host.".to_owned(),
                ];
                if *secure_cookie || *https_system_url {
                    causes.insert(0, "The portal is configured for https, but this page was reached over plain http, where browsers do not return secure cookies.".to_owned());
                }
                (
                    StatusCode::BAD_REQUEST,
                    "cookie_not_returned",
                    "Your browser did not keep the sign-in cookie".into(),
                    "You signed in successfully, but your browser did not send the session cookie back, so you would be asked to sign in again and again. Likely causes:".into(),
                    causes,
                )
            }
            Self::StorageUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "Sessions cannot be saved right now".into(),
                "The server could not write to its session storage (for example the database is read-only or the disk is full), so you cannot stay signed in. Nothing is wrong with your password. Please try again later; the operator has been told.".into(),
                vec![],
            ),
            Self::DatabaseUnavailable(_) => database_unavailable(),
            Self::Unexpected(e) if outage::is_lost_in(e) => database_unavailable(),
            Self::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Too many sign-ins at once".into(),
                "The server is busy checking other sign-ins. Please try again in a few seconds.".into(),
                vec![],
            ),
            Self::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Access Denied".into(),
                why.clone(),
                vec![],
            ),
            Self::ForwardAuthSetup { title, message } => (
                StatusCode::BAD_REQUEST,
                "forward_auth_setup",
                (*title).to_owned(),
                message.clone(),
                vec![],
            ),
            Self::Conflict(why) => (
                StatusCode::CONFLICT,
                "conflict",
                "Not now".into(),
                why.clone(),
                vec![],
            ),
            Self::AccessDenied { action, missing, role, granters } => (
                StatusCode::FORBIDDEN,
                "access_denied",
                "Access denied".into(),
                format!(
                    "You need permission to {action}. Your role, {role}, does not include {}. {}",
                    missing.join(", "),
                    if granters.is_empty() {
                        "No enabled administrator can grant permissions; run `portcullis doctor` on the server (check admin.roles).".to_owned()
                    } else {
                        format!("An administrator with the manage_roles permission ({}) can add it to your role or give you another role.", granters.join(", "))
                    }
                ),
                vec![
                    format!("Missing permission: {}", missing.join(", ")),
                    format!("Your role: {role}"),
                    format!("Who can grant it: {}", if granters.is_empty() { "nobody at the moment".to_owned() } else { granters.join(", ") }),
                ],
            ),
            Self::LinkInvalid { title, message, unknown } => (
                if *unknown { StatusCode::NOT_FOUND } else { StatusCode::GONE },
                "link_invalid",
                (*title).to_owned(),
                message.clone(),
                vec![],
            ),
            Self::Banned { ip, reason, until } => (
                StatusCode::FORBIDDEN,
                "banned",
                "Your address is banned".into(),
                format!(
                    "Requests from {ip} are refused {}. Reason: {reason}. If you think this is a mistake, contact the portal's support from another network.",
                    until.as_ref().map_or_else(|| "until an administrator lifts the ban".to_owned(), |u| format!("until {u}"))
                ),
                vec![format!("Address: {ip}"), format!("Reason: {reason}"), format!("Until: {}", until.as_deref().unwrap_or("lifted by an administrator"))],
            ),
            // A restored database without its sealing key: say so rather than "something".
            Self::Unexpected(e) if e.downcast_ref::<crate::sealing::OpenError>().is_some() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "two_factor_unavailable",
                "Two-step verification is unavailable".into(),
                "This server cannot decrypt the stored second-factor secrets: its sealing key (two_factor.secret_key or the key file) is not the one they were sealed with. Nobody can complete two-step verification until an administrator restores the key; `portcullis doctor` and the log have the details.".into(),
                vec![],
            ),
            Self::Unexpected(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong".into(),
                "The server could not complete this request. Please try again; the operator can find the details in the log.".into(),
                vec![],
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            // A lost database is reported (once per outage) by the guard, not logged per request.
            Self::Unexpected(e) if outage::report_if_lost_in(e) => {}
            Self::Unexpected(e) => tracing::error!(error = ?e, "request failed"),
            Self::StorageUnavailable(e) => {
                tracing::error!(error = %e, "session storage unavailable");
            }
            _ => {}
        }
        let (status, code, title, message, details) = self.parts();
        let body = page::ErrorPage {
            title: &title,
            message: &message,
            details: &details,
            nav: None,
        };
        let mut response = (status, page::render(&body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        let access = match &self {
            Self::AccessDenied {
                action,
                missing,
                role,
                granters,
            } => Some(serde_json::json!({
                "action": action,
                "missing": missing,
                "role": role,
                "granters": granters,
            })),
            _ => None,
        };
        response.extensions_mut().insert(ErrorInfo {
            status: status.as_u16(),
            error: code,
            message,
            title,
            details,
            access,
        });
        response
    }
}

/// Result alias for handlers.
pub type AppResult<T> = Result<T, AppError>;

impl From<crate::auth::login::LoginError> for AppError {
    /// Handlers render the sign-in form for `InvalidCredentials` themselves; this covers the rest.
    fn from(e: crate::auth::login::LoginError) -> Self {
        use crate::auth::login::LoginError;
        match e {
            LoginError::Busy => Self::Busy,
            LoginError::Unexpected(e) => Self::Unexpected(e),
            LoginError::InvalidCredentials(_) => Self::Forbidden(e.to_string()),
        }
    }
}

impl From<crate::account::CreateError> for AppError {
    /// Handlers show `Invalid` next to the fields themselves; this covers the rest.
    fn from(e: crate::account::CreateError) -> Self {
        use crate::account::CreateError;
        match e {
            CreateError::Busy => Self::Busy,
            CreateError::Unexpected(e) => Self::Unexpected(e),
            invalid @ CreateError::Invalid(_) => Self::BadRequest(invalid.to_string()),
        }
    }
}

/// The page for a lost database connection: temporary, nothing the person did, nothing lost.
fn database_unavailable() -> (StatusCode, &'static str, String, String, Vec<String>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
        "The portal cannot reach its database".into(),
        "This is temporary and nothing you entered was lost: you are still signed in. Please try again in a minute; the operator has been told.".into(),
        vec![],
    )
}
