//! The OpenID provider's protocol endpoints (integrations.md §1). Each turns a request into a
//! call on the `oidc` services and their answer into the JSON or redirect the specs name; no
//! rule lives here.

pub mod jwks;
