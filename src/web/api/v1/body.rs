//! The JSON body of an `/api/v1/` call, refused as a problem document for each way it can be
//! wrong: not JSON (415), too large (413, the `server.max_body_bytes` limit), not UTF-8 or not
//! well-formed (400), or JSON of the wrong shape (422: a wrong type, an unknown, missing or
//! duplicate field, named by its path in the body).

use crate::web::api::problem::Problem;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body of type `T` (whose fields should deny unknown names).
pub struct Body<T>(pub T);

/// Whether a `Content-Type` names JSON: `application/json` or an `application/*+json` type,
/// with any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The field a serde error is about: its path in the body, or the name serde quotes for a
/// field missing or unknown at the top.
fn field_of(path: &serde_path_to_error::Path, message: &str) -> Option<String> {
    let path = path.to_string();
    if path != "." {
        return Some(path);
    }
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

/// Parses `bytes` as a `T`, or the problem to answer.
///
/// # Errors
/// 400 for text that is not UTF-8 or not well-formed JSON, 422 for JSON of the wrong shape.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let malformed = |detail: String| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "The body is not well-formed JSON",
            detail,
        )
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        malformed(format!(
            "The body is not UTF-8 (byte {} is not); JSON must be UTF-8 (RFC 8259 §8.1).",
            e.valid_up_to()
        ))
    })?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let inner = e.inner();
        let message = inner.to_string();
        if inner.is_data() {
            Problem::unprocessable(field_of(e.path(), &message), message)
        } else {
            malformed(message)
        }
    })?;
    deserializer
        .end()
        .map_err(|e| malformed(format!("{e}: only one JSON value may be sent")))?;
    Ok(value)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_json(content_type) {
            let detail = if content_type.is_empty() {
                "Send the body as JSON with `Content-Type: application/json`.".to_owned()
            } else {
                format!(
                    "The body was sent as {content_type:?}; send it as JSON with `Content-Type: application/json`."
                )
            };
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The body must be JSON",
                detail,
            )
            .field("Content-Type")
            .allowed("application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "The body is too large",
                    "The body is larger than this server takes (`server.max_body_bytes`).",
                )
            } else {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                    "The body could not be read",
                    rejection.body_text(),
                )
            }
        })?;
        parse(&bytes).map(Body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        email: String,
        roles: Vec<String>,
    }

    fn refused(body: &[u8]) -> Problem {
        parse::<Shape>(body).expect_err("refused")
    }

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json(""));
    }

    #[test]
    fn each_shape_of_bad_json_gets_its_status_and_field() {
        let p = refused(b"{\"email\": ");
        assert_eq!((p.status.as_u16(), p.name), (400, "malformed_json"));
        let p = refused(b"\xff\xfe{}");
        assert_eq!((p.status.as_u16(), p.name), (400, "malformed_json"));
        let p = refused(b"{\"email\":\"a@b.c\",\"roles\":[]} {}");
        assert_eq!(p.status.as_u16(), 400, "{}", p.detail);
        let p = refused(b"{\"email\": 5, \"roles\": []}");
        assert_eq!(
            (p.status.as_u16(), p.extra.field.as_deref()),
            (422, Some("email"))
        );
        let p = refused(b"{\"email\": \"a@b.c\", \"roles\": [\"x\", 7]}");
        assert_eq!(p.extra.field.as_deref(), Some("roles[1]"));
        let p = refused(b"{\"email\": \"a@b.c\", \"roles\": [], \"admin\": true}");
        assert_eq!(
            (p.status.as_u16(), p.extra.field.as_deref()),
            (422, Some("admin"))
        );
        let p = refused(b"{\"roles\": []}");
        assert_eq!(p.extra.field.as_deref(), Some("email"), "{}", p.detail);
        let p = refused(b"{\"email\": \"a@b.c\", \"email\": \"x@y.z\", \"roles\": []}");
        assert_eq!(
            (p.status.as_u16(), p.extra.field.as_deref()),
            (422, Some("email")),
            "a duplicate key is refused, not silently the last one: {}",
            p.detail
        );
        let p = refused(b"[1, 2]");
        assert_eq!(p.status.as_u16(), 422);
    }
}
