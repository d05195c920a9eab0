//! The OpenID Connect applications' admin pages (permission `manage_oidc_applications`): the
//! list with the new-application form, an application's page (settings, secret reset,
//! deletion, refused requests with the closest registered redirect URI), and the page that
//! shows a new secret once.
//!
//! Every rule, read and audit entry is the [`Applications`] service's; this file turns its
//! values into views and its refusals into the page again with the message (422).

use crate::oidc::application::{Application, ApplicationError, Applications};
use crate::oidc::draft::ApplicationDraft;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfToken, Form, ManageOidcApplications, RequirePermission};
use crate::web::page::{
    self, OidcApplicationPage, OidcApplicationView, OidcApplicationsPage, OidcDeliveryView,
    OidcFormView, OidcRefusalView, OidcSecretPage,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

type Gate = RequirePermission<ManageOidcApplications>;

/// The list page.
const LIST: &str = "/admin/oidc/applications";
/// Refusals shown on an application's page.
const REFUSALS_SHOWN: i64 = 50;

fn detail_path(id: i64) -> String {
    format!("{LIST}/{id}")
}

/// The application form as posted (new and edit alike).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ApplicationForm {
    name: String,
    realm: String,
    kind: String,
    auth_method: String,
    signing_alg: String,
    allowed_scopes: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    id_token_seconds: String,
    access_token_seconds: String,
    refresh_token_seconds: String,
    first_party: String,
    backchannel_logout_uri: String,
    creation_key: String,
}

impl ApplicationForm {
    fn draft(&self) -> ApplicationDraft {
        ApplicationDraft {
            name: self.name.clone(),
            realm: self.realm.clone(),
            kind: self.kind.clone(),
            auth_method: self.auth_method.clone(),
            signing_alg: self.signing_alg.clone(),
            allowed_scopes: self.allowed_scopes.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            id_token_seconds: self.id_token_seconds.clone(),
            access_token_seconds: self.access_token_seconds.clone(),
            refresh_token_seconds: self.refresh_token_seconds.clone(),
            first_party: !self.first_party.is_empty(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            creation_key: self.creation_key.clone(),
        }
    }

    /// What was typed, to show it again with the refusal.
    fn view(&self) -> OidcFormView {
        let d = self.draft();
        OidcFormView {
            name: d.name,
            realm: d.realm,
            kind: d.kind,
            auth_method: d.auth_method,
            signing_alg: d.signing_alg,
            allowed_scopes: d.allowed_scopes,
            redirect_uris: d.redirect_uris,
            post_logout_redirect_uris: d.post_logout_redirect_uris,
            id_token_seconds: d.id_token_seconds,
            access_token_seconds: d.access_token_seconds,
            refresh_token_seconds: d.refresh_token_seconds,
            first_party: d.first_party,
            backchannel_logout_uri: d.backchannel_logout_uri,
            creation_key: d.creation_key,
        }
    }
}

/// An application's stored settings as the edit form shows them.
fn form_of(a: &Application) -> OidcFormView {
    OidcFormView {
        name: a.name.clone(),
        realm: a.realm.as_str().to_owned(),
        kind: a.kind.as_str().to_owned(),
        auth_method: a.auth_method.as_str().to_owned(),
        signing_alg: a.signing_alg.as_str().to_owned(),
        allowed_scopes: a.scopes.join(" "),
        redirect_uris: a.redirect_uris.join("\n"),
        post_logout_redirect_uris: a.post_logout_redirect_uris.join("\n"),
        id_token_seconds: a.id_token_seconds.to_string(),
        access_token_seconds: a.access_token_seconds.to_string(),
        refresh_token_seconds: a.refresh_token_seconds.to_string(),
        first_party: a.first_party,
        backchannel_logout_uri: a.backchannel_logout_uri.clone().unwrap_or_default(),
        creation_key: String::new(),
    }
}

fn view(apps: &Applications, a: &Application) -> OidcApplicationView {
    OidcApplicationView {
        id: a.id,
        name: a.name.clone(),
        client_id: a.client_id.clone(),
        realm: a.realm.as_str().to_owned(),
        kind: a.kind.as_str().to_owned(),
        auth_method: a.auth_method.as_str().to_owned(),
        scopes: a.scopes.join(" "),
        redirect_uris: a.redirect_uris.clone(),
        backchannel: a.backchannel_logout_uri.clone().unwrap_or_default(),
        secret_set: a.secret_set_at.map_or_else(
            || "none (public application)".to_owned(),
            |at| format!("set {}", apps.show_time(at)),
        ),
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
    apps: &Applications,
    gate: &Gate,
    csrf: String,
    form: OidcFormView,
    error: Option<String>,
) -> AppResult<Response> {
    let applications = apps.list().await?;
    Ok((
        status_for(error.as_ref()),
        page::render(&OidcApplicationsPage {
            title: "OpenID Connect applications",
            nav: Some(super::nav(&gate.current, csrf.clone())),
            csrf,
            error,
            applications: applications.iter().map(|a| view(apps, a)).collect(),
            form,
            discovery_url: apps.discovery_url(),
        }),
    )
        .into_response())
}

fn secret_page(
    apps: &Applications,
    gate: &Gate,
    csrf: String,
    a: &Application,
    secret: String,
) -> Response {
    page::render(&OidcSecretPage {
        title: "Application secret",
        nav: Some(super::nav(&gate.current, csrf.clone())),
        csrf,
        id: a.id,
        name: a.name.clone(),
        client_id: a.client_id.clone(),
        secret,
        discovery_url: apps.discovery_url(),
    })
}

/// The list and the new-application form.
pub async fn get_applications(
    State(apps): State<Applications>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    // A fresh one-time key per form shown: sent twice, it creates one application.
    let key = crate::token::generate()
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("no randomness: {e}")))?;
    let form = OidcFormView {
        creation_key: key.plain,
        ..OidcFormView::default()
    };
    list_page(&apps, &gate, csrf, form, None).await
}

/// Registers an application; a confidential one's secret is shown once, on this answer.
pub async fn post_application(
    State(apps): State<Applications>,
    gate: Gate,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ApplicationForm>,
) -> AppResult<Response> {
    match apps.create(gate.current.id(), &form.draft()).await {
        Ok(created) => Ok(match created.secret {
            Some(secret) => secret_page(&apps, &gate, csrf, &created.application, secret),
            None => Redirect::to(&detail_path(created.application.id)).into_response(),
        }),
        Err(ApplicationError::AlreadyCreated(id)) => {
            Ok(Redirect::to(&format!("{}?done=already-created", detail_path(id))).into_response())
        }
        Err(refused @ ApplicationError::Invalid(_)) => {
            list_page(&apps, &gate, csrf, form.view(), Some(refused.to_string())).await
        }
        Err(e) => Err(failed(e)),
    }
}

fn failed(e: ApplicationError) -> AppError {
    match e {
        ApplicationError::NotFound => AppError::NotFound,
        ApplicationError::Storage(e) => e.into(),
        other => AppError::Unexpected(anyhow::anyhow!(other.to_string())),
    }
}

/// `?done=...` after an action.
#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn detail_page(
    apps: &Applications,
    gate: &Gate,
    id: i64,
    csrf: String,
    typed: Option<OidcFormView>,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let a = apps.find(id).await?.ok_or(AppError::NotFound)?;
    let refusals = apps
        .recent_refusals(&a, REFUSALS_SHOWN)
        .await?
        .into_iter()
        .map(|r| OidcRefusalView {
            at: apps.show_time(r.at),
            endpoint: r.endpoint,
            reason: r.reason,
            detail: r.detail,
            redirect: r
                .redirect
                .map(|(sent, closest)| (sent, closest.map(|c| (c.registered, c.difference)))),
        })
        .collect();
    let deliveries = apps
        .logout_deliveries(&a, REFUSALS_SHOWN)
        .await?
        .into_iter()
        .map(|d| OidcDeliveryView {
            queued: apps.show_time(d.created_at),
            state: d.state,
            attempts: d.attempts,
            answer: match (d.last_status, d.last_reply) {
                (Some(status), Some(reply)) => format!("HTTP {status} {reply}"),
                (None, Some(reply)) => reply,
                _ => String::new(),
            },
        })
        .collect();
    Ok((
        status_for(error.as_ref()),
        page::render(&OidcApplicationPage {
            title: "OpenID Connect application",
            nav: Some(super::nav(&gate.current, csrf.clone())),
            csrf,
            notice,
            error,
            form: typed.unwrap_or_else(|| form_of(&a)),
            app: view(apps, &a),
            refusals,
            deliveries,
            discovery_url: apps.discovery_url(),
        }),
    )
        .into_response())
}

/// An application's page.
pub async fn get_application(
    State(apps): State<Applications>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Query(q): Query<DoneQuery>,
) -> AppResult<Response> {
    let notice = match q.done.as_str() {
        "saved" => Some("Saved.".to_owned()),
        "already-created" => Some(
            "This application was created already: the form was sent twice (a reload or a second click). Its secret was shown once, when it was created; if it was not copied, reset it below.".to_owned(),
        ),
        _ => None,
    };
    detail_page(&apps, &gate, id, csrf, None, notice, None).await
}

/// Saves an application's settings; a public application made confidential gets its first
/// secret, shown once on this answer.
pub async fn post_application_edit(
    State(apps): State<Applications>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<ApplicationForm>,
) -> AppResult<Response> {
    match apps.update(gate.current.id(), id, &form.draft()).await {
        Ok(None) => Ok(Redirect::to(&format!("{}?done=saved", detail_path(id))).into_response()),
        Ok(Some(secret)) => {
            let a = apps.find(id).await?.ok_or(AppError::NotFound)?;
            Ok(secret_page(&apps, &gate, csrf, &a, secret))
        }
        Err(refused @ ApplicationError::Invalid(_)) => {
            let message = refused.to_string();
            detail_page(
                &apps,
                &gate,
                id,
                csrf,
                Some(form.view()),
                None,
                Some(message),
            )
            .await
        }
        Err(e) => Err(failed(e)),
    }
}

/// Replaces the secret (the old one stops at once) and shows the new one once.
pub async fn post_secret(
    State(apps): State<Applications>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
) -> AppResult<Response> {
    match apps.reset_secret(gate.current.id(), id).await {
        Ok(secret) => {
            let a = apps.find(id).await?.ok_or(AppError::NotFound)?;
            Ok(secret_page(&apps, &gate, csrf, &a, secret))
        }
        Err(refused @ ApplicationError::Public(_)) => {
            let message = refused.to_string();
            detail_page(&apps, &gate, id, csrf, None, None, Some(message)).await
        }
        Err(e) => Err(failed(e)),
    }
}

/// The delete form: the box must be ticked.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    confirm: String,
}

/// Deletes an application with its redirect URIs and refusals, once confirmed.
pub async fn post_delete(
    State(apps): State<Applications>,
    gate: Gate,
    Path(id): Path<i64>,
    CsrfToken(csrf): CsrfToken,
    Form(form): Form<DeleteForm>,
) -> AppResult<Response> {
    if form.confirm != "yes" {
        let message = "Tick the box to confirm the deletion: people can no longer sign in through the application.";
        return detail_page(&apps, &gate, id, csrf, None, None, Some(message.to_owned())).await;
    }
    match apps.delete(gate.current.id(), id).await {
        Ok(()) => Ok(Redirect::to(LIST).into_response()),
        Err(e) => Err(failed(e)),
    }
}
