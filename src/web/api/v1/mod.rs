//! The admin API, `/api/v1/` (issue 21): JSON for the other systems of a portal, authenticated
//! by an API credential ([`Caller`]), errors as RFC 9457 problem documents. Each handler calls
//! the same service function the pages and the CLI call.

mod caller;
pub mod users;

pub use caller::Caller;
