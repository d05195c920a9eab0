//! TEMPORARY until the protocol module lands.
pub mod settings;
