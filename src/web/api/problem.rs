//! RFC 9457 problem documents, the one error shape of `/api/v1/`. `type` is a stable URN a
//! caller can switch on (`urn:portcullis:problem:<name>`); `field` and `allowed` name the input
//! at fault and what it may be.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One problem.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// The last part of the `type` URN.
    pub name: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<&'static str>,
    pub allowed: Option<String>,
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
            field: None,
            allowed: None,
        }
    }

    /// A 400 about one input field, with what it may be.
    pub fn invalid(field: &'static str, detail: impl Into<String>, allowed: &str) -> Self {
        Self {
            field: Some(field),
            allowed: Some(allowed.to_owned()),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                "A field is missing or not allowed",
                detail,
            )
        }
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
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:portcullis:problem:{}", self.name),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(field) = self.field {
            body["field"] = json!(field);
        }
        if let Some(allowed) = self.allowed {
            body["allowed"] = json!(allowed);
        }
        let mut response = (self.status, body.to_string()).into_response();
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
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}
