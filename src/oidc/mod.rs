//! The OpenID Connect provider (issue 19, integrations.md §1): other applications send people
//! here to sign in and get back an ID token. `keys` holds the signing keys and the JWKS.
pub mod keys;
