//! RFC 9457 problem documents, the one error shape of `/api/v1/`. `type` is a stable URN a
//! caller can switch on (`urn:portcullis:problem:<name>`); `field` and `allowed` name the input
//! at fault and what it may be; `errors` lists every field at fault when there are several.
//! [`ProblemBody`] is both what is sent and what the OpenAPI document describes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One problem.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// The last part of the `type` URN.
    pub name: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// What only some problems carry (boxed: a `Result` with a problem stays small).
    pub extra: Box<Extra>,
}

/// The optional members of a problem.
#[derive(Debug, Default)]
pub struct Extra {
    pub field: Option<String>,
    pub allowed: Option<String>,
    /// Every field at fault, when a service refused several at once.
    pub errors: Vec<FieldProblem>,
    /// `Retry-After` seconds (429, 503).
    pub retry_after: Option<u64>,
}

/// A problem document as sent (`application/problem+json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemBody {
    /// `urn:portcullis:problem:<name>`, stable across releases.
    #[schema(example = "urn:portcullis:problem:invalid_field")]
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    /// What went wrong and what to do, for the person reading the logs.
    pub detail: String,
    /// The input at fault: a field, a path into the JSON body (`roles[1]`), or a header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What the input may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One field a service refused, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub detail: String,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        name: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            name,
            title,
            detail: detail.into(),
            extra: Box::default(),
        }
    }

    /// Names the input at fault.
    #[must_use]
    pub fn field(mut self, field: &str) -> Self {
        self.extra.field = Some(field.to_owned());
        self
    }

    /// Says what the input may be.
    #[must_use]
    pub fn allowed(mut self, allowed: &str) -> Self {
        self.extra.allowed = Some(allowed.to_owned());
        self
    }

    /// Asks the caller to wait `seconds` before trying again.
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.extra.retry_after = Some(seconds);
        self
    }

    /// A 400 about one input field, with what it may be.
    pub fn invalid(field: &str, detail: impl Into<String>, allowed: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "A field is missing or not allowed",
            detail,
        )
        .field(field)
        .allowed(allowed)
    }

    /// A 422: the body is well-formed JSON the call cannot take (wrong type, unknown or
    /// duplicate field, or a value a service refused).
    pub fn unprocessable(field: Option<String>, detail: impl Into<String>) -> Self {
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "The request body cannot be taken",
            detail,
        );
        problem.extra.field = field;
        problem
    }

    /// A 422 listing each field a service refused.
    pub fn fields(errors: Vec<FieldProblem>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.detail))
            .collect::<Vec<_>>()
            .join("; ");
        let mut problem = Self::unprocessable(errors.first().map(|e| e.field.clone()), detail);
        problem.extra.errors = errors;
        problem
    }

    /// A 409: the call conflicts with what is stored (a taken address, a second owner).
    pub fn conflict(field: Option<&str>, detail: impl Into<String>) -> Self {
        let mut problem = Self::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflicts with what is stored",
            detail,
        );
        problem.extra.field = field.map(str::to_owned);
        problem
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    /// The database cannot be read now.
    pub fn unavailable(error: &sqlx::Error) -> Self {
        tracing::warn!(%error, "admin API: storage unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Storage is unavailable",
            "The database cannot be reached now; try again shortly.",
        )
        .retry_after(5)
    }

    /// Something this server did not expect; logged, never shown.
    pub fn unexpected(error: &anyhow::Error) -> Self {
        tracing::error!(error = %format!("{error:#}"), "admin API: unexpected failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected",
            "Unexpected failure",
            "The server could not complete the call; its log says why.",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let Extra {
            field,
            allowed,
            errors,
            retry_after,
        } = *self.extra;
        let body = ProblemBody {
            kind: format!("urn:portcullis:problem:{}", self.name),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail,
            field,
            allowed,
            errors,
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut response = (self.status, text).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"portcullis-api\", charset=\"UTF-8\""),
            );
        }
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
