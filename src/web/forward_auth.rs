//! Forward authentication over HTTP: the endpoints reverse proxies ask, and the sign-in round
//! trip's page (`crate::forward_auth` holds every rule; this reads headers and writes answers).
//!
//! - `GET /forward-auth/nginx` for nginx `auth_request`: the original request in
//!   `X-Original-URL` and `X-Original-Method` (or `X-Forwarded-Proto/Host/URI`). 200 allows, with
//!   the identity headers; 401 denies with the sign-in URL in `Location` (for
//!   `auth_request_set` and `error_page 401 =302`); 403 refuses.
//! - `GET /forward-auth/proxy` for Traefik `ForwardAuth` and Caddy `forward_auth`: the original
//!   request in `X-Forwarded-Method/Proto/Host/URI`. 200 allows; a browser's page request gets a
//!   302 to the sign-in page, an API client (`Accept: application/json`, `X-Requested-With`, or a
//!   method other than GET or HEAD) a 401; 403 refuses.
//!
//! The forwarding headers are believed only from a trusted proxy (`proxy.trusted`); from anyone
//! else, and when the original URL is missing, the browser is sent to a page naming that cause
//! (F18) and the doctor counts it.

use crate::forward_auth::{ForwardAuth, Identity, Observation, Return, Target, Verdict};
use crate::web::cookie::Cookies;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{Peer, SessionInfo};
use crate::web::middleware::session::realm_of;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

/// The endpoint for nginx `auth_request`.
pub const NGINX: &str = "/forward-auth/nginx";
/// The endpoint for Traefik `ForwardAuth` and Caddy `forward_auth`.
pub const PROXY: &str = "/forward-auth/proxy";

/// Whether `path` is one of the endpoints proxies ask (no page pipeline: any host, no session
/// step, no CSRF token).
pub fn is_endpoint(path: &str) -> bool {
    path == NGINX || path == PROXY
}

/// Which proxy dialect an endpoint speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Nginx,
    Proxy,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The original URL and method as the proxy reports them.
fn original(headers: &HeaderMap, dialect: Dialect) -> Option<(String, String)> {
    let forwarded = || {
        let proto = header_str(headers, "x-forwarded-proto").unwrap_or("http");
        let host = header_str(headers, "x-forwarded-host")?;
        let uri = header_str(headers, "x-forwarded-uri").unwrap_or("/");
        let proto = proto.split(',').next().unwrap_or("http").trim();
        Some(format!("{proto}://{host}{uri}"))
    };
    let url = match dialect {
        Dialect::Nginx => header_str(headers, "x-original-url")
            .map(str::to_owned)
            .or_else(forwarded),
        Dialect::Proxy => forwarded(),
    }?;
    let method = header_str(headers, "x-original-method")
        .or_else(|| header_str(headers, "x-forwarded-method"))
        .unwrap_or("GET")
        .to_ascii_uppercase();
    Some((url, method))
}

/// Whether the original request wants a page (a redirect to sign in) rather than a status.
fn wants_page(headers: &HeaderMap, method: &str) -> bool {
    let accept = header_str(headers, "accept").unwrap_or("*/*");
    let json = accept.contains("application/json") && !accept.contains("text/html");
    matches!(method, "GET" | "HEAD") && !json && headers.get("x-requested-with").is_none()
}

/// The answer that sends the browser to `location` (a sign-in or a problem page).
fn to_page(dialect: Dialect, page: bool, location: &str) -> Response {
    let status = match dialect {
        Dialect::Proxy if page => StatusCode::FOUND,
        _ => StatusCode::UNAUTHORIZED,
    };
    (
        status,
        [(header::LOCATION, location.to_owned())],
        "Sign in first.\n",
    )
        .into_response()
}

/// `GET /forward-auth/nginx`.
///
/// # Errors
/// Storage errors (a 5xx: the proxy refuses the request).
pub async fn get_nginx(
    State(service): State<ForwardAuth>,
    State(cookies): State<Cookies>,
    Peer(addr): Peer,
    headers: HeaderMap,
) -> AppResult<Response> {
    answer(&service, &cookies, addr, &headers, Dialect::Nginx).await
}

/// `GET /forward-auth/proxy`.
///
/// # Errors
/// Storage errors (a 5xx: the proxy refuses the request).
pub async fn get_proxy(
    State(service): State<ForwardAuth>,
    State(cookies): State<Cookies>,
    Peer(addr): Peer,
    headers: HeaderMap,
) -> AppResult<Response> {
    answer(&service, &cookies, addr, &headers, Dialect::Proxy).await
}

async fn answer(
    service: &ForwardAuth,
    cookies: &Cookies,
    addr: crate::web::middleware::client_addr::ClientAddr,
    headers: &HeaderMap,
    dialect: Dialect,
) -> AppResult<Response> {
    let endpoint = match dialect {
        Dialect::Nginx => NGINX,
        Dialect::Proxy => PROXY,
    };
    let problem = |cause: &str| service.problem_url(cause);
    if !addr.peer_trusted {
        let peer = addr.peer.to_string();
        service
            .observe(Observation::UntrustedPeer, &peer, endpoint)
            .await;
        return Ok(to_page(dialect, true, &problem("untrusted_proxy")));
    }
    let parsed = original(headers, dialect)
        .and_then(|(url, method)| Target::parse(&url).ok().map(|t| (t, method)));
    let Some((target, method)) = parsed else {
        service
            .observe(Observation::NoOriginalUrl, endpoint, endpoint)
            .await;
        return Ok(to_page(dialect, true, &problem("no_original_url")));
    };
    let verdict = service
        .decide(&target, |realm| cookies.read(headers, realm), addr.ip)
        .await
        .map_err(AppError::storage)?;
    Ok(match verdict {
        Verdict::Allow { identity, .. } => {
            let mut response = StatusCode::OK.into_response();
            for (name, value) in Identity::headers(identity.as_ref(), service.header_names()) {
                response.headers_mut().insert(name, value);
            }
            response
        }
        Verdict::SignIn { realm, .. } => to_page(
            dialect,
            wants_page(headers, &method),
            &service.sign_in_url(realm, &target),
        ),
        Verdict::Forbidden { why, .. } => {
            (StatusCode::FORBIDDEN, format!("{why}\n")).into_response()
        }
    })
}

/// The round trip page's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RoundTrip {
    /// The protected URL to return to.
    rd: Option<String>,
    /// A cause the endpoint found (`untrusted_proxy`, `no_original_url`).
    problem: Option<String>,
}

/// `GET /forward-auth/signin` and `/admin/forward-auth/signin`: signed in, back to the protected
/// URL (unless the browser keeps coming back: then the page naming why); otherwise remember
/// the URL and go to the sign-in form.
///
/// # Errors
/// The pages for a refused return address, a loop, or a cause the endpoint found.
pub async fn get_sign_in(
    State(service): State<ForwardAuth>,
    State(cookies): State<Cookies>,
    SessionInfo(loaded): SessionInfo,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<RoundTrip>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let realm = realm_of(uri.path());
    if let Some(cause) = query.problem.as_deref() {
        return Err(AppError::ForwardAuthSetup {
            title: "The proxy in front of this application is not set up for Portcullis",
            message: service.problem_text(cause),
        });
    }
    let return_cookie = cookies.return_name(realm);
    let Some(rd) = query
        .rd
        .or_else(|| cookies.read_named(&headers, return_cookie))
    else {
        return Ok(Redirect::to(crate::web::signin::home(realm)).into_response());
    };
    let url = service
        .return_to(&rd)
        .await
        .map_err(|refused| AppError::ForwardAuthSetup {
            title: "Portcullis does not send you to this address",
            message: refused.to_string(),
        })?;
    if loaded.as_ref().and_then(|l| l.live()).is_none() {
        let jar = CookieJar::new().add(cookies.named(return_cookie, url.to_string()));
        return Ok((jar, Redirect::to(crate::web::signin::login_path(realm))).into_response());
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let bounce = cookies.read_named(&headers, cookies.bounce_name());
    let jar = CookieJar::new().add(cookies.removal(return_cookie));
    match service.count_return(bounce.as_deref(), &host) {
        Return::Go { bounce } => {
            let jar = jar.add(cookies.named(cookies.bounce_name(), bounce));
            Ok((jar, Redirect::to(url.as_str())).into_response())
        }
        Return::Loop => {
            service
                .observe(Observation::Loop, &host, url.as_str())
                .await;
            let message = service.loop_cause(&host, url.scheme() == "https");
            let jar = jar.add(cookies.removal(cookies.bounce_name()));
            Ok((
                jar,
                AppError::ForwardAuthSetup {
                    title: "You are signed in, but this application does not see it",
                    message,
                },
            )
                .into_response())
        }
    }
}
