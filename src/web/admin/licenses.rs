//! The licensing server's admin pages (permission `manage_licenses`): products, issuing
//! licences, a licence's key, bindings, status, reissue and access log, and signing-key rotation.
//!
//! Every rule, read and audit entry is the [`Licenses`] service's; this file turns its rows into
//! views and its refusals into the page again with the message (422).

use crate::domain::paths;
use crate::license::{
    self, ActivateError, IssueDraft, IssueError, KeyState, Licenses, Origin, ProductDraft,
    ProductError, ReissueError, SigningError, StatusError, Which,
};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, ManageLicenses, RequirePermission};
use crate::web::page::{
    self, LicenseCheckView, LicensePage, LicenseRowView, LicensesPage, ProductPage,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

type Gate = RequirePermission<ManageLicenses>;

/// A binding list with where each entry came from, so whoever reads it knows what a reissue
/// clears: "a (preset), b (bound by a check)".
fn origins(listed: &license::Listed, which: Which) -> String {
    listed
        .bindings(which)
        .into_iter()
        .map(|(entry, origin)| {
            let origin = match origin {
                Origin::Preset => "preset",
                Origin::BoundByCheck => "bound by a check",
            };
            format!("{entry} ({origin})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A licence row for lists (here and on the owner's page).
pub(crate) fn row_view(licenses: &Licenses, listed: &license::Listed) -> LicenseRowView {
    let l = &listed.license;
    LicenseRowView {
        id: l.id,
        product: listed.product.clone(),
        client_id: l.client_id,
        hint: l.key_hint.clone(),
        status: listed.status.to_string(),
        expires: l.expires_at.map(|at| licenses.show_time(at)),
        domains: origins(listed, Which::Domain),
        ips: origins(listed, Which::Ip),
        directories: origins(listed, Which::Directory),
        reissues: l.reissues,
        last_check: l
            .last_check_at
            .map_or_else(|| "never".to_owned(), |at| licenses.show_time(at)),
    }
}

fn check_view(licenses: &Licenses, c: license::Check) -> LicenseCheckView {
    LicenseCheckView {
        at: licenses.show_time(c.at),
        remote_ip: c.remote_ip,
        identity: format!("{} · {} · {}", c.domain, c.ip, c.directory),
        version: c.verifier_version,
        verdict: c.verdict,
        key_hint: c.key_hint,
    }
}

/// 422 when the page is shown again with a refusal, else 200.
fn status_for(error: Option<&String>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

async fn list_page(
    licenses: &Licenses,
    gate: &Gate,
    csrf: String,
    error: Option<String>,
) -> AppResult<Response> {
    let overview = licenses.overview().await?;
    let keys = overview
        .keys
        .into_iter()
        .map(|k| {
            let status = match KeyState::of(&k) {
                KeyState::Retired { at } => {
                    format!("retired {}, still published", licenses.show_time(at))
                }
                KeyState::Signing => "signing".to_owned(),
                KeyState::Published => "published, not signing yet".to_owned(),
            };
            (k.key_id, k.public_key, status)
        })
        .collect();
    Ok((
        status_for(error.as_ref()),
        page::render(&LicensesPage {
            title: "Licences",
            nav: Some(super::nav(&gate.current, csrf.clone())),
            csrf,
            notice: None,
            error,
            licenses: overview
                .licenses
                .iter()
                .map(|l| row_view(licenses, l))
                .collect(),
            unmatched: overview
                .unmatched
                .into_iter()
                .map(|c| check_view(licenses, c))
                .collect(),
            products: overview.products,
            keys,
        }),
    )
        .into_response())
}

/// The list, the product and issue forms, and the signing keys.
pub async fn get_licenses(
    State(licenses): State<Licenses>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    list_page(&licenses, &gate, csrf, None).await
}

/// The new-product form (the edit form is the same without `key_prefix`). Empty or omitted
/// numbers take the defaults: check every 7 days, 3 days' grace, 3 reissues.
#[derive(serde::Deserialize)]
pub struct ProductForm {
    name: String,
    #[serde(default)]
    key_prefix: String,
    #[serde(default)]
    check_interval_days: String,
    #[serde(default)]
    grace_days: String,
    #[serde(default)]
    max_reissues: String,
}

impl ProductForm {
    fn draft(&self) -> ProductDraft<'_> {
        ProductDraft {
            name: &self.name,
            key_prefix: &self.key_prefix,
            check_interval_days: &self.check_interval_days,
            grace_days: &self.grace_days,
            max_reissues: &self.max_reissues,
        }
    }
}

/// Adds a product.
pub async fn post_product(
    State(licenses): State<Licenses>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ProductForm>,
) -> AppResult<Response> {
    match licenses
        .create_product(gate.current.id(), &form.draft())
        .await
    {
        Ok(_) => Ok(Redirect::to(paths::ADMIN_LICENSES).into_response()),
        Err(refused @ (ProductError::Invalid(_) | ProductError::Exists)) => {
            list_page(&licenses, &gate, csrf, Some(refused.to_string())).await
        }
        Err(ProductError::Storage(e)) => Err(e.into()),
        Err(ProductError::NotFound | ProductError::NameTaken(_)) => Err(AppError::NotFound),
    }
}

fn product_page(
    gate: &Gate,
    csrf: String,
    product: license::Product,
    error: Option<String>,
) -> Response {
    (
        status_for(error.as_ref()),
        page::render(&ProductPage {
            title: "Product",
            nav: Some(super::nav(&gate.current, csrf.clone())),
            csrf,
            error,
            product,
        }),
    )
        .into_response()
}

/// A product's edit form.
pub async fn get_product(
    State(licenses): State<Licenses>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let product = licenses.product(id).await?.ok_or(AppError::NotFound)?;
    Ok(product_page(&gate, csrf, product, None))
}

/// Saves a product's name, check interval, grace and maximum reissues (the key prefix stays:
/// issued keys carry it).
pub async fn post_product_edit(
    State(licenses): State<Licenses>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ProductForm>,
) -> AppResult<Response> {
    match licenses
        .update_product(gate.current.id(), id, &form.draft())
        .await
    {
        Ok(()) => Ok(Redirect::to(paths::ADMIN_LICENSES).into_response()),
        Err(ProductError::Invalid(message)) => {
            // Show what was typed, so the admin corrects rather than retypes.
            let mut shown = licenses.product(id).await?.ok_or(AppError::NotFound)?;
            form.name.trim().clone_into(&mut shown.name);
            Ok(product_page(&gate, csrf, shown, Some(message)))
        }
        Err(ProductError::NameTaken(product)) => {
            let message = ProductError::NameTaken(product.clone()).to_string();
            Ok(product_page(&gate, csrf, *product, Some(message)))
        }
        Err(ProductError::NotFound | ProductError::Exists) => Err(AppError::NotFound),
        Err(ProductError::Storage(e)) => Err(e.into()),
    }
}

/// The issue form.
#[derive(serde::Deserialize)]
pub struct IssueForm {
    product_id: String,
    client_id: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    domains: String,
    #[serde(default)]
    ips: String,
    #[serde(default)]
    directories: String,
}

/// Issues a licence and shows its key.
pub async fn post_issue(
    State(licenses): State<Licenses>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<IssueForm>,
) -> AppResult<Response> {
    let draft = IssueDraft {
        product_id: &form.product_id,
        client_id: &form.client_id,
        expires: &form.expires,
        domains: &form.domains,
        ips: &form.ips,
        directories: &form.directories,
    };
    let message = match licenses.issue_by_admin(gate.current.id(), &draft).await {
        Ok(id) => return Ok(Redirect::to(&paths::admin_license(id)).into_response()),
        Err(IssueError::Invalid(message)) => message,
        Err(IssueError::NoProduct(_)) => "Choose a product.".to_owned(),
        Err(e @ IssueError::OwnerUnconfirmed { .. }) => e.to_string(),
        Err(IssueError::Storage(e)) => return Err(e.into()),
        Err(e @ IssueError::Other(_)) => {
            return Err(AppError::Unexpected(anyhow::anyhow!(e.to_string())));
        }
    };
    list_page(&licenses, &gate, csrf, Some(message)).await
}

/// `?done=...` after an action.
#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn detail_page(
    licenses: &Licenses,
    gate: &Gate,
    id: i64,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let detail = licenses.detail(id).await?.ok_or(AppError::NotFound)?;
    let l = &detail.listed.license;
    Ok((
        status_for(error.as_ref()),
        page::render(&LicensePage {
            title: "Licence",
            nav: Some(super::nav(&gate.current, csrf.clone())),
            csrf,
            notice,
            error,
            stored_status: l.status.to_string(),
            expires_input: licenses.expiry_day(l.expires_at),
            max_reissues: detail.listed.max_reissues,
            row: row_view(licenses, &detail.listed),
            checks: detail
                .checks
                .into_iter()
                .map(|c| check_view(licenses, c))
                .collect(),
            key: detail.key,
        }),
    )
        .into_response())
}

/// One licence.
pub async fn get_license(
    State(licenses): State<Licenses>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<DoneQuery>,
) -> AppResult<Response> {
    let notice = match q.done.as_str() {
        "reissued" => Some("Reissued: the bindings made by checks are cleared (preset ones stay); the next check binds the licence to where it runs.".to_owned()),
        "saved" => Some("Saved.".to_owned()),
        _ => None,
    };
    detail_page(&licenses, &gate, id, csrf, notice, None).await
}

/// The status form.
#[derive(serde::Deserialize)]
pub struct StatusForm {
    status: String,
    #[serde(default)]
    expires: String,
}

/// Changes status and expiry.
pub async fn post_license(
    State(licenses): State<Licenses>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<StatusForm>,
) -> AppResult<Response> {
    match licenses
        .set_status(gate.current.id(), id, &form.status, &form.expires)
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("{}?done=saved", paths::admin_license(id))).into_response())
        }
        Err(StatusError::Invalid(message)) => {
            detail_page(&licenses, &gate, id, csrf, None, Some(message)).await
        }
        Err(StatusError::NotFound) => Err(AppError::NotFound),
        Err(StatusError::Storage(e)) => Err(e.into()),
    }
}

/// Clears the bindings (counted against the product's maximum).
pub async fn post_reissue(
    State(licenses): State<Licenses>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    match licenses.reissue_by_admin(gate.current.id(), id).await {
        Ok(()) => Ok(Redirect::to(&format!("{}?done=reissued", paths::admin_license(id))).into_response()),
        Err(ReissueError::LimitReached(max)) => {
            detail_page(&licenses, &gate, id, csrf, None, Some(format!("This licence was reissued {max} times, the product's maximum. Raise the product's maximum (Licences, Products, the product's name) or issue a new licence."))).await
        }
        Err(ReissueError::NotFound) => Err(AppError::NotFound),
        // Only the client area's reissue asks for a confirmed address; shown as said, if ever.
        Err(ReissueError::Unconfirmed(refusal)) => {
            detail_page(&licenses, &gate, id, csrf, None, Some(refusal.to_string())).await
        }
        Err(ReissueError::Storage(e)) => Err(e.into()),
    }
}

/// Publishes a new key that does not sign yet.
pub async fn post_key_add(State(licenses): State<Licenses>, gate: Gate) -> AppResult<Response> {
    match licenses.add_signing_key(gate.current.id()).await {
        Ok(_) => Ok(Redirect::to(paths::ADMIN_LICENSES).into_response()),
        Err(SigningError::Storage(e)) => Err(e.into()),
        Err(SigningError::Unusable(e)) => Err(AppError::Unexpected(e)),
    }
}

/// The key-activation form.
#[derive(serde::Deserialize)]
pub struct ActivateForm {
    key_id: String,
}

/// Starts signing with a published key; the previous signing key is retired but stays
/// published, so answers it signed still verify.
pub async fn post_key_activate(
    State(licenses): State<Licenses>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ActivateForm>,
) -> AppResult<Response> {
    match licenses
        .activate_signing_key(gate.current.id(), &form.key_id)
        .await
    {
        Ok(()) => Ok(Redirect::to(paths::ADMIN_LICENSES).into_response()),
        Err(missing @ ActivateError::NoSuchKey(_)) => {
            list_page(&licenses, &gate, csrf, Some(missing.to_string())).await
        }
        Err(ActivateError::Storage(e)) => Err(e.into()),
    }
}
