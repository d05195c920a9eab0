//! A fake Duo server speaking the Universal Prompt protocol of duo.md, so that tests never reach
//! Duo yet exercise the real HTTP exchange.
//!
//! It checks every field the way duo.md describes and records each protocol violation (tests
//! assert [`FakeDuo::violations`] is empty on good paths), so a client that merely "works with
//! this fake" has spoken the protocol exactly. What it answers is steered per test with
//! [`Health`] and [`TokenMode`]; its clock is set with [`FakeDuo::set_now`] to match the mock
//! clock the client is given.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use portcullis::twofactor::duo::random_state;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the health check answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// `{"stat": "OK", "response": {"timestamp": now}}`.
    #[default]
    Ok,
    /// `{"stat": "FAIL", ...}` with a message, as Duo answers when it cannot serve.
    Fail,
    /// An HTML page, as a captive portal or a broken proxy answers.
    Garbage,
}

/// What the token endpoint answers to a valid exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenMode {
    /// A correct ID token with `auth_result.status` "allow".
    #[default]
    Allow,
    /// A correct ID token with `auth_result.status` "deny".
    Deny,
    /// An ID token carrying another nonce.
    WrongNonce,
    /// An ID token for another client id.
    WrongAud,
    /// An ID token from another issuer.
    WrongIss,
    /// An ID token issued 10 minutes ago (so expired 5 minutes ago).
    Expired,
    /// An ID token signed with another secret.
    BadSignature,
    /// 400 `invalid_client`, what Duo says to legacy (Web SDK v2 / Auth API) credentials.
    InvalidClient,
}

const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long Duo would keep an unexchanged code.
const CODE_LIFETIME: i64 = 300;

/// A running fake Duo API host on a loopback port.
pub struct FakeDuo {
    /// `http://127.0.0.1:PORT`, the test override of the API base URL.
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    url: String,
    client_id: String,
    client_secret: String,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// `None`: the real time.
    now: Option<i64>,
    health: Health,
    token_mode: TokenMode,
    violations: Vec<String>,
    seen_jtis: HashSet<String>,
    codes: HashMap<String, Grant>,
    authorize_requests: usize,
    token_requests: usize,
    /// Health checks answered `invalid_client` (another application's credentials).
    credentials_refused: usize,
}

/// What an issued code was granted for.
struct Grant {
    redirect_uri: String,
    username: String,
    nonce: Option<String>,
    issued_at: i64,
    used: bool,
}

/// A refused request: recorded as a violation and answered with an OAuth error.
struct Refusal {
    error: &'static str,
    description: String,
}

/// A violation answered `invalid_request`.
fn bad(description: impl Into<String>) -> Refusal {
    Refusal {
        error: "invalid_request",
        description: description.into(),
    }
}

impl FakeDuo {
    /// Starts the fake on `127.0.0.1:0` for one application's credentials.
    pub async fn start(client_id: &str, client_secret: &str) -> FakeDuo {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            url: url.clone(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            inner: Mutex::new(Inner::default()),
        });
        let router = Router::new()
            .route(
                "/oauth/v1/health_check",
                post(health_check).fallback(unexpected),
            )
            .route("/oauth/v1/authorize", get(authorize).fallback(unexpected))
            .route("/oauth/v1/token", post(token).fallback(unexpected))
            .fallback(unexpected)
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeDuo { url, shared }
    }

    /// Sets the fake's clock (unix seconds); by default it reads the real time.
    pub fn set_now(&self, unix: i64) {
        self.shared.lock().now = Some(unix);
    }

    pub fn set_health(&self, health: Health) {
        self.shared.lock().health = health;
    }

    pub fn set_token_mode(&self, mode: TokenMode) {
        self.shared.lock().token_mode = mode;
    }

    /// Every protocol violation seen so far, as `endpoint: what`.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    pub fn authorize_requests(&self) -> usize {
        self.shared.lock().authorize_requests
    }

    pub fn token_requests(&self) -> usize {
        self.shared.lock().token_requests
    }

    /// How many health checks came with another application's credentials (answered
    /// `invalid_client`, as Duo does).
    pub fn credentials_refused(&self) -> usize {
        self.shared.lock().credentials_refused
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not hide the fake's record from the next assertion.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/oauth/v1/{name}", self.url)
    }

    /// Checks a client assertion (duo.md: HS512, iss = sub = client id, aud = the endpoint,
    /// exp within five minutes, a fresh 36-character jti).
    fn check_assertion(
        &self,
        inner: &mut Inner,
        token: &str,
        audience: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        let claims = hs512::verify(token, self.client_secret.as_bytes())
            .map_err(|e| bad(format!("client_assertion: {e}")))?;
        expect_claim(&claims, "iss", &self.client_id, "client_assertion")?;
        expect_claim(&claims, "sub", &self.client_id, "client_assertion")?;
        expect_claim(&claims, "aud", audience, "client_assertion")?;
        check_exp(&claims, now, "client_assertion")?;
        let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
        if jti.len() != 36 || !jti.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad(format!(
                "client_assertion: jti {jti:?} is not 36 letters and digits"
            )));
        }
        if !inner.seen_jtis.insert(jti.to_owned()) {
            return Err(bad(format!(
                "client_assertion: jti {jti:?} was used before"
            )));
        }
        Ok(())
    }
}

impl Inner {
    /// Records a refusal and turns it into Duo's OAuth error answer.
    fn refuse(&mut self, endpoint: &str, refusal: &Refusal) -> Response {
        self.violations
            .push(format!("{endpoint}: {}", refusal.description));
        oauth_error(refusal.error, &refusal.description)
    }

    fn now(&self) -> i64 {
        self.now
            .unwrap_or_else(|| jiff::Timestamp::now().as_second())
    }
}

async fn health_check(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    let now = inner.now();
    let checked = (|| {
        if query.is_some() {
            return Err(bad("parameters belong in the form body"));
        }
        let params = form_params(&headers, &body)?;
        let assertion = param(&params, "client_assertion")?;
        // Another application's credentials are no protocol violation: Duo answers them with
        // its FAIL envelope and `invalid_client`, which tests of wrong credentials rely on.
        let signed_by_us = hs512::verify(assertion, shared.client_secret.as_bytes()).is_ok();
        if param(&params, "client_id")? != shared.client_id || !signed_by_us {
            return Ok(false);
        }
        shared.check_assertion(&mut inner, assertion, &shared.endpoint("health_check"), now)?;
        Ok(true)
    })();
    match checked {
        Err(refusal) => return inner.refuse("health_check", &refusal),
        Ok(false) => {
            inner.credentials_refused += 1;
            return json_answer(
                StatusCode::BAD_REQUEST,
                &json!({
                    "stat": "FAIL",
                    "code": 40002,
                    "message": "invalid_client",
                    "message_detail": "The provided client_assertion was invalid.",
                    "timestamp": now,
                }),
            );
        }
        Ok(true) => {}
    }
    match inner.health {
        Health::Ok => json_answer(
            StatusCode::OK,
            &json!({"stat": "OK", "response": {"timestamp": now}}),
        ),
        Health::Fail => json_answer(
            StatusCode::OK,
            &json!({
                "stat": "FAIL",
                "code": 50301,
                "message": "Service unavailable",
                "message_detail": "Duo is undergoing maintenance",
            }),
        ),
        Health::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Sign in to the Wi-Fi</body></html>",
        )
            .into_response(),
    }
}

async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let mut inner = shared.lock();
    inner.authorize_requests += 1;
    let now = inner.now();
    let checked = (|| {
        let params = parse_params(query.unwrap_or_default().as_bytes())?;
        expect_param(&params, "response_type", "code")?;
        expect_param(&params, "client_id", &shared.client_id)?;
        let nonce = params.get("nonce").cloned();
        if let Some(nonce) = &nonce
            && !(16..=1024).contains(&nonce.len())
        {
            return Err(bad(format!(
                "nonce has {} characters, not 16 to 1024",
                nonce.len()
            )));
        }
        let request = param(&params, "request")?;
        let claims = hs512::verify(request, shared.client_secret.as_bytes())
            .map_err(|e| bad(format!("request: {e}")))?;
        expect_claim(&claims, "scope", "openid", "request")?;
        expect_claim(&claims, "client_id", &shared.client_id, "request")?;
        expect_claim(&claims, "iss", &shared.client_id, "request")?;
        expect_claim(&claims, "aud", &shared.url, "request")?;
        expect_claim(&claims, "response_type", "code", "request")?;
        check_exp(&claims, now, "request")?;
        if claims.get("use_duo_code_attribute") != Some(&Value::Bool(true)) {
            return Err(bad("request: use_duo_code_attribute is not true"));
        }
        let state = claims.get("state").and_then(Value::as_str).unwrap_or("");
        if !(16..=1024).contains(&state.chars().count()) {
            return Err(bad(format!(
                "request: state has {} characters, not 16 to 1024",
                state.chars().count()
            )));
        }
        let username = claims
            .get("duo_uname")
            .and_then(Value::as_str)
            .unwrap_or("");
        if username.is_empty() {
            return Err(bad("request: duo_uname is missing or empty"));
        }
        let redirect_uri = claims
            .get("redirect_uri")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut location = url::Url::parse(redirect_uri)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                bad(format!(
                    "request: redirect_uri {redirect_uri:?} is not an http(s) URL"
                ))
            })?;
        let code = random_state();
        location
            .query_pairs_mut()
            .append_pair("state", state)
            .append_pair("duo_code", &code);
        Ok((
            code,
            Grant {
                redirect_uri: redirect_uri.to_owned(),
                username: username.to_owned(),
                nonce,
                issued_at: now,
                used: false,
            },
            location,
        ))
    })();
    match checked {
        Ok((code, grant, location)) => {
            inner.codes.insert(code, grant);
            (
                StatusCode::FOUND,
                [(header::LOCATION, location.to_string())],
            )
                .into_response()
        }
        Err(refusal) => inner.refuse("authorize", &refusal),
    }
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    inner.token_requests += 1;
    let now = inner.now();
    let mode = inner.token_mode;
    // Duo's Python client sends the parameters in the query string, others in a form body.
    let checked = (|| {
        let mut params = form_params(&headers, &body)?;
        for (name, value) in parse_params(query.unwrap_or_default().as_bytes())? {
            if params.insert(name.clone(), value).is_some() {
                return Err(bad(format!("parameter {name} given twice")));
            }
        }
        expect_param(&params, "grant_type", "authorization_code")?;
        expect_param(&params, "client_id", &shared.client_id)?;
        expect_param(&params, "client_assertion_type", CLIENT_ASSERTION_TYPE)?;
        let assertion = param(&params, "client_assertion")?;
        shared.check_assertion(&mut inner, assertion, &shared.endpoint("token"), now)?;
        let code = param(&params, "code")?.to_owned();
        let redirect_uri = param(&params, "redirect_uri")?.to_owned();
        Ok((code, redirect_uri))
    })();
    let (code, redirect_uri) = match checked {
        Ok(found) => found,
        Err(refusal) => return inner.refuse("token", &refusal),
    };
    if mode == TokenMode::InvalidClient {
        return oauth_error(
            "invalid_client",
            "Integration type does not support frameless access",
        );
    }
    let invalid_grant = |description: String| Refusal {
        error: "invalid_grant",
        description,
    };
    let granted = match inner.codes.get_mut(&code) {
        None => Err(invalid_grant(format!("code {code:?} was never issued"))),
        Some(grant) if grant.used => Err(invalid_grant(format!("code {code:?} was already used"))),
        Some(grant) => {
            grant.used = true;
            if now - grant.issued_at > CODE_LIFETIME {
                Err(invalid_grant(format!("code {code:?} has expired")))
            } else if grant.redirect_uri != redirect_uri {
                Err(invalid_grant(format!(
                    "redirect_uri {redirect_uri:?} is not the authorized {:?}",
                    grant.redirect_uri
                )))
            } else {
                Ok((grant.username.clone(), grant.nonce.clone()))
            }
        }
    };
    let (username, nonce) = match granted {
        Ok(granted) => granted,
        Err(refusal) => return inner.refuse("token", &refusal),
    };
    let id_token = id_token(&shared, mode, now, &username, nonce.as_deref());
    json_answer(
        StatusCode::OK,
        &json!({
            "id_token": id_token,
            "access_token": "x",
            "expires_in": 3600,
            "token_type": "Bearer",
        }),
    )
}

/// The ID token for an exchange, tampered as `mode` says.
fn id_token(
    shared: &Shared,
    mode: TokenMode,
    now: i64,
    username: &str,
    nonce: Option<&str>,
) -> String {
    let issued = if mode == TokenMode::Expired {
        now - 600
    } else {
        now
    };
    let (status, status_msg) = if mode == TokenMode::Deny {
        ("deny", "Login denied")
    } else {
        ("allow", "Login Successful")
    };
    let mut claims = json!({
        "aud": shared.client_id,
        "iss": shared.endpoint("token"),
        "iat": issued,
        "exp": issued + 300,
        "sub": username,
        "preferred_username": username,
        "auth_time": issued,
        "auth_result": {"result": status, "status": status, "status_msg": status_msg},
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    match mode {
        TokenMode::WrongNonce => claims["nonce"] = json!("a-nonce-from-another-sign-in"),
        TokenMode::WrongAud => claims["aud"] = json!("DIOTHERAPPLICATION00"),
        TokenMode::WrongIss => {
            claims["iss"] = json!("https://api-other.duosecurity.com/oauth/v1/token");
        }
        _ => {}
    }
    let secret = if mode == TokenMode::BadSignature {
        "another-secret-of-forty-characters-00000".to_owned()
    } else {
        shared.client_secret.clone()
    };
    hs512::sign(&claims, secret.as_bytes())
}

/// Anything that is not one of the three endpoints with its method.
async fn unexpected(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    shared
        .lock()
        .refuse("router", &bad(format!("unexpected request {method} {uri}")))
}

/// Parameters of a form body, which must be declared as one.
fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Refusal> {
    if body.is_empty() {
        return Ok(HashMap::new());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(bad(format!(
            "the body is sent as {content_type:?}, not application/x-www-form-urlencoded"
        )));
    }
    parse_params(body)
}

/// URL-encoded parameters; a name given twice is a violation.
fn parse_params(raw: &[u8]) -> Result<HashMap<String, String>, Refusal> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(raw).into_owned() {
        if params.insert(name.clone(), value).is_some() {
            return Err(bad(format!("parameter {name} given twice")));
        }
    }
    Ok(params)
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Refusal> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad(format!("parameter {name} is missing")))
}

fn expect_param(
    params: &HashMap<String, String>,
    name: &str,
    expected: &str,
) -> Result<(), Refusal> {
    let value = param(params, name)?;
    if value == expected {
        Ok(())
    } else {
        Err(bad(format!(
            "parameter {name} is {value:?}, expected {expected:?}"
        )))
    }
}

fn expect_claim(
    claims: &Map<String, Value>,
    name: &str,
    expected: &str,
    token: &str,
) -> Result<(), Refusal> {
    match claims.get(name) {
        Some(Value::String(value)) if value == expected => Ok(()),
        other => Err(bad(format!(
            "{token}: claim {name} is {other:?}, expected {expected:?}"
        ))),
    }
}

/// `exp` is a number (Duo's clients send floats) in `(now, now + 300]`.
fn check_exp(claims: &Map<String, Value>, now: i64, token: &str) -> Result<(), Refusal> {
    let Some(exp) = claims.get("exp").and_then(Value::as_f64) else {
        return Err(bad(format!("{token}: exp is missing or not a number")));
    };
    // Test timestamps are far below 2^53, so the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let now = now as f64;
    if exp <= now || exp > now + 300.0 {
        return Err(bad(format!(
            "{token}: exp {exp} is not within (now, now + 300] for now = {now}"
        )));
    }
    Ok(())
}

fn oauth_error(error: &str, description: &str) -> Response {
    json_answer(
        StatusCode::BAD_REQUEST,
        &json!({"error": error, "error_description": description}),
    )
}

fn json_answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Duo's side of HS512, written here from RFC 7515 and RFC 7518 rather than borrowed from the
/// product (which uses a JOSE library): the fake checks our tokens the way another implementation
/// would, so a bug shared by both sides cannot hide.
pub mod hs512 {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hmac::{Hmac, KeyInit as _, Mac as _};
    use serde_json::{Map, Value};

    fn mac(secret: &[u8], input: &str) -> Hmac<sha2::Sha512> {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret).expect("HMAC takes any key");
        mac.update(input.as_bytes());
        mac
    }

    /// `header.payload.signature` with the header `{"alg":"HS512","typ":"JWT"}`.
    pub fn sign(claims: &Value, secret: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(r#"{"alg":"HS512","typ":"JWT"}"#),
            B64.encode(claims.to_string())
        );
        let signature = B64.encode(mac(secret, &input).finalize().into_bytes());
        format!("{input}.{signature}")
    }

    /// The claims of a token whose header says HS512 and whose signature matches.
    pub fn verify(token: &str, secret: &[u8]) -> Result<Map<String, Value>, String> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err("not three parts".to_owned());
        };
        let decode = |part: &str, name: &str| {
            B64.decode(part)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .ok_or_else(|| format!("the {name} is not base64url JSON"))
        };
        if decode(header, "header")?.get("alg") != Some(&Value::from("HS512")) {
            return Err("the header's alg is not HS512".to_owned());
        }
        let signature = B64
            .decode(signature)
            .map_err(|_| "the signature is not base64url")?;
        mac(secret, &format!("{header}.{payload}"))
            .verify_slice(&signature)
            .map_err(|_| "the signature does not match".to_owned())?;
        match decode(payload, "payload")? {
            Value::Object(claims) => Ok(claims),
            _ => Err("the payload is not an object".to_owned()),
        }
    }
}
