//! The OpenID provider's protocol endpoints (integrations.md §1). Each turns a request into a
//! call on the `oidc` services and their answer into the JSON or redirect the specs name; no
//! rule lives here.
//!
//! Two kinds, and the pipeline treats them differently:
//! - machine endpoints ([`is_machine`]: token, userinfo, revocation, introspection, the key
//!   set, discovery), called by the
//!   application's server with no cookie: no session is read, no CSRF token asked (there is no
//!   cookie for a forged request to ride on), and any host name is answered (an application
//!   may reach Portcullis by an internal name);
//! - browser endpoints (authorize, its continuation, consent), on the System URL with the
//!   realm's session. `POST /oidc/authorize` and `POST /oidc/logout` are posted by the
//!   application's page, cross-site by nature, so they alone skip the CSRF check
//!   ([`is_cross_site_form`]); the first changes nothing until the person answers a page of
//!   ours, whose forms carry the token, and the second ends a session only for an ID token of
//!   that very session (`oidc::logout`).

pub mod authorize;
pub mod discovery;
pub mod jwks;
pub mod logout;
pub mod revocation;
pub mod token;
pub mod userinfo;

/// The discovery document's path.
pub const DISCOVERY: &str = "/.well-known/openid-configuration";

/// Whether `path` is a machine endpoint (no session, no CSRF token, any host).
pub fn is_machine(path: &str) -> bool {
    matches!(
        path,
        "/oidc/token"
            | "/oidc/userinfo"
            | "/oidc/revoke"
            | "/oidc/introspect"
            | "/oidc/jwks"
            | DISCOVERY
    )
}

/// Whether `path` takes a cross-site form post as the protocol does (no CSRF token).
pub fn is_cross_site_form(path: &str) -> bool {
    matches!(
        path,
        "/oidc/authorize" | "/admin/oidc/authorize" | "/oidc/logout" | "/admin/oidc/logout"
    )
}
