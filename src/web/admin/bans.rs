//! `GET /admin/bans`, `POST /admin/bans`, `POST /admin/bans/lift`: banned addresses. The
//! [`Bans`] service checks the add form, makes, lists and lifts bans and audits them; this file
//! maps its answers to the page and its redirects. Each ban shows the area it covers; the add
//! form chooses one (both by default) and the page says why automatic bans cover one area.

use crate::account::FieldError;
use crate::auth::permission::Permission;
use crate::ban::{BanError, Bans, LiftError, NewBan, Scope};
use crate::web::error::AppResult;
use crate::web::extract::{CsrfToken, Form, ManageBannedIps, RequirePermission, ViewBannedIps};
use crate::web::page::{self, BanView, BansPage, FieldErrors};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// The add form's fields.
#[derive(serde::Deserialize, Default)]
pub struct BanForm {
    #[serde(default)]
    ip: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    scope: String,
}

/// `?done=...` after a change.
#[derive(serde::Deserialize)]
pub struct BansQuery {
    done: Option<String>,
}

async fn page_for(
    bans: &Bans,
    current: &crate::web::extract::CurrentAdmin,
    csrf: String,
    notice: Option<String>,
    form: &BanForm,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    let listed = bans
        .list()
        .await?
        .into_iter()
        .map(|b| BanView {
            until: b.until(),
            scope: b.scope.as_str(),
            area: b.scope.describe(),
            ip: b.ip,
            reason: b.reason,
            by: b.by,
        })
        .collect();
    Ok(page::render(&BansPage {
        title: "Banned addresses",
        nav: Some(super::nav(current, csrf.clone())),
        notice,
        csrf,
        can_manage: current.permissions.contains(Permission::ManageBannedIps),
        bans: listed,
        form_ip: form.ip.chars().take(64).collect(),
        form_reason: form.reason.chars().take(200).collect(),
        form_minutes: form.minutes.chars().take(10).collect(),
        scopes: Scope::ALL
            .iter()
            .map(|s| (s.as_str(), s.describe()))
            .collect(),
        form_scope: Scope::parse(&form.scope)
            .unwrap_or_default()
            .as_str()
            .to_owned(),
        errors: FieldErrors(errors),
    }))
}

/// Lists the bans in force.
pub async fn get_bans(
    State(bans): State<Bans>,
    gate: RequirePermission<ViewBannedIps>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<BansQuery>,
) -> AppResult<Response> {
    let notice = q.done.map(|d| match d.as_str() {
        "added" => "The address is banned.".to_owned(),
        "lifted" => "The ban was lifted.".to_owned(),
        _ => "Nothing to lift: that address was not banned.".to_owned(),
    });
    page_for(
        &bans,
        &gate.current,
        csrf,
        notice,
        &BanForm::default(),
        Vec::new(),
    )
    .await
}

/// Bans an address by hand.
pub async fn post_ban(
    State(bans): State<Bans>,
    gate: RequirePermission<ManageBannedIps>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<BanForm>,
) -> AppResult<Response> {
    let new = NewBan {
        ip: &form.ip,
        reason: &form.reason,
        minutes: &form.minutes,
        scope: &form.scope,
    };
    match bans.add(&new, &gate.current.actor()).await {
        Ok(_) => Ok(Redirect::to("/admin/bans?done=added").into_response()),
        Err(BanError::Invalid(errors)) => {
            let page = page_for(&bans, &gate.current, csrf, None, &form, errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(BanError::Storage(e)) => Err(e.into()),
    }
}

/// The lift form's fields: the key, and the scope of the row (empty: every scope).
#[derive(serde::Deserialize)]
pub struct LiftForm {
    ip: String,
    #[serde(default)]
    scope: String,
}

/// Lifts a ban.
pub async fn post_lift(
    State(bans): State<Bans>,
    gate: RequirePermission<ManageBannedIps>,
    Form(form): Form<LiftForm>,
) -> AppResult<Response> {
    let scope = match form.scope.trim() {
        "" => None,
        s => Scope::parse(s),
    };
    let done = match bans
        .lift_in(&form.ip, scope, &gate.current.actor(), None)
        .await
    {
        Ok(_) => "/admin/bans?done=lifted",
        Err(LiftError::NotAnAddress(_) | LiftError::NotBanned(_)) => "/admin/bans?done=none",
        Err(LiftError::Storage(e)) => return Err(e.into()),
    };
    Ok(Redirect::to(done).into_response())
}
