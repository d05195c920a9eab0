//! Checks a software licence issued by a Portcullis licensing server.
//!
//! - [`key`]: the licence key format, checked offline (typos are caught before any request).
//! - [`protocol`]: the request, the signed answer and the public keys, shared with the server.

pub mod key;
pub mod protocol;
