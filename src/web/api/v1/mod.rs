//! The admin API, `/api/v1/` (issue 21): JSON for the other systems of a portal, authenticated
//! by an API credential ([`Caller`]), bodies read by [`body::Body`], errors as RFC 9457 problem
//! documents, described by the generated OpenAPI document ([`openapi`]). Each handler calls
//! the same service function the pages and the CLI call.

pub mod bans;
pub mod body;
mod caller;
pub mod mail;
pub mod openapi;
pub mod sessions;
pub mod sso;
pub mod users;

pub use caller::Caller;
