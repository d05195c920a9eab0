//! HTTP: the route table, the request pipeline, extractors and one file per page.
//!
//! Only this module knows axum. Domain modules return domain results; [`error::AppError`] maps
//! them to status codes and pages. [`serve`] is the HTTP server itself, which start-up
//! (`bootstrap.rs`) runs.

pub mod admin;
pub mod api;
pub mod client;
pub mod cookie;
pub mod error;
pub mod extract;
pub mod forward_auth;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod invitation;
pub mod middleware;
pub mod oidc;
pub mod page;
pub mod password;
pub mod reset;
pub mod routes;
pub mod sessions;
pub mod signin;
pub mod sso;
pub mod state;
pub mod system;
pub mod twofactor;

/// Serves the router (`routes::router`) of `state` on `listener` until `shutdown` resolves, with
/// each connection's peer address (the pipeline's first step resolves the client from it).
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: crate::app::AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let router = routes::router(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("server error")
}
