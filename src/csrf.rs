//! CSRF tokens that need no server-side state (F06).
//!
//! Two kinds, both HMAC-signed with the installation's key (shared by every node through the
//! database):
//! - **session tokens** (`s.<mac>`) are derived from the session id's hash, so every form of a
//!   signed-in page carries one and they die with the session;
//! - **anonymous tokens** (`a.<issued>.<mac>`) are used by pre-sign-in forms (sign-in,
//!   registration, first-admin setup), so those forms submit with no session at all. Login CSRF
//!   is stopped instead by the same-origin check the web layer applies to every unsafe request.
//!
//! [`verify`] distinguishes why a token was refused, because "reload the page, your session
//! expired" and "this form does not belong to you" need different words and different fixes.

/// How long an anonymous form token stays valid.
pub const ANONYMOUS_LIFETIME: i64 = 24 * 3600;

/// Why a state-changing request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfFailure {
    /// No token at all: a form without the hidden field or a script without the header.
    Missing,
    /// Not a token this server makes.
    Malformed,
    /// A session token, but the session it belonged to is gone.
    SessionExpired,
    /// A well-formed token that does not belong to this session.
    Mismatch,
    /// A pre-sign-in form left open too long.
    Stale,
    /// The browser says the request came from another site.
    CrossSite,
}

impl CsrfFailure {
    /// Stable label for counters and the doctor.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::SessionExpired => "session_expired",
            Self::Mismatch => "mismatch",
            Self::Stale => "stale",
            Self::CrossSite => "cross_site",
        }
    }

    /// What the person who submitted the form is told.
    pub fn message(self) -> &'static str {
        match self {
            Self::SessionExpired => {
                "Your session expired before this form was sent. Reload the page, sign in again if asked, and resend the form."
            }
            Self::Stale => "This form was open for too long. Reload the page and send it again.",
            Self::Mismatch | Self::Malformed => {
                "The form's security token does not match your session. This happens when the page was opened in another session or tab; reload the page and send it again."
            }
            Self::Missing => {
                "The form's security token is missing. Reload the page and send it again; if you are calling the API, send the X-CSRF-Token header."
            }
            Self::CrossSite => {
                "This request came from another website, so it was refused to protect your account."
            }
        }
    }
}

/// The token for forms of a signed-in page.
pub fn session_token(key: &[u8], session_hash: &str) -> String {
    format!(
        "s.{}",
        crate::token::sign(key, &format!("csrf-session:{session_hash}"))
    )
}

/// The token for pre-sign-in forms.
pub fn anonymous_token(key: &[u8], now: i64) -> String {
    format!(
        "a.{now}.{}",
        crate::token::sign(key, &format!("csrf-anon:{now}"))
    )
}

/// Checks a presented token.
///
/// `session_hash` is the live session of the request's realm, if any; `allow_anonymous` is true
/// for pre-sign-in forms.
///
/// # Errors
/// The kind of failure, for the message and the counters.
pub fn verify(
    key: &[u8],
    presented: Option<&str>,
    session_hash: Option<&str>,
    allow_anonymous: bool,
    now: i64,
) -> Result<(), CsrfFailure> {
    let token = presented
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(CsrfFailure::Missing)?;
    if token.len() > 200 {
        return Err(CsrfFailure::Malformed);
    }
    if let Some(mac) = token.strip_prefix("s.") {
        let hash = session_hash.ok_or(CsrfFailure::SessionExpired)?;
        return if crate::token::verify_signature(key, &format!("csrf-session:{hash}"), mac) {
            Ok(())
        } else {
            Err(CsrfFailure::Mismatch)
        };
    }
    if let Some(rest) = token.strip_prefix("a.") {
        let (issued, mac) = rest.split_once('.').ok_or(CsrfFailure::Malformed)?;
        let issued_at: i64 = issued.parse().map_err(|_| CsrfFailure::Malformed)?;
        if !crate::token::verify_signature(key, &format!("csrf-anon:{issued}"), mac) {
            return Err(CsrfFailure::Mismatch);
        }
        if !allow_anonymous {
            // A pre-sign-in token sent to a signed-in action: the page predates the session.
            return Err(if session_hash.is_some() {
                CsrfFailure::Mismatch
            } else {
                CsrfFailure::SessionExpired
            });
        }
        let age = now.saturating_sub(issued_at);
        return if (-300..=ANONYMOUS_LIFETIME).contains(&age) {
            Ok(())
        } else {
            Err(CsrfFailure::Stale)
        };
    }
    Err(CsrfFailure::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn session_tokens_are_bound_to_their_session() {
        let t = session_token(KEY, "h1");
        assert_eq!(verify(KEY, Some(&t), Some("h1"), false, 0), Ok(()));
        assert_eq!(
            verify(KEY, Some(&t), Some("h2"), false, 0),
            Err(CsrfFailure::Mismatch)
        );
        assert_eq!(
            verify(KEY, Some(&t), None, false, 0),
            Err(CsrfFailure::SessionExpired)
        );
    }

    #[test]
    fn anonymous_tokens_work_without_session_only_where_allowed_and_expire() {
        let t = anonymous_token(KEY, 1000);
        assert_eq!(verify(KEY, Some(&t), None, true, 1000 + 60), Ok(()));
        assert_eq!(
            verify(KEY, Some(&t), None, true, 1000 + ANONYMOUS_LIFETIME + 1),
            Err(CsrfFailure::Stale)
        );
        assert_eq!(
            verify(KEY, Some(&t), Some("h"), false, 1000),
            Err(CsrfFailure::Mismatch)
        );
        let forged = t.replace("a.1000.", "a.2000.");
        assert_eq!(
            verify(KEY, Some(&forged), None, true, 2000),
            Err(CsrfFailure::Mismatch)
        );
    }

    #[test]
    fn missing_and_garbage_tokens_are_told_apart() {
        assert_eq!(verify(KEY, None, None, true, 0), Err(CsrfFailure::Missing));
        assert_eq!(
            verify(KEY, Some("  "), None, true, 0),
            Err(CsrfFailure::Missing)
        );
        assert_eq!(
            verify(KEY, Some("hello"), None, true, 0),
            Err(CsrfFailure::Malformed)
        );
        assert_eq!(
            verify(KEY, Some("a.x.y"), None, true, 0),
            Err(CsrfFailure::Malformed)
        );
    }

    proptest! {
        #[test]
        fn verify_never_panics(token in ".{0,300}", session in proptest::option::of("[a-f0-9]{0,64}"), now in any::<i64>()) {
            let _ = verify(KEY, Some(&token), session.as_deref(), true, now);
            let _ = verify(KEY, Some(&token), session.as_deref(), false, now);
        }
    }
}
