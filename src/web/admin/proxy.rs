//! `GET /admin/proxy`: why Portcullis chose this request's client address (F01).

use crate::settings::Settings;
use crate::web::extract::{CsrfToken, RequirePermission, ViewSystemHealth};
use crate::web::middleware::client_addr::{ClientAddr, resolve_request};
use crate::web::page::{self, ProxyPage};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

const FORWARDING: [&str; 7] = [
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "cf-connecting-ip",
    "cf-ray",
    "x-forwarded-proto",
    "x-forwarded-host",
];

/// Shows the peer, the forwarding headers, each hop's trust decision and the chosen address.
pub async fn get_proxy(
    State(settings): State<Settings>,
    gate: RequirePermission<ViewSystemHealth>,
    CsrfToken(csrf): CsrfToken,
    axum::Extension(addr): axum::Extension<ClientAddr>,
    headers: HeaderMap,
) -> Response {
    let settings = settings.current().await;
    let resolution = resolve_request(&headers, addr.peer, &settings);
    let received = FORWARDING
        .iter()
        .flat_map(|name| {
            headers.get_all(*name).iter().map(move |v| {
                (
                    (*name).to_owned(),
                    String::from_utf8_lossy(v.as_bytes())
                        .chars()
                        .take(300)
                        .collect(),
                )
            })
        })
        .collect();
    page::render(&ProxyPage {
        title: "Why this address",
        nav: Some(super::nav(&gate.current, csrf)),
        client: resolution.client.to_string(),
        reason: resolution.reason,
        header: settings.values.proxy_header.name(),
        hops: resolution.hops,
        trusted: settings.values.proxy_trusted.join(", "),
        cloudflare_taken: settings.cloudflare_taken.clone(),
        cloudflare_source: settings.cloudflare_source.clone(),
        cloudflare_trusted: settings.cloudflare_trusted,
        received,
    })
}
