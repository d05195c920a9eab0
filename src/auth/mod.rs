//! Credentials and sign-in: password hashing, the password policy, and the sign-in decision.
//!
//! The web layer turns [`login::LoginError`] into pages; nothing here knows about HTTP.

pub mod client_permission;
pub mod hash_shape;
pub mod hasher;
pub mod login;
pub mod password;
pub mod permission;
pub mod policy;
