//! `GET /account/licenses` and `POST /account/licenses/{license_id}/reissue`: the active
//! account's licences, their keys and bindings, and reissue (account permission `products`).
//! The reads, the ownership rule and the audit entry are the [`Licenses`] service's.

use crate::auth::client_permission::ClientPermission;
use crate::domain::paths;
use crate::license::{Licenses, OwnedError, ReissueError};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, CurrentClient};
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
    licenses: &Licenses,
    current: &CurrentClient,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let account = current.require(ClientPermission::Products)?;
    let owned = match licenses
        .owned_by(current.user.id.into(), account.client_id.into())
        .await
    {
        Ok(owned) => owned,
        // No keys for an unconfirmed address: say so, with the button that resends the link.
        Err(OwnedError::Unconfirmed(refusal)) => {
            return Ok(page::render(&ClientLicensesPage {
                title: "Licences",
                nav: Some(current.nav(csrf.clone())),
                csrf,
                notice,
                error: Some(refusal.to_string()),
                licenses: Vec::new(),
                confirm_first: true,
            }));
        }
        Err(OwnedError::Storage(e)) => return Err(e.into()),
    };
    let owned = owned
        .into_iter()
        .map(|o| ClientLicenseView {
            reissues_left: o.listed.reissues_left(),
            row: crate::web::admin::licenses::row_view(licenses, &o.listed),
            key: o.key,
        })
        .collect();
    Ok(page::render(&ClientLicensesPage {
        title: "Licences",
        nav: Some(current.nav(csrf.clone())),
        csrf,
        notice,
        error,
        licenses: owned,
        confirm_first: false,
    }))
}

/// The list.
pub async fn get_licenses(
    State(licenses): State<Licenses>,
    current: CurrentClient,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<DoneQuery>,
) -> AppResult<Response> {
    let notice = (q.done == "reissued").then(|| {
        "Reissued. The next check from your installation binds the licence to its new place."
            .to_owned()
    });
    render(&licenses, &current, csrf, notice, None).await
}

/// Reissues one of the active account's licences.
pub async fn post_reissue(
    State(licenses): State<Licenses>,
    current: CurrentClient,
    Path(license_id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    current.require(ClientPermission::Products)?;
    // During "login as client" the admin acts, and the entry names the user acted as.
    let by = current.manager()?;
    match licenses
        .reissue_by_owner(
            by.client,
            by.user,
            license_id,
            &by.actor(),
            by.signed_in_as(),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("{}?done=reissued", paths::ACCOUNT_LICENSES)).into_response()),
        Err(ReissueError::LimitReached(max)) => {
            render(
                &licenses,
                &current,
                csrf,
                None,
                Some(format!(
                    "This licence was already reissued {max} times, the most allowed. Contact us to move it."
                )),
            )
            .await
        }
        // The list page says the same, with the button that sends the link again.
        Err(ReissueError::Unconfirmed(_)) => render(&licenses, &current, csrf, None, None).await,
        // Another account's licence is "not found", never "forbidden": its existence is not ours to tell.
        Err(ReissueError::NotFound) => Err(AppError::NotFound),
        Err(ReissueError::Storage(e)) => Err(e.into()),
    }
}
