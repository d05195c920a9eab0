//! Step 1: the client address.
//!
//! For now the client is the TCP peer, and the peer is marked trusted when it lies in
//! `proxy.trusted` (so `X-Forwarded-Proto`/`-Host` from it count for the System URL check).
//! TODO(#3): walk `X-Forwarded-For` right to left over trusted hops, Cloudflare ranges.

use crate::app::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};

/// Who is on the other end of this request.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr {
    /// The address used for sessions, bans and logs.
    pub ip: IpAddr,
    /// Whether the TCP peer is a trusted proxy whose forwarding headers may be believed.
    pub peer_trusted: bool,
}

/// Inserts [`ClientAddr`] into the request.
pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    let peer_trusted = state
        .config
        .trusted_proxies
        .iter()
        .any(|n| n.contains(peer));
    request.extensions_mut().insert(ClientAddr {
        ip: peer,
        peer_trusted,
    });
    next.run(request).await
}
