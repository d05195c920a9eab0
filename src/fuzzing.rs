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
//! | [`forwarded`] | `net::client_ip::resolve_with` (a configured header and X-Forwarded-For) |
//! | [`cookies`] (in `web::fuzz_entry`) | `web::cookie::Cookies::read`/`read_pending`, then `token::looks_valid`/`hash` |
//! | [`csrf`] | `csrf::verify` |
//! | [`form`] (in `web::fuzz_entry`) | `web::extract::Form` under axum's `DefaultBodyLimit` |
//! | [`license_request`] | the verify endpoint's JSON (`VerifyRequest`), key format, bindings |
//! | [`license_answer`] | the verifier crate's response framing and signed answer |
//! | [`duo_jwt`] | `jose::verify_hs512` (the JOSE layer over `jsonwebtoken`) and `Duo::verify_id_token` |
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

/// `proxy.trusted` for [`forwarded`]: with Cloudflare's ranges (`with_cloudflare`) or without,
/// so that a Cloudflare address that is not trusted is reached too.
fn trusted_set(with_cloudflare: bool) -> &'static RangeSet {
    static SETS: OnceLock<[RangeSet; 2]> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        let built_in = crate::net::cloudflare::built_in();
        let set = |entries: &[&str]| {
            RangeSet::from_entries(entries, &built_in).expect("the fuzzing trusted list is valid")
        };
        [
            set(&["loopback", "10.0.0.0/8", "2001:db8::/32"]),
            set(&["loopback", "10.0.0.0/8", "2001:db8::/32", "cloudflare"]),
        ]
    });
    &sets[usize::from(with_cloudflare)]
}

/// Cloudflare's edge ranges (the built-in list) as [`client_ip::Trust::cloudflare`].
fn cloudflare_set() -> &'static RangeSet {
    static SET: OnceLock<RangeSet> = OnceLock::new();
    SET.get_or_init(|| {
        RangeSet::from_entries(&["cloudflare"], &crate::net::cloudflare::built_in())
            .expect("the built-in Cloudflare ranges are valid")
    })
}

/// Forwarding headers as a request brings them to [`client_ip::resolve_with`]. Byte 0: bits 0-1
/// the configured header, bits 2-4 the peer, bit 5 `operator_listed`, bit 6 whether a Cloudflare
/// set is given, bit 7 whether `proxy.trusted` lists `cloudflare`. The rest, split at the first
/// NUL byte (which no header value can hold): before it the configured header's values, after
/// it the `X-Forwarded-For` values, each split at newlines.
///
/// # Panics
/// When an untrusted peer's headers were believed; the client is neither the peer nor an entry
/// of one of the two headers; a walk stepped over an untrusted hop or read the chain out of
/// order; a `CF-Connecting-IP` was believed though the hop that handed the request on is not a
/// trusted Cloudflare address; or an `X-Real-IP` was believed though the operator did not list
/// the proxy or `X-Forwarded-For` disagrees.
pub fn forwarded(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let header = ForwardHeader::ALL[usize::from(pick & 3)];
    let peer: IpAddr = PEERS[usize::from(pick >> 2) % PEERS.len()]
        .parse()
        .expect("a valid peer");
    let empty = RangeSet::default();
    let trust = client_ip::Trust {
        trusted: trusted_set(pick & 0x80 != 0),
        cloudflare: if pick & 0x40 != 0 {
            cloudflare_set()
        } else {
            &empty
        },
        operator_listed: pick & 0x20 != 0,
    };
    let (values, xff) = match rest.iter().position(|b| *b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let r = client_ip::resolve_with(
        peer,
        header,
        values.split(|c| *c == b'\n'),
        xff.split(|c| *c == b'\n'),
        &trust,
    );
    check_resolution(&r, peer, header, (values, xff), &trust);
}

/// The rules of `src/net/client_ip.rs`'s module header, checked on one resolution.
fn check_resolution(
    r: &client_ip::Resolution,
    peer: IpAddr,
    header: ForwardHeader,
    (values, xff): (&[u8], &[u8]),
    trust: &client_ip::Trust<'_>,
) {
    let xff_name = ForwardHeader::XForwardedFor.name();
    assert_eq!(r.peer, canonical(peer));
    assert_eq!(r.hops[0].ip, Some(r.peer), "the first hop is not the peer");
    assert!(r.hops.len() <= 2 * MAX_HOPS + 2, "more hops than the bound");
    assert_eq!(
        r.malformed,
        r.hops.iter().filter(|h| h.ip.is_none()).count(),
        "malformed entries miscounted"
    );
    if !r.peer_trusted {
        assert_eq!(r.client, r.peer, "an untrusted peer's header was believed");
        assert_eq!(r.hops.len(), 1, "an untrusted peer's header was read");
        return;
    }
    // Every hop read from a header is an entry written in that header (the configured one, or
    // X-Forwarded-For read alongside CF-Connecting-IP or X-Real-IP).
    let reads_xff = matches!(
        header,
        ForwardHeader::CfConnectingIp | ForwardHeader::XRealIp
    );
    for h in &r.hops[1..] {
        let source = if h.via == header.name() {
            values
        } else {
            assert!(
                reads_xff && h.via == xff_name,
                "a hop from {} read for {}",
                h.via,
                header.name()
            );
            xff
        };
        if let Some(ip) = h.ip {
            // `raw` is cut at 64 characters (an entry that long can still parse once its
            // quotes are trimmed), so only a whole one can be parsed again.
            if h.raw.chars().count() < 64 {
                assert_eq!(client_ip::parse_entry(&h.raw), Some(ip), "a hop misparsed");
            }
            assert!(
                source.windows(h.raw.len()).any(|w| w == h.raw.as_bytes()),
                "the hop {} is not in its header",
                h.raw
            );
        }
    }
    // A chain is walked right to left over trusted hops only: every examined entry but the
    // last is trusted (or unreadable).
    let chain: Vec<&client_ip::Hop> = r.hops[1..]
        .iter()
        .filter(|h| h.via == xff_name || h.via == ForwardHeader::Forwarded.name())
        .collect();
    let chain_text = match header {
        ForwardHeader::XForwardedFor => Some(values),
        ForwardHeader::Forwarded => None,
        _ => Some(xff),
    };
    if let Some(text) = chain_text.filter(|t| t.len() <= client_ip::MAX_HEADER_BYTES) {
        // Read from the right, in order, skipping nothing but empty entries.
        let text = String::from_utf8_lossy(text).replace('\n', ",");
        let expected: Vec<String> = text
            .split(',')
            .rev()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .take(MAX_HOPS)
            .map(|e| e.chars().take(64).collect())
            .collect();
        let read: Vec<&str> = chain.iter().map(|h| h.raw.as_str()).collect();
        assert!(
            expected.len() >= read.len() && expected.iter().zip(&read).all(|(e, r)| e == r),
            "X-Forwarded-For read out of order: {read:?} from {expected:?}"
        );
    }
    if let Some((_, before)) = chain.split_last() {
        assert!(
            before.iter().all(|h| h.ip.is_none() || h.trusted),
            "the walk stepped over an untrusted hop"
        );
    }
    let own = |h: &&client_ip::Hop| h.via == header.name();
    if header == ForwardHeader::XRealIp && r.hops.iter().any(|h| own(&h)) {
        assert!(
            trust.operator_listed,
            "X-Real-IP read from a proxy the operator did not list"
        );
    }
    if r.client == r.peer {
        return;
    }
    // For CF-Connecting-IP and X-Real-IP, the header's own value when it names the client.
    let chosen = r.hops[1..]
        .iter()
        .filter(own)
        .find(|h| reads_xff && h.ip == Some(r.client))
        .or_else(|| r.hops[1..].iter().find(|h| h.ip == Some(r.client)))
        .expect("the client is the peer or an entry of one of the two headers");
    let from_header = chosen.via == header.name();
    match header {
        ForwardHeader::XForwardedFor | ForwardHeader::Forwarded => {
            if trust.trusted.contains(r.client) {
                assert!(
                    chain.iter().all(|h| h.ip.is_none() || h.trusted),
                    "a trusted entry chosen while an untrusted one was examined"
                );
            } else {
                assert!(
                    std::ptr::eq(*chain.last().expect("a chain"), chosen),
                    "the client is not where the walk stopped"
                );
            }
        }
        ForwardHeader::CfConnectingIp if from_header => {
            // The hop that handed the request on: the peer, or the first X-Forwarded-For hop
            // past our trusted ones, which is where the Cloudflare walk stops.
            let edge = if trust.cloudflare.contains(r.peer) {
                r.peer
            } else {
                chain
                    .last()
                    .and_then(|h| h.ip)
                    .expect("CF-Connecting-IP believed without a Cloudflare hop")
            };
            assert!(
                trust.cloudflare.contains(edge) && trust.trusted.contains(edge),
                "CF-Connecting-IP believed from {edge}, not a trusted Cloudflare address"
            );
        }
        ForwardHeader::XRealIp if from_header => {
            assert!(
                trust.operator_listed,
                "X-Real-IP believed from a proxy the operator did not list"
            );
            assert!(
                chain
                    .iter()
                    .all(|h| h.trusted || h.ip.is_none_or(|ip| ip == r.client)),
                "X-Real-IP believed though X-Forwarded-For disagrees"
            );
        }
        ForwardHeader::CfConnectingIp | ForwardHeader::XRealIp => {
            // Resolved by the X-Forwarded-For walk instead.
            assert_eq!(chosen.via, xff_name);
            if !trust.trusted.contains(r.client) {
                assert!(
                    std::ptr::eq(*chain.last().expect("a chain"), chosen),
                    "the client is not where the walk stopped"
                );
            }
        }
    }
}
/// Cookie headers: see [`crate::web::fuzz_entry::cookies`] (only `web/` may know HTTP).
pub fn cookies(data: &[u8]) {
    crate::web::fuzz_entry::cookies(data);
}

/// Form bodies under the body limit: see [`crate::web::fuzz_entry::form`].
pub fn form(data: &[u8]) {
    crate::web::fuzz_entry::form(data);
}

pub use crate::web::fuzz_entry::FORM_LIMIT;

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
    // The bound is on the token; whitespace around it is trimmed first (a form field's
    // padding), and a genuine token padded past 200 bytes rightly verifies.
    if presented.trim().len() > 200 {
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
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok(k) = key::validate(text)
        {
            assert_eq!(
                key::validate(&k),
                Ok(k.clone()),
                "the canonical key is not canonical"
            );
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
/// JWT layer, a header without `alg` HS512 passes, or the ID token check accepts claims that are
/// not this sign-in's.
pub fn duo_jwt(data: &[u8]) {
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
    let verified = crate::jose::verify_hs512(&token, secret);
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
        // The library refuses more than a non-object, and rightly: duplicate registered claim
        // names (RFC 7519 §4 lets a reader refuse them) and an `exp` or `nbf` that is not a
        // NumericDate (§2), even though the times are checked by the caller. Any other object
        // must pass.
        1 => {
            let object = serde_json::from_slice::<Value>(rest)
                .ok()
                .filter(Value::is_object);
            if verified.is_ok() {
                assert!(
                    object.is_some(),
                    "the JWT layer took claims that are not a JSON object"
                );
            } else if let Some(claims) = object {
                assert!(
                    has_duplicate_names(rest)
                        || ["exp", "nbf"]
                            .iter()
                            .any(|c| claims.get(c).is_some_and(|v| !numeric_date(v))),
                    "the JWT layer refused a JSON object with no duplicate names and good times"
                );
            }
        }
        _ => {
            let alg = serde_json::from_slice::<Value>(rest)
                .ok()
                .and_then(|h| h.get("alg").cloned());
            // The library also refuses headers whose other fields have the wrong shape (a
            // numeric `kid`), so only one direction is a promise; the canonical header passing
            // is mode 1's.
            if verified.is_ok() {
                assert_eq!(
                    alg,
                    Some(Value::String("HS512".into())),
                    "a header without alg HS512 was accepted"
                );
            }
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

/// Whether `value` is a NumericDate as the JOSE library reads one: a non-negative number that
/// fits in 64 bits.
fn numeric_date(value: &serde_json::Value) -> bool {
    value.as_u64().is_some()
        || value.as_f64().is_some_and(|f| {
            value.as_i64().is_none()
                && f.is_finite()
                && (0.0..18_446_744_073_709_551_616.0).contains(&f)
        })
}

/// Whether the JSON object in `text` names one member twice at its top level (serde_json keeps
/// the last, so a `Map` cannot tell).
fn has_duplicate_names(text: &[u8]) -> bool {
    struct Names;
    impl<'de> serde::de::Visitor<'de> for Names {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut seen = std::collections::HashSet::new();
            let mut twice = false;
            while let Some(name) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                twice |= !seen.insert(name);
            }
            Ok(twice)
        }
    }
    let mut reader = serde_json::Deserializer::from_slice(text);
    serde::Deserializer::deserialize_map(&mut reader, Names).unwrap_or(false)
}

/// The configuration file: the input is the TOML text, loaded as `portcullis --config` loads it
/// (from a file, over the defaults and the environment).
///
/// # Panics
/// When an error names no key or says nothing of what is allowed.
pub fn config(data: &[u8]) {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    // On tmpfs when there is one: rewriting a file on ext4 flushes it to disk at close, which
    // was a quarter of each execution (measured with perf) and none of it our parser's.
    let path = PATH.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!(
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
