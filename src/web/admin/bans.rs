//! `GET /admin/bans`, `POST /admin/bans`, `POST /admin/bans/lift`: banned addresses.

use crate::account::FieldError;
use crate::app::AppState;
use crate::auth::permission::Permission;
use crate::web::error::AppResult;
use crate::web::extract::{
    CsrfToken, Form, ManageBannedIps, Peer, RequirePermission, ViewBannedIps,
};
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
}

/// `?done=...` after a change.
#[derive(serde::Deserialize)]
pub struct BansQuery {
    done: Option<String>,
}

async fn page_for(
    state: &AppState,
    current: &crate::web::extract::CurrentAdmin,
    csrf: String,
    notice: Option<String>,
    form: &BanForm,
    errors: Vec<FieldError>,
) -> AppResult<Response> {
    let bans = crate::db::ban::list_active(&state.db, state.clock.unix())
        .await?
        .into_iter()
        .map(|b| BanView {
            until: b
                .expires_at
                .map_or_else(|| "until lifted".into(), |at| state.show_time(at)),
            ip: b.ip,
            reason: b.reason,
            by: b.created_by,
        })
        .collect();
    Ok(page::render(&BansPage {
        title: "Banned addresses",
        nav: Some(super::nav(current, csrf.clone())),
        notice,
        csrf,
        can_manage: current.permissions.contains(Permission::ManageBannedIps),
        bans,
        form_ip: form.ip.chars().take(64).collect(),
        form_reason: form.reason.chars().take(200).collect(),
        form_minutes: form.minutes.chars().take(10).collect(),
        errors: FieldErrors(errors),
    }))
}

/// Lists the bans in force.
pub async fn get_bans(
    State(state): State<AppState>,
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
        &state,
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
    State(state): State<AppState>,
    gate: RequirePermission<ManageBannedIps>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<BanForm>,
) -> AppResult<Response> {
    let mut errors = Vec::new();
    let ip = crate::net::client_ip::parse_entry(&form.ip);
    if ip.is_none() {
        errors.push(FieldError {
            field: "ip",
            message: "Enter one IP address, e.g. 203.0.113.7 or 2001:db8::1.".into(),
        });
    }
    if form.reason.trim().is_empty() || form.reason.chars().count() > 200 {
        errors.push(FieldError {
            field: "reason",
            message: "Say why, in 1 to 200 characters.".into(),
        });
    }
    let minutes = match form.minutes.trim() {
        "" => Ok(None),
        m => m
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=5_256_000).contains(n))
            .map(Some)
            .ok_or(()),
    };
    if minutes.is_err() {
        errors.push(FieldError {
            field: "minutes",
            message: "Enter whole minutes from 1 to 5256000, or leave it empty.".into(),
        });
    }
    let (Some(ip), Ok(minutes), true) = (ip, minutes, errors.is_empty()) else {
        let page = page_for(&state, &gate.current, csrf, None, &form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let actor = format!("admin:{}", gate.current.admin.id);
    crate::ban::add(
        &state,
        ip,
        &form.reason,
        minutes,
        &actor,
        &addr.ip.to_string(),
    )
    .await?;
    Ok(Redirect::to("/admin/bans?done=added").into_response())
}

/// The lift form's field.
#[derive(serde::Deserialize)]
pub struct LiftForm {
    ip: String,
}

/// Lifts a ban.
pub async fn post_lift(
    State(state): State<AppState>,
    gate: RequirePermission<ManageBannedIps>,
    Peer(addr): Peer,
    Form(form): Form<LiftForm>,
) -> AppResult<Response> {
    let actor = format!("admin:{}", gate.current.admin.id);
    let lifted = match crate::net::client_ip::parse_entry(&form.ip) {
        Some(ip) => crate::ban::lift(&state, ip, &actor, &addr.ip.to_string()).await?,
        None => false,
    };
    Ok(Redirect::to(if lifted {
        "/admin/bans?done=lifted"
    } else {
        "/admin/bans?done=none"
    })
    .into_response())
}
