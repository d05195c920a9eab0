//! Step 2: refuse banned addresses.
//!
//! A banned client gets a 403 page with its address, the reason and when the ban ends, and no
//! sign-in form; its requests never reach a password hash. One primary-key lookup per request
//! (or this node's recent answer: the [`Bans`] service keeps them). `/healthz` and static
//! files are exempt (load balancers must still see a live node).

use super::client_addr::ClientAddr;
use crate::ban::Bans;
use crate::web::error::AppError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses the request when its client address is banned.
pub async fn refuse_banned(State(bans): State<Bans>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/healthz" || path.starts_with("/static/") {
        return next.run(request).await;
    }
    let Some(addr) = request.extensions().get::<ClientAddr>().copied() else {
        return next.run(request).await;
    };
    match bans.active(addr.ip).await {
        Ok(None) => next.run(request).await,
        Ok(Some(ban)) => {
            let ban = bans.listed(ban);
            AppError::Banned {
                ip: addr.ip.to_string(),
                reason: ban.reason,
                until: ban.ends,
            }
            .into_response()
        }
        Err(e) => AppError::storage(e).into_response(),
    }
}
