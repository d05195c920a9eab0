//! `/admin/two-factor`: the Duo application's settings (validated and checked with Duo before
//! they are saved; legacy or refused credentials are not stored, with the steps to create the
//! right application, F12), and turning off someone's two-step verification when they have lost
//! every factor (after a step-up, and never for an admin who holds more than the actor).
//!
//! Every read and change goes through the [`TwoFactor`] service, which also audits them; this
//! file maps its outcomes to the page, its status and its messages.

use crate::admin::Granter;
use crate::config::DuoOutage;
use crate::session::Realm;
use crate::twofactor::duo::store::{Health, SaveError};
use crate::twofactor::reset::{ResetBy, ResetError};
use crate::twofactor::{STEP_UP_SECONDS, TwoFactor};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ConfigureTwoFactor, CsrfToken, Form, RequirePermission};
use crate::web::page;
use crate::web::twofactor::pages::AdminTwoFactorPage;
use crate::web::twofactor::{AdminSide, Side as _};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What the page says besides the settings.
#[derive(Default)]
struct Said {
    error: Option<String>,
    notice: Option<String>,
    duo_status: Option<String>,
}

async fn render(
    two_factor: &TwoFactor,
    gate: &RequirePermission<ConfigureTwoFactor>,
    csrf: String,
    status: StatusCode,
    said: Said,
) -> AppResult<Response> {
    let stored = two_factor.duo_application().await?;
    let body = AdminTwoFactorPage {
        title: "Two-step verification",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        csrf,
        error: said.error,
        notice: said.notice,
        client_policy: two_factor.policy(Realm::Client).as_str(),
        admin_policy: two_factor.policy(Realm::Admin).as_str(),
        outage: match two_factor.duo_outage() {
            DuoOutage::FailClosed => "fail closed (backup codes only)",
            DuoOutage::OtherFactor => "other factors allowed",
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
        duo_status: said.duo_status,
        redirect_uris: vec![
            two_factor.duo_redirect_uri(Realm::Client),
            two_factor.duo_redirect_uri(Realm::Admin),
        ],
    };
    Ok((status, page::render(&body)).into_response())
}

fn error(message: String) -> Said {
    Said {
        error: Some(message),
        ..Said::default()
    }
}

fn notice(message: String) -> Said {
    Said {
        notice: Some(message),
        ..Said::default()
    }
}

/// Shows the page.
pub async fn get_page(
    State(two_factor): State<TwoFactor>,
    gate: RequirePermission<ConfigureTwoFactor>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    render(&two_factor, &gate, csrf, StatusCode::OK, Said::default()).await
}

/// Validates and saves the Duo settings, then asks Duo whether they work.
pub async fn post_duo(
    State(two_factor): State<TwoFactor>,
    gate: RequirePermission<ConfigureTwoFactor>,
    CsrfToken(csrf): CsrfToken,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let fields: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .collect();
    let said = match two_factor
        .configure_duo(fields, &gate.current.actor())
        .await
    {
        Ok(Health::Answered { clock_difference }) => Said {
            notice: Some("Saved. Duo answered the health check with these credentials.".into()),
            duo_status: Some(format!("Clock difference to Duo: {clock_difference} s.")),
            error: None,
        },
        Ok(Health::Failed(e)) => Said {
            notice: Some("Saved, but Duo did not accept a health check yet.".into()),
            duo_status: Some(e.user_message()),
            error: None,
        },
        Err(SaveError::Refused(refused)) => {
            let said = error(refused.to_string());
            return render(&two_factor, &gate, csrf, StatusCode::BAD_REQUEST, said).await;
        }
        Err(SaveError::WrongCredentials(refused)) => {
            let kept = if two_factor.duo_configured().await? {
                "The previous Duo settings were kept and still apply."
            } else {
                "Nothing was saved."
            };
            let said = error(format!(
                "These Duo credentials are wrong, so they were not saved. {} {kept}",
                refused.user_message()
            ));
            return render(&two_factor, &gate, csrf, StatusCode::BAD_REQUEST, said).await;
        }
        Err(SaveError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
        Err(SaveError::Storage(e)) => return Err(e.into()),
    };
    render(&two_factor, &gate, csrf, StatusCode::OK, said).await
}

/// Removes the Duo settings (people enrolled in Duo then use their other factors).
pub async fn post_duo_remove(
    State(two_factor): State<TwoFactor>,
    gate: RequirePermission<ConfigureTwoFactor>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    two_factor.remove_duo(&gate.current.actor()).await?;
    let said = notice("The Duo settings were removed.".into());
    render(&two_factor, &gate, csrf, StatusCode::OK, said).await
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
    State(two_factor): State<TwoFactor>,
    gate: RequirePermission<ConfigureTwoFactor>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    let Some(realm) = Realm::parse(&form.realm) else {
        let said =
            error("Choose whether the account is a client-area user or an administrator.".into());
        return render(&two_factor, &gate, csrf, StatusCode::BAD_REQUEST, said).await;
    };
    let granter = Granter::new(&gate.current.admin, gate.current.permissions);
    let by = ResetBy::Admin {
        by: &granter,
        session_hash: &gate.current.session.id_hash,
    };
    let (status, said) = match two_factor.reset_for(realm, &form.login, &by).await {
        Ok(target) => (
            StatusCode::OK,
            notice(format!(
                "Two-step verification is off for {}. They were told by email.",
                target.login
            )),
        ),
        Err(ResetError::NoSuchAccount { realm, login }) => (
            StatusCode::NOT_FOUND,
            error(format!("No {realm} account is called {login}.")),
        ),
        Err(ResetError::StepUpNeeded) => (
            StatusCode::FORBIDDEN,
            error(format!(
                "Confirm it's you first: enter your password or a current code on your security page ({}), then turn off the factors within {} minutes.",
                AdminSide::SECURITY,
                STEP_UP_SECONDS / 60
            )),
        ),
        Err(ResetError::Beyond(refused)) => (
            StatusCode::FORBIDDEN,
            error(format!(
                "Two-step verification was not turned off. {refused} Their factors are unchanged."
            )),
        ),
        Err(ResetError::Unexpected(e)) => return Err(AppError::Unexpected(e)),
        Err(ResetError::Storage(e)) => return Err(e.into()),
    };
    render(&two_factor, &gate, csrf, status, said).await
}
