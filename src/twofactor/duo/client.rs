//! The Duo Universal Prompt protocol (duo.md sections 1-4): health check, the authorize URL,
//! the code exchange and the ID token checks.
//!
//! The caller passes the time in (`now`, unix seconds) so that tests drive it with the mock
//! clock; this module never reads a clock. Every Duo answer is checked strictly and every error
//! is translated by [`DuoError::user_message`] into what the user or operator should do (F12).

use super::settings::{Credentials, LEGACY_CREDENTIALS_HELP};
use crate::jose;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use secrecy::ExposeSecret as _;
use serde_json::{Map, Value, json};

/// How long a client assertion or authorization request is valid (Duo accepts at most 300 s).
const LIFETIME_SECONDS: i64 = 300;
/// How far Duo's clock may be from ours when checking the ID token's `exp` and `iat`.
const LEEWAY_SECONDS: i64 = 60;
/// Duo's answers are a few hundred bytes; anything far larger is not Duo.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The longest text from Duo repeated in a message.
const QUOTE_MAX: usize = 200;
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A Duo application to send users to.
#[derive(Debug, Clone)]
pub struct Duo {
    creds: Credentials,
    /// `https://{api_hostname}`, or the test override's origin; no trailing slash.
    base: String,
    http: reqwest::Client,
}

/// What a verified ID token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdToken {
    pub username: String,
    pub status_msg: String,
}

/// Why Duo cannot complete a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DuoError {
    /// Duo could not be reached or answered something that is not Duo's protocol.
    #[error("Duo is unavailable: {0}")]
    Unavailable(String),
    /// Duo answered with an OAuth error (`invalid_grant`, `invalid_client`, ...).
    #[error("Duo refused the request: {error}: {description}")]
    Rejected { error: String, description: String },
    /// The ID token is genuine and says the second factor was not passed.
    #[error("Duo denied the sign-in: {status_msg}")]
    Denied { status_msg: String },
    /// The ID token is not genuine, not for us, not for this user or this attempt, or stale.
    #[error("Duo's ID token was refused: {0}")]
    InvalidToken(String),
}

impl DuoError {
    /// What the user (or operator) should understand and do; plain text, callers escape it.
    pub fn user_message(&self) -> String {
        match self {
            Self::Unavailable(reason) => format!(
                "Duo could not be reached ({}). Try again in a few minutes, or sign in with a \
                 backup code.",
                quote(reason, QUOTE_MAX)
            ),
            Self::Rejected { error, description } => translate(error, description),
            Self::Denied { status_msg } => format!(
                "Duo denied the sign-in: {}. If this is unexpected, contact your administrator.",
                quote(status_msg, QUOTE_MAX)
            ),
            Self::InvalidToken(reason) => format!(
                "Duo's answer could not be verified ({}), so the sign-in was refused. Start \
                 again; if this keeps happening, check this server's clock and the Duo \
                 settings.",
                quote(reason, QUOTE_MAX)
            ),
        }
    }
}

/// Translates an `error` and `error_description` that Duo put on the callback URL. Plain text:
/// callers escape it.
pub fn translate_callback_error(error: &str, description: &str) -> String {
    translate(error, description)
}

/// 36 random letters and digits: the `state`, the nonce and every assertion's `jti`.
pub fn random_state() -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const LENGTH: usize = 36;
    let mut out = String::with_capacity(LENGTH);
    while out.len() < LENGTH {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        // Bytes of 248 and above are skipped so that every character is equally likely.
        for b in bytes.into_iter().filter(|&b| b < 248) {
            out.push(char::from(ALPHABET[usize::from(b % 62)]));
            if out.len() == LENGTH {
                break;
            }
        }
    }
    out
}

/// Where Duo's endpoints are: `https://{api_hostname}`, or the test override without a trailing
/// slash.
pub fn base_of(api_hostname: &str, test_base: Option<&url::Url>) -> String {
    match test_base {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => format!("https://{api_hostname}"),
    }
}

impl Duo {
    /// A Duo client. `test_base` replaces `https://{api_hostname}` (see
    /// [`super::settings::test_api_url`], which admits only loopback hosts); `http` should come
    /// from [`crate::net::http::client`] so that it has timeouts.
    pub fn new(creds: Credentials, test_base: Option<&url::Url>, http: reqwest::Client) -> Self {
        let base = base_of(&creds.api_hostname, test_base);
        Self { creds, base, http }
    }

    pub fn client_id(&self) -> &str {
        &self.creds.client_id
    }

    /// The base of every endpoint and the `aud` of the authorization request: `https://{host}`,
    /// or with a test override that override's origin (no trailing slash), so that a fake Duo
    /// server can check the `aud` it receives against its own address.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Asks Duo whether it can take a sign-in now; returns Duo's clock (unix seconds), whose
    /// difference from `now` is the clock skew.
    ///
    /// # Errors
    /// [`DuoError::Rejected`] when Duo refuses the credentials themselves (`invalid_client`,
    /// in Duo's `stat: FAIL` envelope or as an OAuth error): they are wrong, and waiting will
    /// not help. [`DuoError::Unavailable`] with the reason for anything else but
    /// `{"stat": "OK", ...}`.
    pub async fn health_check(&self, now: i64) -> Result<i64, DuoError> {
        let url = self.endpoint("health_check");
        let assertion = self.client_assertion(&url, now);
        let (status, body) = self
            .post_form(
                &url,
                &[
                    ("client_id", self.client_id()),
                    ("client_assertion", &assertion),
                ],
            )
            .await?;
        let unavailable = |why: String| Err(DuoError::Unavailable(why));
        if let Some(refused) = credentials_refused(&body) {
            return Err(refused);
        }
        let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(&body) else {
            return unavailable(format!(
                "the health check answered HTTP {} with something that is not Duo's JSON",
                status.as_u16()
            ));
        };
        match answer.get("stat").and_then(Value::as_str) {
            Some("OK") if status.is_success() => {
                let timestamp = answer
                    .get("response")
                    .and_then(|r| r.get("timestamp"))
                    .and_then(|t| t.as_i64().or_else(|| t.as_f64().map(seconds_from_float)));
                timestamp.map_or_else(
                    || unavailable("the health check answer has no timestamp".to_owned()),
                    Ok,
                )
            }
            Some("FAIL") => {
                let text = |key| answer.get(key).and_then(Value::as_str).unwrap_or("");
                unavailable(format!(
                    "the health check failed (HTTP {}): {} {}",
                    status.as_u16(),
                    quote(text("message"), QUOTE_MAX),
                    quote(text("message_detail"), QUOTE_MAX)
                ))
            }
            stat => unavailable(format!(
                "the health check answered HTTP {} with stat {}",
                status.as_u16(),
                stat.map_or_else(|| "missing".to_owned(), |s| format!("{:?}", quote(s, 40)))
            )),
        }
    }

    /// The URL to send the browser to. `state` and `nonce` must be fresh ([`random_state`]),
    /// stored server-side, and `nonce` passed again to [`Duo::verify_id_token`].
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        username: &str,
        state: &str,
        nonce: &str,
        now: i64,
    ) -> String {
        let claims = json!({
            "scope": "openid",
            "redirect_uri": redirect_uri,
            "client_id": self.client_id(),
            "iss": self.client_id(),
            "aud": self.base,
            "exp": now + LIFETIME_SECONDS,
            "state": state,
            "response_type": "code",
            "duo_uname": username,
            "use_duo_code_attribute": true,
        });
        let request = jose::sign_hs512(&claims, self.secret())
            .expect("a Duo client secret is never empty (settings::validate checks its shape)");
        // As Duo's own clients do: the nonce travels beside the signed request, not inside it.
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", self.client_id())
            .append_pair("request", &request)
            .append_pair("nonce", nonce)
            .finish();
        format!("{}?{query}", self.endpoint("authorize"))
    }

    /// Exchanges the callback's `duo_code` for the raw ID token (check it with
    /// [`Duo::verify_id_token`]). `redirect_uri` must be the one given to
    /// [`Duo::authorize_url`].
    ///
    /// # Errors
    /// [`DuoError::Rejected`] for Duo's OAuth errors, [`DuoError::Unavailable`] when Duo cannot
    /// be reached or does not answer its protocol, [`DuoError::InvalidToken`] for a success
    /// answer without an ID token.
    pub async fn exchange_code(
        &self,
        duo_code: &str,
        redirect_uri: &str,
        now: i64,
    ) -> Result<String, DuoError> {
        let url = self.endpoint("token");
        let assertion = self.client_assertion(&url, now);
        let (status, body) = self
            .post_form(
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", duo_code),
                    ("redirect_uri", redirect_uri),
                    ("client_id", self.client_id()),
                    ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                    ("client_assertion", &assertion),
                ],
            )
            .await?;
        let answer = match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(answer)) => Some(answer),
            _ => None,
        };
        let text = |key: &str| {
            answer
                .as_ref()
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if status.is_success() {
            return text("id_token").ok_or_else(|| {
                DuoError::InvalidToken("Duo's token answer has no id_token".to_owned())
            });
        }
        match text("error") {
            Some(error) => Err(DuoError::Rejected {
                error,
                description: text("error_description").unwrap_or_default(),
            }),
            None => Err(DuoError::Unavailable(format!(
                "the token endpoint answered HTTP {} without an OAuth error",
                status.as_u16()
            ))),
        }
    }

    /// Verifies the ID token from [`Duo::exchange_code`] for this `username` and `nonce`.
    ///
    /// # Errors
    /// [`DuoError::Denied`] when the token is genuine but the second factor was not passed;
    /// [`DuoError::InvalidToken`] with the reason for anything else.
    pub fn verify_id_token(
        &self,
        id_token: &str,
        username: &str,
        nonce: &str,
        now: i64,
    ) -> Result<IdToken, DuoError> {
        let invalid = |why: String| DuoError::InvalidToken(why);
        let claims =
            jose::verify_hs512(id_token, self.secret()).map_err(|e| invalid(e.to_string()))?;
        let client_id = self.client_id();
        let for_us = match claims.get("aud") {
            Some(Value::String(aud)) => aud == client_id,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
            _ => false,
        };
        if !for_us {
            return Err(invalid("its audience is not this application".to_owned()));
        }
        if string_claim(&claims, "iss") != Some(self.endpoint("token").as_str()) {
            return Err(invalid("it was not issued by this Duo API host".to_owned()));
        }
        let exp = number_claim(&claims, "exp")?;
        let iat = number_claim(&claims, "iat")?;
        // Unix seconds are far below 2^53, so the conversion to f64 is exact.
        #[allow(clippy::cast_precision_loss)]
        let (now, leeway) = (now as f64, LEEWAY_SECONDS as f64);
        if exp + leeway <= now {
            return Err(invalid("it has expired".to_owned()));
        }
        if iat - leeway > now {
            return Err(invalid(
                "it was issued in the future (check this server's clock)".to_owned(),
            ));
        }
        if string_claim(&claims, "preferred_username") != Some(username) {
            return Err(invalid("it is for another user".to_owned()));
        }
        if string_claim(&claims, "nonce") != Some(nonce) {
            return Err(invalid("its nonce is not this sign-in's".to_owned()));
        }
        let result = claims.get("auth_result").and_then(Value::as_object);
        let text = |key| result.and_then(|r| r.get(key)).and_then(Value::as_str);
        let status_msg = text("status_msg").unwrap_or_default().to_owned();
        match text("status") {
            Some("allow") => Ok(IdToken {
                username: username.to_owned(),
                status_msg,
            }),
            Some(_) => Err(DuoError::Denied { status_msg }),
            None => Err(invalid("it has no auth_result status".to_owned())),
        }
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/oauth/v1/{name}", self.base)
    }

    fn secret(&self) -> &[u8] {
        self.creds.client_secret.expose_secret().as_bytes()
    }

    /// The HS512 JWT that authenticates this application to `audience` (an endpoint URL).
    fn client_assertion(&self, audience: &str, now: i64) -> String {
        let claims = json!({
            "iss": self.client_id(),
            "sub": self.client_id(),
            "aud": audience,
            "exp": now + LIFETIME_SECONDS,
            "iat": now,
            "jti": random_state(),
        });
        jose::sign_hs512(&claims, self.secret())
            .expect("a Duo client secret is never empty (settings::validate checks its shape)")
    }

    /// POSTs a form body (the OAuth norm) and returns the status and at most
    /// [`MAX_ANSWER_BYTES`] of the answer.
    async fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
    ) -> Result<(StatusCode, Vec<u8>), DuoError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = response.status();
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| network(&e))? {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(DuoError::Unavailable(format!(
                    "the answer (HTTP {}) is larger than {} KiB, so it is not Duo's",
                    status.as_u16(),
                    MAX_ANSWER_BYTES / 1024
                )));
            }
            answer.extend_from_slice(&chunk);
        }
        Ok((status, answer))
    }
}

/// Duo's refusal of the credentials themselves in a health check's answer: `message` (Duo's
/// `stat: FAIL` envelope) or `error` (the OAuth form its token endpoint uses) is
/// `invalid_client`. Such credentials are wrong, not Duo down (F12).
fn credentials_refused(body: &[u8]) -> Option<DuoError> {
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let text = |key: &str| answer.get(key).and_then(Value::as_str).unwrap_or("");
    let (error, description) = if text("message") == "invalid_client" {
        (text("message"), text("message_detail"))
    } else if text("error") == "invalid_client" {
        (text("error"), text("error_description"))
    } else {
        return None;
    };
    Some(DuoError::Rejected {
        error: error.to_owned(),
        description: quote(description, QUOTE_MAX),
    })
}

/// A readable reason for a failed request, with the underlying causes (DNS, TLS, refused).
fn network(error: &reqwest::Error) -> DuoError {
    if error.is_timeout() {
        return DuoError::Unavailable("Duo did not answer in time".to_owned());
    }
    let mut reason = if error.is_connect() {
        "could not connect to Duo".to_owned()
    } else {
        "the request to Duo failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    DuoError::Unavailable(reason)
}

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// A numeric claim (Duo's clients write floats, others integers).
fn number_claim(claims: &Map<String, Value>, name: &str) -> Result<f64, DuoError> {
    claims
        .get(name)
        .and_then(Value::as_f64)
        .ok_or_else(|| DuoError::InvalidToken(format!("it has no numeric {name}")))
}

/// Whole seconds of a float timestamp.
#[allow(clippy::cast_possible_truncation)]
fn seconds_from_float(seconds: f64) -> i64 {
    // Saturating by definition of `as`; a timestamp out of i64's range is nonsense anyway.
    seconds.floor() as i64
}

/// The message for an OAuth error code from Duo, whether from the token endpoint or the
/// callback URL.
fn translate(error: &str, description: &str) -> String {
    let code = quote(error, 64);
    let description = quote(description, QUOTE_MAX);
    let detail = if description.is_empty() {
        code.clone()
    } else {
        format!("{code}: {description}")
    };
    match error {
        "invalid_client" => format!(
            "Duo refused this server's Duo credentials ({detail}). {LEGACY_CREDENTIALS_HELP} If \
             they are from a \"Web SDK\" application, check that the Client Secret was copied \
             whole."
        ),
        "invalid_grant" => "The Duo sign-in expired or was already used; start again.".to_owned(),
        "access_denied" => format!(
            "Duo denied the sign-in ({detail}). If this is unexpected, contact your \
             administrator."
        ),
        "server_error" | "temporarily_unavailable" => format!(
            "Duo is having a problem ({detail}). Try again in a few minutes, or sign in with a \
             backup code."
        ),
        "invalid_request"
        | "unauthorized_client"
        | "unsupported_response_type"
        | "invalid_scope"
        | "unsupported_grant_type" => format!(
            "Duo refused the sign-in request ({detail}). This is a configuration problem: tell \
             your administrator."
        ),
        _ => format!("Duo reported an error: {detail}"),
    }
}

/// Text from Duo made safe to repeat: control characters removed, at most `max` characters.
fn quote(text: &str, max: usize) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.chars().count() > max {
        let mut short: String = clean.chars().take(max).collect();
        short.push_str("...");
        short
    } else {
        clean.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use std::collections::HashMap;

    const ID: &str = "DIABCDEFGHIJ01234567";
    const SECRET: &str = "abcdefghijABCDEFGHIJ0123456789abcdefghij";
    const NOW: i64 = 1_800_000_000;

    fn duo(test_base: Option<&str>) -> Duo {
        crate::net::http::install_crypto_provider();
        Duo::new(
            Credentials {
                client_id: ID.to_owned(),
                client_secret: SecretString::from(SECRET.to_owned()),
                api_hostname: "api-1234abcd.duosecurity.com".to_owned(),
            },
            test_base.map(|u| url::Url::parse(u).unwrap()).as_ref(),
            crate::net::http::client(std::time::Duration::from_secs(2)).unwrap(),
        )
    }

    fn good_claims() -> Value {
        json!({
            "aud": ID,
            "iss": "https://api-1234abcd.duosecurity.com/oauth/v1/token",
            "iat": NOW,
            "exp": NOW + 300,
            "preferred_username": "alice",
            "nonce": "the-nonce",
            "auth_result": {"status": "allow", "status_msg": "Login Successful"},
        })
    }

    fn verify_with(change: impl FnOnce(&mut Map<String, Value>)) -> Result<IdToken, DuoError> {
        verify_at(NOW, change)
    }

    fn verify_at(
        now: i64,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<IdToken, DuoError> {
        let Value::Object(mut claims) = good_claims() else {
            unreachable!()
        };
        change(&mut claims);
        let token = jose::sign_hs512(&Value::Object(claims), SECRET.as_bytes()).unwrap();
        duo(None).verify_id_token(&token, "alice", "the-nonce", now)
    }

    fn invalid_reason(result: Result<IdToken, DuoError>) -> String {
        match result {
            Err(DuoError::InvalidToken(reason)) => reason,
            other => panic!("expected InvalidToken, got {other:?}"),
        }
    }

    #[test]
    fn the_base_is_the_api_host_or_the_override_without_a_trailing_slash() {
        assert_eq!(duo(None).base(), "https://api-1234abcd.duosecurity.com");
        assert_eq!(
            duo(Some("http://127.0.0.1:4567/")).base(),
            "http://127.0.0.1:4567"
        );
        assert_eq!(duo(None).client_id(), ID);
    }

    #[test]
    fn the_authorize_url_carries_a_signed_request_with_every_claim() {
        let url = duo(None).authorize_url(
            "https://portal.example.com/login/2fa/duo/callback",
            "alice@example.com",
            "S".repeat(36).as_str(),
            "N".repeat(36).as_str(),
            NOW,
        );
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(
            parsed.as_str().split('?').next().unwrap(),
            "https://api-1234abcd.duosecurity.com/oauth/v1/authorize"
        );
        let query: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
        assert_eq!(query.len(), 4);
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], ID);
        assert_eq!(query["nonce"], "N".repeat(36));
        let claims = jose::verify_hs512(&query["request"], SECRET.as_bytes()).unwrap();
        assert_eq!(
            Value::Object(claims),
            json!({
                "scope": "openid",
                "redirect_uri": "https://portal.example.com/login/2fa/duo/callback",
                "client_id": ID,
                "iss": ID,
                "aud": "https://api-1234abcd.duosecurity.com",
                "exp": NOW + 300,
                "state": "S".repeat(36),
                "response_type": "code",
                "duo_uname": "alice@example.com",
                "use_duo_code_attribute": true,
            })
        );
    }

    #[test]
    fn client_assertions_have_every_claim_and_fresh_jtis() {
        let duo = duo(None);
        let aud = "https://api-1234abcd.duosecurity.com/oauth/v1/token";
        let first = jose::verify_hs512(&duo.client_assertion(aud, NOW), SECRET.as_bytes()).unwrap();
        let second =
            jose::verify_hs512(&duo.client_assertion(aud, NOW), SECRET.as_bytes()).unwrap();
        assert_eq!(first["iss"], ID);
        assert_eq!(first["sub"], ID);
        assert_eq!(first["aud"], aud);
        assert_eq!(first["exp"], NOW + 300);
        assert_eq!(first["iat"], NOW);
        let jti = first["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 36);
        assert_ne!(first["jti"], second["jti"]);
    }

    #[test]
    fn random_states_are_36_alphanumerics_and_differ() {
        let a = random_state();
        assert_eq!(a.len(), 36);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, random_state());
    }

    #[test]
    fn a_good_id_token_verifies() {
        assert_eq!(
            verify_with(|_| {}),
            Ok(IdToken {
                username: "alice".to_owned(),
                status_msg: "Login Successful".to_owned()
            })
        );
    }

    #[test]
    fn the_audience_may_be_an_array_containing_the_client_id() {
        assert!(verify_with(|c| drop(c.insert("aud".into(), json!(["other", ID])))).is_ok());
        let reason = invalid_reason(verify_with(|c| {
            c.insert("aud".into(), json!(["other"]));
        }));
        assert!(reason.contains("audience"), "{reason}");
        for aud in [json!("DIOTHER0000000000000"), json!(null), json!(7)] {
            let reason = invalid_reason(verify_with(|c| {
                c.insert("aud".into(), aud);
            }));
            assert!(reason.contains("audience"));
        }
        invalid_reason(verify_with(|c| drop(c.remove("aud"))));
    }

    #[test]
    fn the_issuer_must_be_this_hosts_token_endpoint() {
        for iss in [
            json!("https://api-evil.duosecurity.com/oauth/v1/token"),
            json!("https://api-1234abcd.duosecurity.com"),
            json!(null),
        ] {
            let reason = invalid_reason(verify_with(|c| {
                c.insert("iss".into(), iss);
            }));
            assert!(reason.contains("issued"), "{reason}");
        }
    }

    #[test]
    fn exp_and_iat_must_be_numbers_and_floats_are_accepted() {
        assert!(
            verify_with(|c| {
                c.insert("exp".into(), json!(1_800_000_299.5));
                c.insert("iat".into(), json!(1_799_999_999.25));
            })
            .is_ok()
        );
        for name in ["exp", "iat"] {
            let reason = invalid_reason(verify_with(|c| drop(c.remove(name))));
            assert!(reason.contains(name), "{reason}");
            let reason = invalid_reason(verify_with(|c| {
                c.insert(name.into(), json!("1800000000"));
            }));
            assert!(reason.contains(name), "{reason}");
        }
    }

    #[test]
    fn expiry_has_sixty_seconds_of_leeway() {
        // exp = NOW + 300: valid while now < exp + 60.
        assert!(verify_at(NOW + 359, |_| {}).is_ok());
        let reason = invalid_reason(verify_at(NOW + 360, |_| {}));
        assert!(reason.contains("expired"));
    }

    #[test]
    fn issued_at_has_sixty_seconds_of_leeway() {
        // iat = NOW: valid while iat - 60 <= now.
        assert!(verify_at(NOW - 60, |_| {}).is_ok());
        let reason = invalid_reason(verify_at(NOW - 61, |_| {}));
        assert!(reason.contains("future"));
    }

    #[test]
    fn another_user_or_nonce_is_refused() {
        let reason = invalid_reason(verify_with(|c| {
            c.insert("preferred_username".into(), json!("mallory"));
        }));
        assert!(reason.contains("another user"));
        invalid_reason(verify_with(|c| drop(c.remove("preferred_username"))));
        let reason = invalid_reason(verify_with(|c| {
            c.insert("nonce".into(), json!("another-nonce"));
        }));
        assert!(reason.contains("nonce"));
        invalid_reason(verify_with(|c| drop(c.remove("nonce"))));
    }

    #[test]
    fn only_allow_passes_and_deny_says_why() {
        assert_eq!(
            verify_with(|c| {
                c.insert(
                    "auth_result".into(),
                    json!({"status": "deny", "status_msg": "Login denied"}),
                );
            }),
            Err(DuoError::Denied {
                status_msg: "Login denied".to_owned()
            })
        );
        assert!(matches!(
            verify_with(|c| {
                c.insert("auth_result".into(), json!({"status": "fraud"}));
            }),
            Err(DuoError::Denied { .. })
        ));
        for result in [json!({"status_msg": "x"}), json!("allow"), json!(null)] {
            invalid_reason(verify_with(|c| {
                c.insert("auth_result".into(), result);
            }));
        }
        invalid_reason(verify_with(|c| drop(c.remove("auth_result"))));
    }

    #[test]
    fn a_token_signed_otherwise_is_refused() {
        let Value::Object(claims) = good_claims() else {
            unreachable!()
        };
        let token = jose::sign_hs512(&Value::Object(claims), b"another secret").unwrap();
        let reason = invalid_reason(duo(None).verify_id_token(&token, "alice", "the-nonce", NOW));
        assert!(reason.contains("signature"));
        invalid_reason(duo(None).verify_id_token("garbage", "alice", "the-nonce", NOW));
    }

    #[test]
    fn errors_translate_to_what_to_do() {
        let legacy = translate_callback_error(
            "invalid_client",
            "Integration type does not support frameless access",
        );
        assert!(legacy.contains("Protect an Application"), "{legacy}");
        assert!(legacy.contains("\"Web SDK\""));
        let rejected = DuoError::Rejected {
            error: "invalid_client".into(),
            description: String::new(),
        };
        assert!(rejected.user_message().contains("Protect an Application"));
        assert_eq!(
            translate_callback_error("invalid_grant", "expired"),
            "The Duo sign-in expired or was already used; start again."
        );
        assert!(translate_callback_error("access_denied", "User denied").contains("denied"));
        assert!(
            DuoError::Unavailable("timeout".into())
                .user_message()
                .contains("could not be reached")
        );
        assert!(
            DuoError::Denied {
                status_msg: "Login denied".into()
            }
            .user_message()
            .contains("Login denied")
        );
        assert!(
            DuoError::InvalidToken("it has expired".into())
                .user_message()
                .contains("clock")
        );
        assert!(translate_callback_error("temporarily_unavailable", "").contains("Try again"));
    }

    #[test]
    fn a_health_check_refusing_the_credentials_is_rejected_not_unavailable() {
        let envelope = br#"{"stat": "FAIL", "code": 40002, "message": "invalid_client", "message_detail": "The provided client_assertion was invalid."}"#;
        let oauth = br#"{"error": "invalid_client", "error_description": "Invalid Client ID"}"#;
        for (body, detail) in [
            (&envelope[..], "The provided client_assertion was invalid."),
            (&oauth[..], "Invalid Client ID"),
        ] {
            let refused = credentials_refused(body).expect("recognised");
            assert_eq!(
                refused,
                DuoError::Rejected {
                    error: "invalid_client".into(),
                    description: detail.into()
                }
            );
            assert!(refused.user_message().contains("Protect an Application"));
        }
        let maintenance = br#"{"stat": "FAIL", "message": "Service unavailable"}"#;
        assert_eq!(credentials_refused(maintenance), None);
        assert_eq!(credentials_refused(b"<html>"), None);
    }

    #[test]
    fn unknown_codes_show_code_and_shortened_description() {
        let text = translate_callback_error("weird_error", "Something odd");
        assert_eq!(text, "Duo reported an error: weird_error: Something odd");
        let long = "x".repeat(1000);
        let text = translate_callback_error("weird_error", &format!("{long}\n\u{7}"));
        assert!(text.len() < 300, "{}", text.len());
        assert!(text.ends_with("..."));
        assert!(!translate_callback_error("e\r\nSet-Cookie: a=b", "").contains('\n'));
    }

    #[test]
    fn an_unreachable_duo_is_unavailable() {
        // A port that was free a moment ago: the connection is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let duo = duo(Some(&format!("http://127.0.0.1:{port}")));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime.block_on(duo.health_check(NOW)).unwrap_err();
        assert!(matches!(error, DuoError::Unavailable(_)), "{error:?}");
        let error = runtime
            .block_on(duo.exchange_code("code", "https://x/cb", NOW))
            .unwrap_err();
        assert!(matches!(error, DuoError::Unavailable(_)), "{error:?}");
    }
}
