//! Machine-facing endpoints under `/api/`: JSON in and out, no session, no CSRF token (no
//! cookie is read, so there is nothing for a forged request to ride on), answered on any host.

pub mod license;
pub mod problem;
pub mod v1;

/// Whether a path is an API endpoint (exempt from the System URL redirect, sessions and CSRF).
pub fn is_api(path: &str) -> bool {
    path.starts_with(crate::domain::paths::API)
}
