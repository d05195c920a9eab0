//! Duo Universal Prompt (`/work/shared/spec/duo.md`): Portcullis speaks the protocol itself.
//!
//! - [`settings`]: the credential shapes, and refusing legacy `ikey`/`skey`/`akey` credentials
//!   with the steps to create the right application (F12).
//! - [`jwt`]: HS512 JSON Web Tokens over `hmac` + `sha2`, because that is the only algorithm Duo
//!   uses and a hand-written verifier cannot be talked into another one.
//! - [`client`]: health check, authorize URL, code exchange and ID token verification. The
//!   caller passes the time in, so the module never reads a clock.
//! - [`store`]: the installation's Duo application (stored, sealed, audited when changed).
//! - [`sign_in`]: the round trip of a pending sign-in through Duo's prompt.

pub mod client;
pub mod jwt;
pub mod settings;
pub mod sign_in;
pub mod store;

pub use client::{Duo, DuoError, IdToken, random_state, translate_callback_error};
pub use settings::{Credentials, SettingsError, test_api_url, validate};
