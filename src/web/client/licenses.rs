//! `GET /account/licenses` and `POST /account/licenses/{license_id}/reissue`: the active
//! account's licences, their keys and bindings, and reissue (account permission `products`).

use crate::app::AppState;
use crate::auth::client_permission::ClientPermission;
use crate::db;
use crate::license;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, CurrentClient, Peer, UserAgent};
use crate::web::page::{self, ClientLicenseView, ClientLicensesPage};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

/// `?done=reissued`.
#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn render(
    state: &AppState,
    current: &CurrentClient,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let account = current.require(ClientPermission::Products)?;
    let products = db::license::products(&state.db).await?;
    let mut licenses = Vec::new();
    for l in db::license::list(&state.db, account.client_id).await? {
        let max = products
            .iter()
            .find(|p| p.id == l.product_id)
            .map_or(0, |p| p.max_reissues);
        licenses.push(ClientLicenseView {
            key: license::reveal(state, &l).unwrap_or_else(|e| e.to_string()),
            reissues_left: (max - l.reissues).max(0),
            row: crate::web::admin::licenses::row_view(state, &l, &products),
        });
    }
    Ok(page::render(&ClientLicensesPage {
        title: "Licences",
        nav: Some(current.nav(csrf.clone())),
        csrf,
        notice,
        error,
        licenses,
    }))
}

/// The list.
pub async fn get_licenses(
    State(state): State<AppState>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<DoneQuery>,
) -> AppResult<Response> {
    let notice = (q.done == "reissued").then(|| {
        "Reissued. The next check from your installation binds the licence to its new place."
            .to_owned()
    });
    render(&state, &current, csrf, notice, None).await
}

/// Reissues one of the active account's licences.
pub async fn post_reissue(
    State(state): State<AppState>,
    current: CurrentClient,
    Path(license_id): Path<i64>,
    Peer(addr): Peer,
    UserAgent(ua): UserAgent,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let account = current.require(ClientPermission::Products)?;
    // Another account's licence is "not found", never "forbidden": its existence is not ours to tell.
    let owned = db::license::find(&state.db, license_id)
        .await?
        .filter(|l| l.client_id == account.client_id)
        .ok_or(AppError::NotFound)?;
    match license::reissue(&state, owned.id).await? {
        license::Reissue::Done => {
            db::audit::insert(
                &state.db,
                state.clock.unix(),
                &db::audit::Entry {
                    actor: &current.actor_text(),
                    action: "license.reissued",
                    subject: &format!("license:{license_id}"),
                    detail: &current.detail("by the account"),
                    ip: &addr.ip.to_string(),
                    user_agent: &ua,
                },
            )
            .await?;
            Ok(Redirect::to("/account/licenses?done=reissued").into_response())
        }
        license::Reissue::LimitReached(max) => {
            render(
                &state,
                &current,
                csrf,
                None,
                Some(format!(
                    "This licence was already reissued {max} times, the most allowed. Contact us to move it."
                )),
            )
            .await
        }
        license::Reissue::NotFound => Err(AppError::NotFound),
    }
}
