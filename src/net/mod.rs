//! Network addresses: ranges, the client address behind proxies, and Cloudflare's edge ranges.
//!
//! Nothing here reads the database or knows about axum: the web layer's first pipeline step
//! (`web::middleware::client_addr`) feeds the resolver the peer and the headers, and `http`
//! builds the one outbound HTTP client.

pub mod client_ip;
pub mod cloudflare;
pub mod http;
pub mod range;
