//! The ceiling for `bench/run`: a bare axum server answering "hello" on `127.0.0.1:PORT`,
//! built in the same release profile as Portcullis and driven by the same client settings, so
//! Portcullis's request rates can be read as a fraction of what axum and tokio alone reach here.
//!
//! Usage: `bench_hello PORT`.

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: bench_hello PORT");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = Router::new().route("/", get(|| async { "hello" }));
    axum::serve(listener, app).await
}
