//! Reading how an application authenticated at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3.1), before `Applications::authenticate` judges it.
//!
//! The trap this exists for: in `Authorization: Basic`, the client id and secret are each
//! form-urlencoded *before* base64 (RFC 6749 §2.3.1), so a secret with `+`, `%` or `:` must be
//! decoded twice. Libraries differ (some skip the urlencoding); decoding it, and taking an
//! unencoded value that has nothing to decode as itself, accepts both.
//! Sending credentials both ways at once is refused (§2.3: "MUST NOT use more than one").

use super::application::Presented;
use base64::Engine as _;

/// The client id and how the secret came (or did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub secret: Option<(Method, String)>,
}

/// Where the secret was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Basic,
    Post,
}

impl Credentials {
    /// As `Applications::authenticate` takes it.
    pub fn presented(&self) -> Presented<'_> {
        match &self.secret {
            Some((Method::Basic, s)) => Presented::Basic(s),
            Some((Method::Post, s)) => Presented::Post(s),
            None => Presented::None,
        }
    }
}

/// Why the credentials could not be read; each is `invalid_client` (or `invalid_request` for
/// [`CredentialsError::NoClientId`] and [`CredentialsError::Both`]) to the application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("the Authorization header is not Basic with base64 of client_id:client_secret")]
    BadBasic,
    #[error("credentials were sent in both the Authorization header and the body")]
    Both,
    #[error("no client_id was sent")]
    NoClientId,
    #[error("the client_id in the body is not the one in the Authorization header")]
    Disagree,
}

/// Reads the credentials from the `Authorization` header (if any) and the body's `client_id`
/// and `client_secret`.
///
/// # Errors
/// See [`CredentialsError`].
pub fn read(
    authorization: Option<&str>,
    body_client_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<Credentials, CredentialsError> {
    let body_client_id = body_client_id.filter(|v| !v.is_empty());
    let body_secret = body_secret.filter(|v| !v.is_empty());
    if let Some(header) = authorization {
        let (id, secret) = basic(header)?;
        if body_secret.is_some() {
            return Err(CredentialsError::Both);
        }
        // A client_id in the body beside Basic is allowed only if it agrees.
        if body_client_id.is_some_and(|b| b != id) {
            return Err(CredentialsError::Disagree);
        }
        return Ok(Credentials {
            client_id: id,
            secret: Some((Method::Basic, secret)),
        });
    }
    let client_id = body_client_id
        .ok_or(CredentialsError::NoClientId)?
        .to_owned();
    Ok(Credentials {
        client_id,
        secret: body_secret.map(|s| (Method::Post, s.to_owned())),
    })
}

fn basic(header: &str) -> Result<(String, String), CredentialsError> {
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or(CredentialsError::BadBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(CredentialsError::BadBasic);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| CredentialsError::BadBasic)?;
    let text = String::from_utf8(decoded).map_err(|_| CredentialsError::BadBasic)?;
    let (id, secret) = text.split_once(':').ok_or(CredentialsError::BadBasic)?;
    let id = form_decoded(id);
    if id.is_empty() {
        return Err(CredentialsError::BadBasic);
    }
    Ok((id, form_decoded(secret)))
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space, `%XX` a byte).
fn form_decoded(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(raw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn basic_credentials_are_urlencoded_before_base64() {
        // The secret "a+b:c%" urlencoded is "a%2Bb%3Ac%25".
        let c = read(Some(&header("shop:a%2Bb%3Ac%25")), None, None).unwrap();
        assert_eq!(c.client_id, "shop");
        assert_eq!(c.secret, Some((Method::Basic, "a+b:c%".to_owned())));
        // A client that skipped the urlencoding still works when nothing needed it.
        let c = read(Some(&header("shop:plainSecret_123-x")), None, None).unwrap();
        assert_eq!(
            c.secret,
            Some((Method::Basic, "plainSecret_123-x".to_owned()))
        );
    }

    #[test]
    fn the_body_carries_credentials_without_a_header() {
        let c = read(None, Some("shop"), Some("s3cret")).unwrap();
        assert!(matches!(c.presented(), Presented::Post("s3cret")));
        let public = read(None, Some("spa"), None).unwrap();
        assert!(public.secret.is_none());
    }

    #[test]
    fn both_ways_at_once_or_none_at_all_is_refused() {
        assert_eq!(
            read(Some(&header("shop:s")), None, Some("s")),
            Err(CredentialsError::Both)
        );
        assert_eq!(
            read(None, None, Some("s")),
            Err(CredentialsError::NoClientId)
        );
        assert_eq!(
            read(Some(&header("shop:s")), Some("other"), None),
            Err(CredentialsError::Disagree)
        );
        assert!(read(Some(&header("shop:s")), Some("shop"), None).is_ok());
    }

    #[test]
    fn malformed_basic_headers_are_named() {
        for bad in [
            "Bearer abc",
            "Basic",
            "Basic !!!",
            &header("no-colon"),
            &header(":secret"),
        ] {
            assert_eq!(
                read(Some(bad), None, None),
                Err(CredentialsError::BadBasic),
                "{bad}"
            );
        }
        let invalid_utf8 = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode([0xff, b':', b'x'])
        );
        assert_eq!(
            read(Some(&invalid_utf8), None, None),
            Err(CredentialsError::BadBasic)
        );
    }
}
