//! The request pipeline of product.md, one file per step, applied in `routes.rs` in this order:
//!
//! 1. [`client_addr`]: resolve the client address from the peer and trusted proxies.
//! 2. [`ban`]: refuse banned addresses.
//! 3. [`canonical_origin`]: redirect or explain requests on another origin than the System URL.
//! 4. [`session`]: load the realm's session, ending it with a reason when it has lapsed.
//! 5. [`csrf`]: verify the token of every state-changing request.
//! 6. Authorisation: extractors in the handlers' signatures (`web/extract.rs`).
//!
//! Around them, [`security_headers`] and [`negotiate`] shape every response.

pub mod ban;
pub mod banner;
pub mod canonical_origin;
pub mod client_addr;
pub mod csrf;
pub mod negotiate;
pub mod security_headers;
pub mod session;
