//! Fuzzing entry points: one function per parser that reads outside input, each taking the
//! fuzzer's bytes, calling the real parser (never a copy of it) and asserting what the parser
//! promises, so a wrong answer fails like a crash does.
//!
//! Hidden from the documentation and not part of the API: the `fuzz/` crate's libFuzzer targets
//! and `tests/fuzz_smoke.rs` are its only callers (see docs/fuzzing.md). Keep each function thin:
//! the modules it calls change, and only the call should need fixing.
//!
//! | function | parser |
//! |---|---|
//! | [`forwarded`] | `net::client_ip::resolve` (X-Forwarded-For, Forwarded, X-Real-IP, CF-Connecting-IP) |
//! | [`cookies`] | `web::cookie::Cookies::read`/`read_pending`, then `token::looks_valid`/`hash` |
//! | [`csrf`] | `csrf::verify` |
//! | [`form`] | `web::extract::Form` under axum's `DefaultBodyLimit` |
//! | [`license_request`] | the verify endpoint's JSON (`VerifyRequest`), key format, bindings |
//! | [`license_answer`] | the verifier crate's response framing and signed answer |
//! | [`duo_jwt`] | `twofactor::duo::jwt::verify` and `Duo::verify_id_token` |
//! | [`config`] | `config::load` (TOML text to a validated `Config`) |

use crate::net::client_ip::{self, ForwardHeader, MAX_HOPS};
use crate::net::range::{RangeSet, canonical};
use std::net::IpAddr;
use std::sync::OnceLock;

/// The peers [`forwarded`] picks from: loopback, private, public, Cloudflare, IPv6 and a
/// v4-mapped address, trusted or not under [`trusted_set`].
const PEERS: [&str; 8] = [
    "127.0.0.1",
    "10.1.2.3",
    "203.0.113.9",
    "173.245.48.1",
    "::1",
    "2001:db8::5",
    "::ffff:10.0.0.1",
    "2001:4860::8888",
];

fn trusted_set() -> &'static RangeSet {
    static SET: OnceLock<RangeSet> = OnceLock::new();
    SET.get_or_init(|| {
        RangeSet::from_entries(
            &["loopback", "10.0.0.0/8", "2001:db8::/32", "cloudflare"],
            &crate::net::cloudflare::built_in(),
        )
        .expect("the fuzzing trusted list is valid")
    })
}

/// Forwarding headers: byte 0 picks the header and the peer; the rest, split at newlines, are
/// the header's values in order.
///
/// # Panics
/// When the resolved address is neither the peer nor one of the header's entries, an untrusted
/// peer's header was believed, or the walk stepped over an untrusted hop.
pub fn forwarded(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let header = ForwardHeader::ALL[usize::from(pick & 3)];
    let peer: IpAddr = PEERS[usize::from(pick >> 2) % PEERS.len()]
        .parse()
        .expect("a valid peer");
    let trusted = trusted_set();
    let r = client_ip::resolve(peer, header, rest.split(|b| *b == b'\n'), trusted);
    assert_eq!(r.peer, canonical(peer));
    assert!(r.hops.len() <= MAX_HOPS + 1, "more hops than the bound");
    assert_eq!(
        r.malformed,
        r.hops.iter().filter(|h| h.ip.is_none()).count(),
        "malformed entries miscounted"
    );
    if !r.peer_trusted {
        assert_eq!(r.client, r.peer, "an untrusted peer's header was believed");
        return;
    }
    if r.client == r.peer {
        return;
    }
    let at = r.hops[1..]
        .iter()
        .position(|h| h.ip == Some(r.client))
        .expect("the client is the peer or one of the header's entries");
    let before = &r.hops[1..=at + 1];
    if trusted.contains(r.client) {
        assert!(
            r.hops[1..].iter().all(|h| h.ip.is_none() || h.trusted),
            "a trusted entry chosen while an untrusted one was examined"
        );
    } else {
        assert!(
            before[..before.len() - 1]
                .iter()
                .all(|h| h.ip.is_none() || h.trusted),
            "the walk stepped over an untrusted hop"
        );
    }
}

/// Cookie headers: the input, split at newlines, is the request's `Cookie` headers (values a
/// client cannot send, such as ones with control characters, are dropped as hyper drops them).
///
/// # Panics
/// When a cookie value is empty or belongs to a name the headers do not contain, or a value
/// passes the shape check without being 43 URL-safe characters.
pub fn cookies(data: &[u8]) {
    use crate::session::Realm;
    use axum::http::{HeaderMap, HeaderValue, header::COOKIE};
    let mut headers = HeaderMap::new();
    for value in data.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(COOKIE, v);
        }
    }
    let all: Vec<&[u8]> = headers
        .get_all(COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    let contains = |needle: &str| {
        all.iter()
            .any(|h| h.windows(needle.len()).any(|w| w == needle.as_bytes()))
    };
    for https in [false, true] {
        let cookies = crate::web::cookie::Cookies::for_https(https);
        for realm in [Realm::Client, Realm::Admin] {
            for (name, value) in [
                (cookies.name(realm), cookies.read(&headers, realm)),
                (
                    cookies.pending_name(realm),
                    cookies.read_pending(&headers, realm),
                ),
            ] {
                let Some(value) = value else { continue };
                assert!(!value.is_empty(), "an empty cookie value was returned");
                assert!(contains(name), "a value for {name}, which was not sent");
                // What the session and pending sign-in lookups do next.
                if crate::token::looks_valid(&value) {
                    assert_eq!(value.len(), crate::token::ENCODED_LEN);
                    assert_eq!(crate::token::hash(&value).len(), 64);
                }
            }
        }
    }
}

const CSRF_KEY: &[u8] = b"fuzzing-csrf-key-0123456789abcdef";

/// CSRF tokens: byte 0 holds the flags (a live session, anonymous tokens allowed), bytes 1-8
/// the clock, the rest the presented token.
///
/// # Panics
/// When a token the fuzzer made up verifies, or a token this server made does not.
pub fn csrf(data: &[u8]) {
    use crate::csrf::{anonymous_token, session_token, verify};
    if data.len() < 9 {
        return;
    }
    let flags = data[0];
    let now = i64::from_le_bytes(data[1..9].try_into().expect("eight bytes"));
    let session = (flags & 1 == 1).then(|| crate::token::hex(&data[1..5]));
    let allow_anonymous = flags & 2 == 2;
    let presented = String::from_utf8_lossy(&data[9..]);
    let result = verify(
        CSRF_KEY,
        Some(&presented),
        session.as_deref(),
        allow_anonymous,
        now,
    );
    if result.is_ok() {
        let token = presented.trim();
        let genuine = session
            .as_deref()
            .is_some_and(|h| token == session_token(CSRF_KEY, h))
            || token
                .strip_prefix("a.")
                .and_then(|r| r.split_once('.'))
                .and_then(|(issued, _)| issued.parse::<i64>().ok())
                .is_some_and(|at| token == anonymous_token(CSRF_KEY, at));
        assert!(genuine, "a token this server did not make verified");
    }
    if presented.len() > 200 {
        assert!(result.is_err(), "an over-long token verified");
    }
    // Round trips: what the server makes verifies where it belongs, and only there.
    if let Some(h) = session.as_deref() {
        let t = session_token(CSRF_KEY, h);
        assert_eq!(
            verify(CSRF_KEY, Some(&t), Some(h), allow_anonymous, now),
            Ok(())
        );
        assert!(verify(b"another key", Some(&t), Some(h), allow_anonymous, now).is_err());
    }
    let t = anonymous_token(CSRF_KEY, now);
    assert_eq!(verify(CSRF_KEY, Some(&t), None, true, now), Ok(()));
    assert!(verify(CSRF_KEY, Some(&t), None, false, now).is_err());
}

/// The body limit [`form`] runs under: smaller than the default `server.max_body_bytes` so that
/// the fuzzer's inputs (4 KiB by default) cross it.
pub const FORM_LIMIT: usize = 1024;

/// Form bodies: byte 0 picks the form and the content type, the rest is the body, extracted by
/// [`crate::web::extract::Form`] under axum's `DefaultBodyLimit` as the router sets it.
///
/// # Panics
/// When the extractor answers anything but 200 (read) or 400 (refused, with our page), or reads
/// a body over the limit.
pub fn form(data: &[u8]) {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header::CONTENT_TYPE};
    use tower::ServiceExt as _;
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let content_type = match pick >> 4 {
        0 => "text/plain",
        1 => "application/x-www-form-urlencoded; charset=utf-8",
        _ => "application/x-www-form-urlencoded",
    };
    let path = FORM_PATHS[usize::from(pick & 0x0f) % FORM_PATHS.len()];
    let request = Request::post(path)
        .header(CONTENT_TYPE, content_type)
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    let status = runtime()
        .block_on(form_router().clone().oneshot(request))
        .expect("infallible")
        .status();
    assert!(
        status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
        "the form extractor answered {status}"
    );
    if body.len() > FORM_LIMIT || pick >> 4 == 0 {
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "a body it must refuse was read"
        );
    }
}

const FORM_PATHS: [&str; 7] = [
    "/login",
    "/register",
    "/admin/login",
    "/admin/setup",
    "/2fa",
    "/fields",
    "/settings",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

/// One route per real form type, each extracting it with our `Form`.
fn form_router() -> &'static axum::Router {
    use crate::web::extract::Form;
    use axum::routing::post;
    use std::collections::BTreeMap;
    static ROUTER: OnceLock<axum::Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        axum::Router::new()
            .route(
                "/login",
                post(|Form(_): Form<crate::web::client::login::LoginForm>| async { "ok" }),
            )
            .route(
                "/register",
                post(|Form(_): Form<crate::web::client::register::RegisterForm>| async { "ok" }),
            )
            .route(
                "/admin/login",
                post(|Form(_): Form<crate::web::admin::login::AdminLoginForm>| async { "ok" }),
            )
            .route(
                "/admin/setup",
                post(|Form(_): Form<crate::web::admin::setup::SetupForm>| async { "ok" }),
            )
            .route(
                "/2fa",
                post(
                    |Form(_): Form<crate::web::twofactor::challenge::ChallengeForm>| async { "ok" },
                ),
            )
            .route(
                "/fields",
                post(|Form(f): Form<Vec<(String, String)>>| async move {
                    assert!(f.len() <= FORM_LIMIT, "more fields than bytes");
                    "ok"
                }),
            )
            .route(
                "/settings",
                post(|Form(_): Form<BTreeMap<String, String>>| async { "ok" }),
            )
            .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
    })
}

/// Licence checks: the input is the body of `POST /api/license/v1/verify`, read as the endpoint
/// reads it; a request that parses goes through the key format, the key hint of the access log
/// and the normalisation bindings are compared in.
///
/// # Panics
/// When a canonical key is not canonical, the hint leaks more than its shape, or normalising a
/// normalised value changes it (a first check would then not match the binding it just made).
pub fn license_request(data: &[u8]) {
    use license_verifier::key;
    use license_verifier::protocol::{VerifyRequest, Which};
    let Ok(request) = serde_json::from_slice::<VerifyRequest>(data) else {
        // The endpoint answers 400; the key field alone is what a person pastes.
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(k) = key::validate(text) {
                assert_eq!(
                    key::validate(&k),
                    Ok(k.clone()),
                    "the canonical key is not canonical"
                );
            }
        }
        return;
    };
    if let Ok(k) = key::validate(&request.key) {
        assert_eq!(
            key::validate(&k),
            Ok(k.clone()),
            "the canonical key is not canonical"
        );
        assert_eq!(k, k.to_ascii_uppercase());
    }
    let hint = crate::license::verify::key_hint(&request.key);
    let (_, hash) = hint.rsplit_once('#').expect("the hint ends with #hash");
    assert!(hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        hint.chars().count() <= 10 + 3 + 8,
        "the hint is longer than its shape"
    );
    for (which, value) in [
        (Which::Domain, &request.domain),
        (Which::Ip, &request.ip),
        (Which::Directory, &request.directory),
    ] {
        let once = which.normalise(value);
        assert_eq!(which.normalise(&once), once, "normalise is not idempotent");
    }
}

/// The licensing server's answer as the verifier crate reads it: HTTP framing, then the signed
/// answer (see `license_verifier::fuzzing::answer`).
pub fn license_answer(data: &[u8]) {
    license_verifier::fuzzing::answer(data);
}

const DUO_ID: &str = "DIABCDEFGHIJ01234567";
const DUO_SECRET: &str = "abcdefghijABCDEFGHIJ0123456789abcdefghij";
const DUO_HOST: &str = "api-1234abcd.duosecurity.com";
const DUO_NOW: i64 = 1_800_000_000;

fn duo() -> &'static crate::twofactor::duo::Duo {
    static DUO: OnceLock<crate::twofactor::duo::Duo> = OnceLock::new();
    DUO.get_or_init(|| {
        crate::twofactor::duo::Duo::new(
            crate::twofactor::duo::Credentials {
                client_id: DUO_ID.to_owned(),
                client_secret: secrecy::SecretString::from(DUO_SECRET.to_owned()),
                api_hostname: DUO_HOST.to_owned(),
            },
            None,
            crate::net::http::client(std::time::Duration::from_secs(1)).expect("an HTTP client"),
        )
    })
}

/// Duo's ID tokens: byte 0 picks the mode. 0: the rest is the token as Duo's token endpoint
/// would return it. 1: the rest is the claims (JSON text), signed with the client secret, so the
/// claim checks are reached. 2: the rest is the header, over valid claims, signed.
///
/// # Panics
/// When a token not signed with the secret verifies, a signed JSON object is refused by the
/// JWT layer, or the ID token check accepts claims that are not this sign-in's.
pub fn duo_jwt(data: &[u8]) {
    use crate::twofactor::duo::jwt;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use serde_json::Value;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let secret = DUO_SECRET.as_bytes();
    let good_claims = || {
        serde_json::json!({
            "aud": DUO_ID, "iss": format!("https://{DUO_HOST}/oauth/v1/token"),
            "iat": DUO_NOW, "exp": DUO_NOW + 300, "preferred_username": "alice",
            "nonce": "the-nonce", "auth_result": {"status": "allow", "status_msg": "ok"},
        })
        .to_string()
    };
    let signed = |header: &[u8], payload: &[u8]| {
        use hmac::{KeyInit as _, Mac as _};
        let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(secret).expect("any key");
        mac.update(input.as_bytes());
        format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
    };
    let token = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => signed(br#"{"alg":"HS512","typ":"JWT"}"#, rest),
        _ => signed(rest, good_claims().as_bytes()),
    };
    let verified = jwt::verify(&token, secret);
    match mode % 3 {
        // Only genuine tokens verify (the seeds hold some), and only in their one encoding.
        0 => {
            if verified.is_ok() {
                let parts: Vec<&str> = token.split('.').collect();
                let decode = |p: &str| B64.decode(p).expect("a verified part decodes");
                assert_eq!(
                    token,
                    signed(&decode(parts[0]), &decode(parts[1])),
                    "a token verified in an encoding we would not write"
                );
            }
        }
        1 => assert_eq!(
            verified.is_ok(),
            matches!(serde_json::from_slice(rest), Ok(Value::Object(_))),
            "the JWT layer disagrees with JSON on what an object is"
        ),
        _ => {
            let alg = serde_json::from_slice::<Value>(rest)
                .ok()
                .and_then(|h| h.get("alg").cloned());
            assert_eq!(
                verified.is_ok(),
                alg == Some(Value::String("HS512".into())),
                "a header without alg HS512 was accepted, or one with it refused"
            );
        }
    }
    let Ok(id) = duo().verify_id_token(&token, "alice", "the-nonce", DUO_NOW) else {
        return;
    };
    assert_eq!(id.username, "alice");
    let claims = Value::Object(verified.expect("the ID token check passed, so the JWT verified"));
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["nonce"], "the-nonce");
    assert_eq!(claims["auth_result"]["status"], "allow");
    let for_us = claims["aud"] == DUO_ID
        || claims["aud"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == DUO_ID));
    assert!(for_us, "a token for another audience passed");
}

/// The configuration file: the input is the TOML text, loaded as `portcullis --config` loads it
/// (from a file, over the defaults and the environment).
///
/// # Panics
/// When an error names no key or says nothing of what is allowed.
pub fn config(data: &[u8]) {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        std::env::temp_dir().join(format!(
            "portcullis-fuzz-config-{}.toml",
            std::process::id()
        ))
    });
    if std::fs::write(path, data).is_err() {
        return;
    }
    match crate::config::load(Some(path)) {
        Ok(config) => {
            assert!(config.max_body_bytes > 0);
            assert!(config.sources.iter().all(|s| !s.key.is_empty()));
        }
        Err(e) => {
            assert!(!e.key.trim().is_empty(), "an error naming no key: {e}");
            assert!(
                !e.allowed.trim().is_empty(),
                "an error saying nothing allowed: {e}"
            );
        }
    }
}
