//! The OpenID Connect provider (issue 19, integrations.md §1): other applications send people
//! here to sign in and get back an ID token. `application` is the registry of applications
//! (relying parties) and the record of their refused requests; `keys` the signing keys and the
//! JWKS; `authorize` reads an authorization request and `grant` decides what it becomes (a
//! sign-in, a consent, a code); `token` exchanges codes and refresh tokens; `claims` says what
//! each scope tells about a person. The endpoints in `web::oidc` call these and nothing else.

pub mod application;
pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod credentials;
pub mod draft;
pub mod grant;
pub mod keys;
pub mod logout;
pub mod redirect;
pub mod token;
