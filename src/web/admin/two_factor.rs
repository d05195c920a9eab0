//! `/admin/two-factor`: the Duo application's settings (validated when saved; legacy
//! credentials refused with the steps to create the right application, F12), and turning off
//! someone's two-step verification when they have lost every factor.

use crate::app::AppState;
use crate::session::Realm;
use crate::twofactor::duo::store;
use crate::twofactor::manage;
use crate::web::error::AppResult;
use crate::web::extract::{ConfigureTwoFactor, CsrfToken, Form, Peer, RequirePermission};
use crate::web::page;
use crate::web::twofactor::pages::AdminTwoFactorPage;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

async fn render(
    state: &AppState,
    gate: &RequirePermission<ConfigureTwoFactor>,
    csrf: String,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    duo_status: Option<String>,
) -> AppResult<Response> {
    let stored = crate::db::two_factor::duo_settings(&state.db).await?;
    let tf = &state.config.two_factor;
    let body = AdminTwoFactorPage {
        title: "Two-step verification",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        csrf,
        error,
        notice,
        client_policy: tf.client_policy.as_str(),
        admin_policy: tf.admin_policy.as_str(),
        outage: match tf.duo_outage {
            crate::config::DuoOutage::FailClosed => "fail closed (backup codes only)",
            crate::config::DuoOutage::OtherFactor => "other factors allowed",
        },
        duo_client_id: stored
            .as_ref()
            .map(|s| s.client_id.clone())
            .unwrap_or_default(),
        duo_api_hostname: stored
            .as_ref()
            .map(|s| s.api_hostname.clone())
            .unwrap_or_default(),
        duo_configured: stored.is_some(),
        duo_status,
        redirect_uris: vec![
            store::redirect_uri(state, Realm::Client),
            store::redirect_uri(state, Realm::Admin),
        ],
    };
    Ok((status, page::render(&body)).into_response())
}

/// Shows the page.
pub async fn get_page(
    State(state): State<AppState>,
    gate: RequirePermission<ConfigureTwoFactor>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render(&state, &gate, csrf, StatusCode::OK, None, None, None).await
}

/// Validates and saves the Duo settings, then asks Duo whether they work.
pub async fn post_duo(
    State(state): State<AppState>,
    gate: RequirePermission<ConfigureTwoFactor>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let fields: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .collect();
    let creds = match store::save(&state, fields).await? {
        Ok(creds) => creds,
        Err(refused) => {
            return render(
                &state,
                &gate,
                csrf,
                StatusCode::BAD_REQUEST,
                Some(refused.to_string()),
                None,
                None,
            )
            .await;
        }
    };
    manage::audit(
        &state,
        &manage::actor(Realm::Admin, gate.current.admin.id),
        "two_factor.duo_settings",
        &format!(
            "Duo application {} at {} saved",
            creds.client_id, creds.api_hostname
        ),
        &addr.ip.to_string(),
    )
    .await?;
    let now = state.clock.unix();
    let health = match store::client_for(&state, creds) {
        Ok(duo) => duo.health_check(now).await,
        Err(e) => Err(crate::twofactor::duo::DuoError::Unavailable(e.to_string())),
    };
    let (notice, duo_status) = match health {
        Ok(timestamp) => (
            "Saved. Duo answered the health check with these credentials.".to_owned(),
            Some(format!("Clock difference to Duo: {} s.", timestamp - now)),
        ),
        Err(e) => (
            "Saved, but Duo did not accept a health check yet.".to_owned(),
            Some(e.user_message()),
        ),
    };
    render(
        &state,
        &gate,
        csrf,
        StatusCode::OK,
        None,
        Some(notice),
        duo_status,
    )
    .await
}

/// Removes the Duo settings (people enrolled in Duo then use their other factors).
pub async fn post_duo_remove(
    State(state): State<AppState>,
    gate: RequirePermission<ConfigureTwoFactor>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    crate::db::two_factor::duo_settings_put(&state.db, None).await?;
    manage::audit(
        &state,
        &manage::actor(Realm::Admin, gate.current.admin.id),
        "two_factor.duo_settings",
        "Duo settings removed",
        &addr.ip.to_string(),
    )
    .await?;
    render(
        &state,
        &gate,
        csrf,
        StatusCode::OK,
        None,
        Some("The Duo settings were removed.".into()),
        None,
    )
    .await
}

/// Whose factors to remove.
#[derive(serde::Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    realm: String,
    #[serde(default)]
    login: String,
}

/// Removes every factor of a user or admin, tells them by email, and audits it.
pub async fn post_reset(
    State(state): State<AppState>,
    gate: RequirePermission<ConfigureTwoFactor>,
    Peer(addr): Peer,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    let login = form.login.trim();
    let found = match form.realm.as_str() {
        "client" => crate::db::account::find_user_by_email(&state.db, login)
            .await?
            .map(|u| (Realm::Client, u.id)),
        "admin" => crate::db::account::find_admin_by_username(&state.db, login)
            .await?
            .map(|a| (Realm::Admin, a.id)),
        _ => {
            return render(
                &state,
                &gate,
                csrf,
                StatusCode::BAD_REQUEST,
                Some(
                    "Choose whether the account is a client-area user or an administrator.".into(),
                ),
                None,
                None,
            )
            .await;
        }
    };
    let target = match found {
        Some((realm, id)) => manage::subject(&state, realm, id).await?,
        None => None,
    };
    let Some(target) = target else {
        return render(
            &state,
            &gate,
            csrf,
            StatusCode::NOT_FOUND,
            Some(format!("No {} account is called {login}.", form.realm)),
            None,
            None,
        )
        .await;
    };
    manage::reset(
        &state,
        &target,
        &format!("admin:{}", gate.current.admin.id),
        &format!("administrator {}", gate.current.admin.username),
        &addr.ip.to_string(),
    )
    .await?;
    render(
        &state,
        &gate,
        csrf,
        StatusCode::OK,
        None,
        Some(format!(
            "Two-step verification is off for {}. They were told by email.",
            target.login
        )),
        None,
    )
    .await
}
