//! HTTP: the route table, the request pipeline, extractors and one file per page.
//!
//! Only this module knows axum. Domain modules return domain results; [`error::AppError`] maps
//! them to status codes and pages.

pub mod admin;
pub mod api;
pub mod client;
pub mod cookie;
pub mod error;
pub mod extract;
pub mod invitation;
pub mod middleware;
pub mod page;
pub mod password;
pub mod reset;
pub mod routes;
pub mod sessions;
pub mod signin;
pub mod state;
pub mod system;
pub mod twofactor;
