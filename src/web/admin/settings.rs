//! `GET/POST /admin/settings`: the runtime settings, validated field by field.

use crate::settings::{self, ChangeError, KEYS, Settings};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ConfigureGeneralSettings, CsrfToken, Form, Peer, RequirePermission};
use crate::web::page::{self, SettingField, SettingsPage};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

fn describe(key: &str) -> (&'static str, &'static str, bool) {
    match key {
        "timezone" => (
            "Timezone",
            "An IANA name such as Europe/London: every time shown and the hour of daily tasks. Times are stored in UTC whatever this says.",
            false,
        ),
        "proxy.header" => (
            "Client address header",
            "X-Forwarded-For, Forwarded, X-Real-IP or CF-Connecting-IP.",
            false,
        ),
        "proxy.trusted" => (
            "Trusted proxies",
            "Addresses, CIDR ranges, loopback, private or cloudflare; one per line.",
            true,
        ),
        "bans.admin_failures" => ("Admin: failures before a ban", "0 disables banning.", false),
        "bans.admin_window_minutes" => (
            "Admin: counting window (minutes)",
            "Failures older than this are forgotten.",
            false,
        ),
        "bans.admin_ban_minutes" => (
            "Admin: ban length (minutes)",
            "How long the address stays banned.",
            false,
        ),
        "bans.client_failures" => (
            "Client area: failures before a ban",
            "0 disables banning.",
            false,
        ),
        "bans.client_window_minutes" => (
            "Client area: counting window (minutes)",
            "Failures older than this are forgotten.",
            false,
        ),
        "bans.client_ban_minutes" => (
            "Client area: ban length (minutes)",
            "How long the address stays banned.",
            false,
        ),
        "forward_auth.rules" => (
            "Forward authentication rules",
            "One rule per line: HOST [PATH] WHO. HOST is a host name or *.domain; PATH a prefix (default /); WHO is bypass, deny, client, admin, admin:PERMISSION or client:PERMISSION. The first matching rule decides; a request no rule matches is denied. Check a URL with portcullis forward-auth explain.",
            true,
        ),
        _ => (
            "Never banned",
            "Addresses and ranges that are never banned; one per line.",
            true,
        ),
    }
}

fn fields(
    current: &settings::Effective,
    typed: Option<&BTreeMap<String, String>>,
    error: Option<&settings::SettingError>,
) -> Vec<SettingField> {
    KEYS.iter()
        .map(|key| {
            let (label, hint, multiline) = describe(key);
            SettingField {
                key,
                id: key.replace('.', "-"),
                label,
                hint,
                value: typed
                    .and_then(|t| t.get(*key).cloned())
                    .unwrap_or_else(|| current.values.text(key)),
                multiline,
                source: current
                    .sources
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or_else(|| "default".into(), |(_, s)| s.clone()),
                error: error
                    .filter(|e| e.key == *key)
                    .map(|e| format!("{:?} is not allowed: {}.", e.value, e.allowed)),
            }
        })
        .collect()
}

fn render(
    gate: &RequirePermission<ConfigureGeneralSettings>,
    csrf: String,
    notice: Option<String>,
    fields: Vec<SettingField>,
) -> Response {
    page::render(&SettingsPage {
        title: "Settings",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        notice,
        csrf,
        refresh_seconds: settings::REFRESH_SECONDS,
        fields,
    })
}

/// The form with the values in force and where each came from.
pub async fn get_settings(
    State(settings): State<Settings>,
    gate: RequirePermission<ConfigureGeneralSettings>,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    let current = settings.current().await;
    let f = fields(&current, None, None);
    render(&gate, csrf, None, f)
}

/// Validates every field; saves all of them or none.
pub async fn post_settings(
    State(settings): State<Settings>,
    gate: RequirePermission<ConfigureGeneralSettings>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let changes: Vec<(&str, String)> = KEYS
        .iter()
        .filter_map(|k| form.get(*k).map(|v| (*k, v.clone())))
        .collect();
    match settings
        .change(&changes, &gate.current.actor(), &addr.ip.to_string())
        .await
    {
        Ok(()) => {
            let current = settings.current().await;
            let f = fields(&current, None, None);
            Ok(render(&gate, csrf, Some("Settings saved.".into()), f))
        }
        Err(ChangeError::Invalid(e)) => {
            let current = settings.current().await;
            let f = fields(&current, Some(&form), Some(&e));
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&gate, csrf, None, f),
            )
                .into_response())
        }
        Err(ChangeError::Storage(e)) => Err(AppError::from(e)),
    }
}
