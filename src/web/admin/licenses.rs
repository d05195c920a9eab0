//! The licensing server's admin pages (permission `manage_licenses`): products, issuing
//! licences, a licence's key, bindings, status, reissue and access log, and signing-key rotation.

use crate::app::AppState;
use crate::db;
use crate::license::{self, IssueRequest};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, ManageLicenses, RequirePermission};
use crate::web::page::{
    self, LicenseCheckView, LicensePage, LicenseRowView, LicensesPage, ProductPage,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

type Gate = RequirePermission<ManageLicenses>;

/// An audit entry by the signed-in admin; the client address and user agent are the request's
/// (`db::audit::RequestOrigin`).
async fn audit(
    state: &AppState,
    gate: &Gate,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    db::setting::audit_about(
        &state.db,
        state.clock.unix(),
        &format!("admin:{}", gate.current.admin.id),
        action,
        subject,
        detail,
        "",
    )
    .await
}

/// One line per entry, trimmed, at most 50 entries of 255 characters.
fn entries(text: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if list.len() > 50 || list.iter().any(|l| l.len() > 255) {
        return Err("at most 50 entries of 255 characters, one per line".into());
    }
    Ok(list)
}

/// A binding list with where each entry came from, so whoever reads it knows what a reissue
/// clears: "a (preset), b (bound by a check)".
fn origins(list: &[String], preset: &[String]) -> String {
    list.iter()
        .map(|entry| {
            let origin = if preset.contains(entry) {
                "preset"
            } else {
                "bound by a check"
            };
            format!("{entry} ({origin})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A licence row for lists.
pub(crate) fn row_view(
    state: &AppState,
    l: &db::license::License,
    products: &[db::license::Product],
) -> LicenseRowView {
    let now = state.clock.unix();
    LicenseRowView {
        id: l.id,
        product: products
            .iter()
            .find(|p| p.id == l.product_id)
            .map_or_else(|| format!("product {}", l.product_id), |p| p.name.clone()),
        client_id: l.client_id,
        hint: l.key_hint.clone(),
        status: license::effective_status(l, now).to_owned(),
        expires: l.expires_at.map(|at| state.show_time(at)),
        domains: origins(&l.domains, &l.preset_domains),
        ips: origins(&l.ips, &l.preset_ips),
        directories: origins(&l.directories, &l.preset_directories),
        reissues: l.reissues,
        last_check: l
            .last_check_at
            .map_or_else(|| "never".to_owned(), |at| state.show_time(at)),
    }
}

fn check_view(state: &AppState, c: db::license::Check) -> LicenseCheckView {
    LicenseCheckView {
        at: state.show_time(c.at),
        remote_ip: c.remote_ip,
        identity: format!("{} · {} · {}", c.domain, c.ip, c.directory),
        version: c.verifier_version,
        verdict: c.verdict,
        key_hint: c.key_hint,
    }
}

async fn list_page(
    state: &AppState,
    gate: &Gate,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let products = db::license::products(&state.db).await?;
    let mut licenses = Vec::new();
    for l in db::license::list(&state.db, 0).await? {
        licenses.push(row_view(state, &l, &products));
    }
    let unmatched = db::license::unmatched_checks(&state.db, 50)
        .await?
        .into_iter()
        .map(|c| check_view(state, c))
        .collect();
    let keys = db::license::signing_keys(&state.db)
        .await?
        .into_iter()
        .map(|k| {
            let status = match (k.activated_at, k.retired_at) {
                (_, Some(at)) => format!("retired {}, still published", state.show_time(at)),
                (Some(_), None) => "signing".to_owned(),
                (None, None) => "published, not signing yet".to_owned(),
            };
            (k.key_id, k.public_key, status)
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        page::render(&LicensesPage {
            title: "Licences",
            nav: Some(super::nav(&gate.current, csrf.clone())),
            csrf,
            notice,
            error,
            products,
            licenses,
            unmatched,
            keys,
        }),
    )
        .into_response())
}

/// The list, the product and issue forms, and the signing keys.
pub async fn get_licenses(
    State(state): State<AppState>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    list_page(&state, &gate, csrf, None, None).await
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

/// The defaults the issue (F07) names: a check every 7 days, 3 days' grace; 3 reissues.
const DEFAULT_INTERVAL_DAYS: i64 = 7;
const DEFAULT_GRACE_DAYS: i64 = 3;
const DEFAULT_MAX_REISSUES: i64 = 3;

impl ProductForm {
    /// The validated fields other than the key prefix.
    fn product(&self, id: i64, key_prefix: String) -> Result<db::license::Product, String> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err("Name: 1 to 100 characters.".to_owned());
        }
        Ok(db::license::Product {
            id,
            name: name.to_owned(),
            key_prefix,
            check_interval_days: number(
                "Check interval",
                &self.check_interval_days,
                1..=365,
                DEFAULT_INTERVAL_DAYS,
            )?,
            grace_days: number("Grace period", &self.grace_days, 0..=90, DEFAULT_GRACE_DAYS)?,
            max_reissues: number(
                "Maximum reissues",
                &self.max_reissues,
                0..=1000,
                DEFAULT_MAX_REISSUES,
            )?,
        })
    }
}

fn number(
    field: &str,
    text: &str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<i64, String> {
    if text.trim().is_empty() {
        return Ok(default);
    }
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{field}: {text:?} is not a whole number from {} to {}.",
                range.start(),
                range.end()
            )
        })
}

/// Adds a product.
pub async fn post_product(
    State(state): State<AppState>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ProductForm>,
) -> AppResult<Response> {
    let prefix = form.key_prefix.trim().to_ascii_uppercase();
    let parsed = if !(2..=10).contains(&prefix.len())
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Err(format!(
            "Key prefix: {prefix:?} must be 2 to 10 letters A-Z or digits."
        ))
    } else {
        form.product(0, prefix)
    };
    let product = match parsed {
        Ok(p) => p,
        Err(e) => return list_page(&state, &gate, csrf, None, Some(e)).await,
    };
    match db::license::insert_product(&state.db, &product, state.clock.unix()).await {
        Ok(id) => {
            audit(
                &state,
                &gate,
                "license.product_created",
                &format!("product:{id}"),
                &format!("{} (prefix {})", product.name, product.key_prefix),
            )
            .await?;
            Ok(Redirect::to("/admin/licenses").into_response())
        }
        Err(e)
            if e.as_database_error()
                .is_some_and(sqlx::error::DatabaseError::is_unique_violation) =>
        {
            list_page(
                &state,
                &gate,
                csrf,
                None,
                Some("A product with this name or key prefix exists already.".into()),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

fn product_page(
    gate: &Gate,
    csrf: String,
    product: db::license::Product,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (
        status,
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
    State(state): State<AppState>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    let product = db::license::find_product(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(product_page(&gate, csrf, product, None))
}

/// Saves a product's name, check interval, grace and maximum reissues (the key prefix stays:
/// issued keys carry it). Takes effect at each licence's next check or reissue.
pub async fn post_product_edit(
    State(state): State<AppState>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ProductForm>,
) -> AppResult<Response> {
    let before = db::license::find_product(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let product = match form.product(id, before.key_prefix.clone()) {
        Ok(p) => p,
        Err(e) => {
            // Show what was typed, so the admin corrects rather than retypes.
            let mut shown = before.clone();
            form.name.trim().clone_into(&mut shown.name);
            return Ok(product_page(&gate, csrf, shown, Some(e)));
        }
    };
    match db::license::update_product(&state.db, &product).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound),
        Err(e)
            if e.as_database_error()
                .is_some_and(sqlx::error::DatabaseError::is_unique_violation) =>
        {
            let message = format!("Another product is called {:?}.", product.name);
            return Ok(product_page(&gate, csrf, product, Some(message)));
        }
        Err(e) => return Err(e.into()),
    }
    let describe = |p: &db::license::Product| {
        format!(
            "{}: check every {} days, {} days' grace, at most {} reissues",
            p.name, p.check_interval_days, p.grace_days, p.max_reissues
        )
    };
    audit(
        &state,
        &gate,
        "license.product_updated",
        &format!("product:{id}"),
        &format!("{} (was {})", describe(&product), describe(&before)),
    )
    .await?;
    Ok(Redirect::to("/admin/licenses").into_response())
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

/// The end of a day (`YYYY-MM-DD`) in the configured zone, as unix seconds.
fn end_of_day(state: &AppState, text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || format!("Expiry: {text:?} is not a date like 2027-12-31.");
    let date: jiff::civil::Date = text.parse().map_err(|_| bad())?;
    let zone = state.settings.snapshot().values.timezone.clone();
    date.tomorrow()
        .map_err(|_| bad())?
        .to_zoned(zone.tz().clone())
        .map(|z| Some(z.timestamp().as_second()))
        .map_err(|_| bad())
}

/// Issues a licence and shows its key.
pub async fn post_issue(
    State(state): State<AppState>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<IssueForm>,
) -> AppResult<Response> {
    let parsed = async {
        let product_id = form
            .product_id
            .trim()
            .parse::<i64>()
            .map_err(|_| "Choose a product.".to_owned())?;
        let client_id = form.client_id.trim().parse::<i64>().map_err(|_| {
            format!(
                "Client account: {:?} is not an account number.",
                form.client_id
            )
        })?;
        if db::client::find(&state.db, client_id)
            .await
            .ok()
            .flatten()
            .is_none()
        {
            return Err(format!("Client account {client_id} does not exist."));
        }
        Ok(IssueRequest {
            product_id,
            client_id,
            expires_at: end_of_day(&state, &form.expires)?,
            domains: entries(&form.domains).map_err(|e| format!("Domains: {e}"))?,
            ips: entries(&form.ips).map_err(|e| format!("IP addresses: {e}"))?,
            directories: entries(&form.directories).map_err(|e| format!("Directories: {e}"))?,
        })
    }
    .await;
    let request = match parsed {
        Ok(r) => r,
        Err(e) => return list_page(&state, &gate, csrf, None, Some(e)).await,
    };
    let (id, _key) = match license::issue(&state, &request).await {
        Ok(done) => done,
        Err(license::IssueError::NoProduct(_)) => {
            return list_page(&state, &gate, csrf, None, Some("Choose a product.".into())).await;
        }
        Err(e) => return Err(AppError::Unexpected(anyhow::anyhow!(e.to_string()))),
    };
    audit(
        &state,
        &gate,
        "license.issued",
        &format!("license:{id}"),
        &format!(
            "product {} for client account {}",
            request.product_id, request.client_id
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/licenses/{id}")).into_response())
}

/// `?done=...` after an action.
#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn detail_page(
    state: &AppState,
    gate: &Gate,
    id: i64,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let l = db::license::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let products = db::license::products(&state.db).await?;
    let row = row_view(state, &l, &products);
    let product = products.iter().find(|p| p.id == l.product_id);
    let checks = db::license::checks(&state.db, id, 50)
        .await?
        .into_iter()
        .map(|c| check_view(state, c))
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        page::render(&LicensePage {
            title: "Licence",
            nav: Some(super::nav(&gate.current, csrf.clone())),
            csrf,
            notice,
            error,
            key: license::reveal(state, &l).unwrap_or_else(|e| e.to_string()),
            stored_status: l.status.clone(),
            expires_input: l
                .expires_at
                .and_then(|at| jiff::Timestamp::from_second(at - 1).ok())
                .map(|t| {
                    t.to_zoned(state.settings.snapshot().values.timezone.tz().clone())
                        .date()
                        .to_string()
                })
                .unwrap_or_default(),
            max_reissues: product.map_or(0, |p| p.max_reissues),
            row,
            checks,
        }),
    )
        .into_response())
}

/// One licence.
pub async fn get_license(
    State(state): State<AppState>,
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
    detail_page(&state, &gate, id, csrf, notice, None).await
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
    State(state): State<AppState>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<StatusForm>,
) -> AppResult<Response> {
    db::license::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !matches!(form.status.as_str(), "active" | "suspended" | "expired") {
        return detail_page(
            &state,
            &gate,
            id,
            csrf,
            None,
            Some("Status: choose active, suspended or expired.".into()),
        )
        .await;
    }
    let expires = match end_of_day(&state, &form.expires) {
        Ok(e) => e,
        Err(e) => return detail_page(&state, &gate, id, csrf, None, Some(e)).await,
    };
    db::license::set_status(&state.db, id, &form.status, expires).await?;
    audit(
        &state,
        &gate,
        "license.status",
        &format!("license:{id}"),
        &format!(
            "{}{}",
            form.status,
            expires
                .map(|e| format!(", expires {}", state.show_time(e)))
                .unwrap_or_default()
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/licenses/{id}?done=saved")).into_response())
}

/// Clears the bindings (counted against the product's maximum).
pub async fn post_reissue(
    State(state): State<AppState>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    match license::reissue(&state, id).await? {
        license::Reissue::Done => {
            audit(&state, &gate, "license.reissued", &format!("license:{id}"), "by an admin").await?;
            Ok(Redirect::to(&format!("/admin/licenses/{id}?done=reissued")).into_response())
        }
        license::Reissue::LimitReached(max) => {
            detail_page(&state, &gate, id, csrf, None, Some(format!("This licence was reissued {max} times, the product's maximum. Raise the product's maximum (Licences, Products, the product's name) or issue a new licence."))).await
        }
        license::Reissue::NotFound => Err(AppError::NotFound),
    }
}

/// Publishes a new key that does not sign yet.
pub async fn post_key_add(State(state): State<AppState>, gate: Gate) -> AppResult<Response> {
    let key_id = crate::license::signing::add(&state)
        .await
        .map_err(AppError::Unexpected)?;
    audit(
        &state,
        &gate,
        "license.key_added",
        &key_id,
        "published, not signing yet",
    )
    .await?;
    Ok(Redirect::to("/admin/licenses").into_response())
}

/// The key-activation form.
#[derive(serde::Deserialize)]
pub struct ActivateForm {
    key_id: String,
}

/// Starts signing with a published key; the previous signing key is retired but stays
/// published, so answers it signed still verify.
pub async fn post_key_activate(
    State(state): State<AppState>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ActivateForm>,
) -> AppResult<Response> {
    if !crate::license::signing::activate(&state, &form.key_id).await? {
        let message = format!("There is no published, unretired key {:?}.", form.key_id);
        return list_page(&state, &gate, csrf, None, Some(message)).await;
    }
    audit(
        &state,
        &gate,
        "license.key_activated",
        &form.key_id,
        "signs from now on",
    )
    .await?;
    Ok(Redirect::to("/admin/licenses").into_response())
}
