//! Step 1: the client address (F01).
//!
//! Resolves the client from the TCP peer and the configured forwarding header with
//! [`crate::net::client_ip::resolve_with`] over the trusted proxies in force (and, for
//! `CF-Connecting-IP` and `X-Real-IP`, `X-Forwarded-For`, which says who handed the request on;
//! the module header of `net::client_ip` gives the rules). Two diagnostics are
//! counted here for the doctor: requests that look like they came through Cloudflare while its
//! ranges are not trusted (`proxy.cloudflare_untrusted`), and malformed forwarding entries
//! (`proxy.malformed`). Both go through the batched event log, not a write per request. The
//! rest of the request runs inside [`crate::request_origin::with_origin`], so audit entries
//! record this address and the user agent.

use crate::diagnostics::{Counter, Diagnostics};
use crate::net::client_ip::{self, Resolution};
use crate::request_origin::{RequestOrigin, with_origin};
use crate::settings::Settings;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};

/// Who is on the other end of this request.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr {
    /// The address used for sessions, bans and logs.
    pub ip: IpAddr,
    /// The TCP peer.
    pub peer: IpAddr,
    /// Whether the TCP peer is a trusted proxy whose forwarding headers may be believed.
    pub peer_trusted: bool,
}

impl ClientAddr {
    /// Stands in when the pipeline did not run (never in a served request): unspecified, untrusted.
    pub const UNKNOWN: Self = Self {
        ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        peer: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        peer_trusted: false,
    };
}

/// The peer address of a request (unspecified when the server was not given connection info).
pub fn peer_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| {
            crate::net::range::canonical(c.0.ip())
        })
}

/// Resolves a request's client address under the settings in force (also used by the
/// "why this address" page).
pub fn resolve_request(
    request_headers: &axum::http::HeaderMap,
    peer: IpAddr,
    settings: &crate::settings::Effective,
) -> Resolution {
    let header = settings.values.proxy_header;
    let values_of = |name: &str| {
        request_headers
            .get_all(name)
            .iter()
            .map(axum::http::HeaderValue::as_bytes)
            .collect::<Vec<_>>()
    };
    let trust = client_ip::Trust {
        trusted: &settings.trusted,
        cloudflare: &settings.cloudflare,
        operator_listed: operator_listed(settings),
    };
    client_ip::resolve_with(
        peer,
        header,
        values_of(header.name()),
        values_of(client_ip::ForwardHeader::XForwardedFor.name()),
        &trust,
    )
}

/// Whether `proxy.trusted` was set by the operator (file, environment, Settings page, or the
/// embedding code) rather than left at its built-in default: `X-Real-IP` is believed only then
/// (see `net::client_ip`).
pub fn operator_listed(settings: &crate::settings::Effective) -> bool {
    settings
        .sources
        .iter()
        .find(|(key, _)| key == "proxy.trusted")
        .is_some_and(|(_, source)| !source.starts_with("default"))
}

/// Inserts [`ClientAddr`] into the request.
pub async fn resolve(
    State(settings): State<Settings>,
    State(diagnostics): State<Diagnostics>,
    mut request: Request,
    next: Next,
) -> Response {
    let settings = settings.current().await;
    let peer = peer_of(&request);
    let resolution = resolve_request(request.headers(), peer, &settings);
    if !settings.cloudflare_trusted {
        let headers = request.headers();
        let via_cloudflare = settings.cloudflare.contains(resolution.client)
            || headers.contains_key("cf-ray")
            || headers.contains_key("cf-connecting-ip");
        if via_cloudflare {
            diagnostics
                .note(Counter::CloudflareUntrusted, "untrusted", &peer.to_string())
                .await;
        }
    }
    if resolution.malformed > 0 {
        diagnostics
            .note(
                Counter::MalformedForwarding,
                settings.values.proxy_header.name(),
                &peer.to_string(),
            )
            .await;
    }
    request.extensions_mut().insert(ClientAddr {
        ip: resolution.client,
        peer,
        peer_trusted: resolution.peer_trusted,
    });
    let origin = RequestOrigin::new(
        resolution.client,
        request
            .headers()
            .get(axum::http::header::USER_AGENT)
            .map(axum::http::HeaderValue::as_bytes),
    );
    with_origin(origin, next.run(request)).await
}
