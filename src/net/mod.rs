//! Network addresses: ranges, the client address behind proxies, and Cloudflare's edge ranges.
//!
//! Pure code: nothing here reads the database or knows about axum. The web layer's first
//! pipeline step (`web::middleware::client_addr`) feeds it the peer and the headers.

pub mod client_ip;
pub mod cloudflare;
pub mod range;
