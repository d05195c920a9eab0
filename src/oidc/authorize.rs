//! The authorization request (OpenID Connect Core 1.0 §3.1.2.1, RFC 6749 §4.1.1, RFC 7636):
//! reading it, and refusing it the way the specs say, which depends on one question: may the
//! answer go back to the application?
//!
//! - Until the client id names a registered application and the redirect URI is one of its
//!   registered URIs *exactly*, nothing may be redirected (RFC 6749 §4.1.2.1): the person gets
//!   a [`PageRefusal`] at Portcullis naming the application, and the refusal is recorded for the
//!   application's page (F14: the URI sent, and the closest registered one).
//! - After that, every error goes back to the redirect URI as `error`, `error_description`,
//!   `state` and `iss` (RFC 9207): a [`RedirectRefusal`].
//!
//! What a valid request becomes is an [`AuthorizationRequest`]; signing in, consent and the code
//! are the next steps' (not built yet). Nothing here reads the session or writes a code.

use super::application::{Application, Applications, REDIRECT_URI_MISMATCH};
use super::draft::{Kind, UriKind};
use std::collections::HashSet;

/// Longest `state` and `nonce` taken (they are echoed back and stored).
pub const ECHO_MAX: usize = 512;

/// What `prompt` asks for (Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown; fail with `login_required` or `consent_required`.
    pub none: bool,
    /// `login`: sign in again even with a session.
    pub login: bool,
    /// `consent`: ask for consent even if given before.
    pub consent: bool,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub application: Application,
    pub redirect_uri: String,
    /// The scopes asked for, `openid` first, each allowed for the application.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 challenge (RFC 7636), required for public applications.
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    /// `max_age` in seconds: a sign-in older than this must be repeated.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

/// A refusal shown at Portcullis, because the redirect URI cannot be trusted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRefusal {
    /// No `client_id`.
    NoClientId,
    /// A `client_id` no application has.
    UnknownClient { client_id: String },
    /// A parameter the request names twice (RFC 6749 §3.1), before the application is known.
    Repeated { parameter: String },
    /// No `redirect_uri` (Core makes it required).
    NoRedirectUri { application: String },
    /// A redirect URI not registered exactly; `closest` and `difference` for the operator.
    RedirectUriMismatch {
        application: String,
        sent: String,
        closest: Option<(String, String)>,
    },
}

impl PageRefusal {
    /// What the person reads: what went wrong and what to do, naming the application.
    pub fn message(&self) -> String {
        match self {
            Self::NoClientId => "This sign-in link does not say which application sent you: it has no client_id. Go back to the application and start again; if it keeps happening, tell its administrator.".to_owned(),
            Self::UnknownClient { .. } => "The application that sent you here is not registered with this portal. Go back and tell the application's administrator that its client id is unknown here.".to_owned(),
            Self::Repeated { parameter } => format!("This sign-in link gives {parameter} more than once, which is not allowed. Go back to the application and start again."),
            Self::NoRedirectUri { application } => format!("{application} sent you here without saying where to return (no redirect_uri). Go back and tell its administrator."),
            Self::RedirectUriMismatch { application, .. } => format!("{application} asked to return you to an address it has not registered, so you were not sent there. Tell the application's administrator: the portal's administrator can see the address sent and the one registered."),
        }
    }
}

/// A refusal sent back to the application's registered redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRefusal {
    pub redirect_uri: String,
    /// The error code as the specs name it (`invalid_request`, `invalid_scope`, ...).
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

impl RedirectRefusal {
    /// The redirect, with `iss` so the application knows which provider answered (RFC 9207).
    pub fn location(&self, issuer: &str) -> String {
        let mut url = url::Url::parse(&self.redirect_uri)
            .expect("a registered redirect URI is an absolute URL (draft::check)");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("error", self.error);
            query.append_pair("error_description", &self.description);
            if let Some(state) = &self.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", issuer);
        }
        url.to_string()
    }
}

/// Why a request was refused: at Portcullis or back at the application.
#[derive(Debug)]
pub enum Refusal {
    Page(PageRefusal),
    Redirect(RedirectRefusal),
    Storage(sqlx::Error),
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(e)
    }
}

/// The parameters of a request as pairs (query string for GET, form body for POST), with the
/// repeated names found.
pub struct Params<'a> {
    pairs: &'a [(String, String)],
    repeated: Vec<&'a str>,
}

impl<'a> Params<'a> {
    pub fn new(pairs: &'a [(String, String)]) -> Self {
        let mut seen = HashSet::new();
        // RFC 6749 §3.1: parameters sent without a value are as if omitted, and none may repeat.
        let repeated = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .filter(|(k, _)| !seen.insert(k.as_str()))
            .map(|(k, _)| k.as_str())
            .collect();
        Self { pairs, repeated }
    }

    /// A parameter's value (a parameter sent empty counts as not sent).
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name)
    }

    /// The first parameter sent more than once, if any.
    pub fn repeated_name(&self) -> Option<&'a str> {
        self.repeated.first().copied()
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

impl Applications {
    /// Reads and checks an authorization request, recording a refusal that cannot be redirected
    /// (F14) for the application's page.
    ///
    /// # Errors
    /// [`Refusal`]: shown at Portcullis, sent back, or a storage failure.
    pub async fn authorization_request(
        &self,
        params: &Params<'_>,
    ) -> Result<AuthorizationRequest, Refusal> {
        let Some(client_id) = params.get("client_id") else {
            return Err(Refusal::Page(PageRefusal::NoClientId));
        };
        let Some(application) = self.find_by_client_id(client_id).await? else {
            self.record_refusal(None, client_id, "authorize", "unknown_client", "")
                .await?;
            return Err(Refusal::Page(PageRefusal::UnknownClient {
                client_id: client_id.to_owned(),
            }));
        };
        let name = application.name.clone();
        let Some(redirect_uri) = params.get("redirect_uri") else {
            self.record_refusal(
                Some(application.id),
                client_id,
                "authorize",
                "no_redirect_uri",
                "",
            )
            .await?;
            return Err(Refusal::Page(PageRefusal::NoRedirectUri {
                application: name,
            }));
        };
        if let Some(parameter) = params
            .repeated
            .iter()
            .find(|p| **p == "redirect_uri" || **p == "client_id")
        {
            return Err(Refusal::Page(PageRefusal::Repeated {
                parameter: (*parameter).to_owned(),
            }));
        }
        if !Self::redirect_uri_allowed(&application, redirect_uri, UriKind::Login) {
            self.record_refusal(
                Some(application.id),
                client_id,
                "authorize",
                REDIRECT_URI_MISMATCH,
                redirect_uri,
            )
            .await?;
            let closest = Self::closest_redirect_uri(&application, redirect_uri, UriKind::Login)
                .map(|c| (c.registered, c.difference));
            return Err(Refusal::Page(PageRefusal::RedirectUriMismatch {
                application: name,
                sent: redirect_uri.to_owned(),
                closest,
            }));
        }
        let redirect_uri = redirect_uri.to_owned();
        let refuse = |error: &'static str, description: String, state: Option<String>| {
            Refusal::Redirect(RedirectRefusal {
                redirect_uri: redirect_uri.clone(),
                error,
                description,
                state,
            })
        };
        // The state goes back with every error, so it is read first (bounded, or dropped).
        let state = params
            .get("state")
            .filter(|s| s.len() <= ECHO_MAX)
            .map(str::to_owned);
        match check(&application, params) {
            Ok(mut request) => {
                request.redirect_uri.clone_from(&redirect_uri);
                request.state = state;
                Ok(request)
            }
            Err((error, description)) => {
                self.record_refusal(
                    Some(application.id),
                    client_id,
                    "authorize",
                    error,
                    &description,
                )
                .await?;
                Err(refuse(error, description, state))
            }
        }
    }
}

/// Every check after the redirect URI is trusted: the error code and its description, or the
/// request (its `redirect_uri` and `state` filled in by the caller).
fn check(
    application: &Application,
    params: &Params<'_>,
) -> Result<AuthorizationRequest, (&'static str, String)> {
    let invalid = |d: &str| ("invalid_request", d.to_owned());
    if let Some(p) = params.repeated.first() {
        return Err(invalid(&format!("{p} is given more than once")));
    }
    if params.get("request").is_some() {
        return Err((
            "request_not_supported",
            "request objects are not supported; send the parameters themselves".into(),
        ));
    }
    if params.get("request_uri").is_some() {
        return Err((
            "request_uri_not_supported",
            "request_uri is not supported; send the parameters themselves".into(),
        ));
    }
    if params.get("state").is_some_and(|s| s.len() > ECHO_MAX) {
        return Err(invalid(&format!(
            "state is longer than {ECHO_MAX} characters"
        )));
    }
    match params.get("response_type") {
        None => return Err(invalid("response_type is missing; use code")),
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!(
                    "response_type {other:?} is not supported; only the authorization code flow (code) is"
                ),
            ));
        }
    }
    if let Some(mode) = params.get("response_mode").filter(|m| *m != "query") {
        return Err(invalid(&format!(
            "response_mode {mode:?} is not supported; only query is"
        )));
    }
    let scopes = scopes(application, params.get("scope"))?;
    let nonce = match params.get("nonce") {
        Some(n) if n.len() > ECHO_MAX => {
            return Err(invalid(&format!(
                "nonce is longer than {ECHO_MAX} characters"
            )));
        }
        n => n.map(str::to_owned),
    };
    let code_challenge = challenge(application, params)?;
    let prompt = prompt(params.get("prompt"))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid("max_age is not a whole number of seconds"))?,
        ),
    };
    let login_hint = params
        .get("login_hint")
        .filter(|h| h.len() <= 254)
        .map(str::to_owned);
    Ok(AuthorizationRequest {
        application: application.clone(),
        redirect_uri: String::new(),
        scopes,
        state: None,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint,
    })
}

fn scopes(
    application: &Application,
    scope: Option<&str>,
) -> Result<Vec<String>, (&'static str, String)> {
    let asked: Vec<&str> = scope
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if !asked.contains(&"openid") {
        return Err((
            "invalid_scope",
            "scope must include openid: this is an OpenID Connect provider".into(),
        ));
    }
    if let Some(not_allowed) = asked
        .iter()
        .find(|s| !application.scopes.iter().any(|a| a == *s))
    {
        return Err((
            "invalid_scope",
            format!(
                "scope {not_allowed:?} is not allowed for this application; allowed: {}",
                application.scopes.join(" ")
            ),
        ));
    }
    let mut out = vec!["openid".to_owned()];
    for s in asked {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

/// RFC 7636: S256 only; required for public applications.
fn challenge(
    application: &Application,
    params: &Params<'_>,
) -> Result<Option<String>, (&'static str, String)> {
    let invalid = |d: &str| ("invalid_request", d.to_owned());
    let method = params.get("code_challenge_method");
    let Some(challenge) = params.get("code_challenge") else {
        if method.is_some() {
            return Err(invalid("code_challenge_method without code_challenge"));
        }
        if application.kind == Kind::Public {
            return Err(invalid(
                "a public application must use PKCE: send code_challenge with code_challenge_method S256",
            ));
        }
        return Ok(None);
    };
    match method {
        Some("S256") => {}
        // RFC 7636 §4.3: a missing method means plain, which is refused like plain itself.
        None | Some("plain") => {
            return Err(invalid("code_challenge_method plain is refused; use S256"));
        }
        Some(other) => {
            return Err(invalid(&format!(
                "code_challenge_method {other:?} is not supported; use S256"
            )));
        }
    }
    // The BASE64URL of a SHA-256: 43 characters of the unreserved set.
    let shaped = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !shaped {
        return Err(invalid(
            "code_challenge is not the base64url SHA-256 of a verifier (43 characters)",
        ));
    }
    Ok(Some(challenge.to_owned()))
}

fn prompt(value: Option<&str>) -> Result<Prompt, (&'static str, String)> {
    let mut prompt = Prompt::default();
    for v in value.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        match v {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            // Accounts are chosen in the portal after signing in; there is nothing to select.
            "select_account" => {}
            other => {
                return Err((
                    "invalid_request",
                    format!("prompt {other:?} is not supported; use none, login or consent"),
                ));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err((
            "invalid_request",
            "prompt none cannot be combined with another value".into(),
        ));
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests;
