//! The OpenID Connect provider (issue 19, integrations.md §1): other applications send people
//! here to sign in and get back an ID token. `application` is the registry of applications
//! (relying parties) and the record of their refused requests; `keys` the signing keys and the
//! JWKS; the protocol endpoints (authorize, token, ...) join later and call both.

pub mod application;
pub mod authorize;
pub mod credentials;
pub mod draft;
pub mod keys;
pub mod redirect;
