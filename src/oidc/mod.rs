//! The OpenID Connect provider. For now the registry of applications (relying parties) and the
//! record of their refused requests; the signing keys and the protocol endpoints (authorize,
//! token, ...) join later and call [`application::Applications`].

pub mod application;
pub mod draft;
pub mod redirect;
