//! Fuzzing entry points for the parsers that read HTTP requests: the `Cookie` headers and form
//! bodies. They live here because only `web/` may know axum (tests/api/layering.rs);
//! `crate::fuzzing` calls them, and its header says what fuzzing entry points are for.
//!
//! Hidden from the documentation and not part of the API.

use std::sync::OnceLock;

/// Cookie headers: the input, split at newlines, is the request's `Cookie` headers (values a
/// client cannot send, such as ones with control characters, are dropped as hyper drops them).
///
/// # Panics
/// When a cookie value is empty or belongs to a name the headers do not contain, or a value
/// passes the shape check without being 43 URL-safe characters.
#[doc(hidden)]
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

/// The body limit [`form`] runs under: smaller than the default `server.max_body_bytes` so that
/// the fuzzer's inputs (4 KiB by default) cross it.
#[doc(hidden)]
pub const FORM_LIMIT: usize = 1024;

/// Form bodies: byte 0 picks the form and the content type, the rest is the body, extracted by
/// [`crate::web::extract::Form`] under axum's `DefaultBodyLimit` as the router sets it.
///
/// # Panics
/// When the extractor answers anything but 200 (read) or 400 (refused, with our page), or reads
/// a body over the limit.
#[doc(hidden)]
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
