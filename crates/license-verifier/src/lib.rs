//! Checks a software licence issued by a Portcullis licensing server.
//!
//! Blocking and runtime-free on purpose: vendors embed it in software of every kind, and a
//! licence check at start and once a day does not need concurrency.
//!
//! - [`key`]: the licence key format, checked offline (typos are caught before any request).
//! - [`protocol`]: the request, the signed answer and the public keys, shared with the server.
//! - [`Config`], [`Verifier`]: configure once, then [`Verifier::check`] gives a [`Verdict`];
//!   [`Verifier::check_with_steps`] also lists each [`Step`] taken, for diagnostics.
//! - [`fetch_keys`]: the server's public keys, to pin them.
//!
//! The vendor's guide (the crate's README) follows; its Rust example is compiled as a doctest.
#![doc = ""]
#![doc = include_str!("../README.md")]

mod config;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod key;
pub mod protocol;
mod store;
mod verdict;
mod verifier;

pub use config::{Config, DEFAULT_IDENTITY_SETTING, Timeouts, certificates_from_pem};
pub use verdict::{Step, StepKind, Verdict, iso_utc};
pub use verifier::{Verifier, fetch_keys, fetch_keys_with_steps};
