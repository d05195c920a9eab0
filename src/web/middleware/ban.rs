//! Step 2: refuse banned addresses.
//!
//! A banned client gets a 403 page with its address, the reason and when the ban ends, and no
//! sign-in form; its requests never reach a password hash. One primary-key lookup per request
//! (or this node's recent answer: the [`Bans`] service keeps them). `/healthz` and static
//! files are exempt (load balancers must still see a live node).
//!
//! A ban covers an area (`ban::Scope`): paths under `/admin` are the admin area, every other
//! path the client area, so an automatic admin-realm ban leaves the customers behind the same
//! address their client area.

use super::client_addr::ClientAddr;
use crate::ban::Bans;
use crate::domain::Realm;
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
    match bans.active(addr.ip, area_of(path)).await {
        Ok(None) => next.run(request).await,
        Ok(Some(ban)) => {
            let ban = bans.listed(ban);
            AppError::Banned {
                // The banned key: the address, or for IPv6 the /64 it lies in.
                ip: ban.ip,
                reason: ban.reason,
                until: ban.ends,
            }
            .into_response()
        }
        Err(e) => AppError::storage(e).into_response(),
    }
}

/// The area a path belongs to, for a ban's scope: `/admin` and everything under it is the admin
/// area; every other path (sign-in, client pages, the licence API) the client area.
pub fn area_of(path: &str) -> Realm {
    if path == "/admin" || path.starts_with("/admin/") {
        Realm::Admin
    } else {
        Realm::Client
    }
}
