//! Duo Universal Prompt (`/work/shared/spec/duo.md`): Portcullis speaks the protocol itself.
//!
//! - [`settings`]: the credential shapes, and refusing legacy `ikey`/`skey`/`akey` credentials
//!   with the steps to create the right application (F12).
//! - Tokens: Duo's HS512 JWTs go through [`crate::jose`] (use `Duo`, pinned to HS512), like
//!   every token the product signs or checks.
//! - [`client`]: health check, authorize URL, code exchange and ID token verification. The
//!   caller passes the time in, so the module never reads a clock.
//! - [`store`]: the installation's Duo application (stored, sealed, audited when changed).
//! - [`sign_in`]: the round trip of a pending sign-in through Duo's prompt.

pub mod client;
pub mod settings;
pub mod sign_in;
pub mod store;

pub use client::{Duo, DuoError, IdToken, random_state, translate_callback_error};
pub use settings::{Credentials, SettingsError, test_api_url, validate};
