//! The authorization endpoint in the browser: `GET`/`POST /oidc/authorize` (and its admin-realm
//! twin under `/admin/oidc/`), the way back after signing in (`.../authorize/continue`), and
//! the consent form. What a request becomes is `oidc::grant`'s decision; this turns it into a
//! redirect, a cookie or a page.
//!
//! The realm is the path's (so the session step loads the right session): a request for an
//! admin-realm application that arrives at `/oidc/authorize` is sent on to
//! `/admin/oidc/authorize` with the same parameters.

use crate::oidc::application::Applications;
use crate::oidc::authorize::{PageRefusal, Params, Refusal};
use crate::oidc::grant::{GrantError, Grants, Next, Parked, pairs};
use crate::session::Realm;
use crate::web::cookie::Cookies;
use crate::web::error::AppError;
use crate::web::extract::{CsrfToken, Form, SessionInfo};
use crate::web::middleware::security_headers::FormTargets;
use crate::web::middleware::session::{LoadedSession, realm_of};
use crate::web::page::{self, ErrorPage};
use crate::web::twofactor::{Side, Signed};
use axum::Extension;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

/// The authorization endpoint of a realm.
pub fn authorize_path(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/oidc/authorize",
        Realm::Admin => "/admin/oidc/authorize",
    }
}

/// Where the browser goes after signing in with a parked request.
pub fn continue_path(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/oidc/authorize/continue",
        Realm::Admin => "/admin/oidc/authorize/continue",
    }
}

/// Where the consent form posts.
pub fn consent_path(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/oidc/consent",
        Realm::Admin => "/admin/oidc/consent",
    }
}

/// What the endpoint handlers need, taken together.
pub struct Endpoint {
    applications: Applications,
    grants: Grants,
    cookies: Cookies,
}

impl axum::extract::FromRef<crate::app::AppState> for Endpoint {
    fn from_ref(state: &crate::app::AppState) -> Self {
        Self {
            applications: Applications::from(state),
            grants: Grants::from(state),
            cookies: Cookies::from(state),
        }
    }
}

/// `GET /oidc/authorize`: the parameters are the query.
pub async fn get_authorize(
    State(endpoint): State<Endpoint>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let realm = realm_of(uri.path());
    let query = uri.query().unwrap_or("").to_owned();
    endpoint
        .answer(realm, &query, loaded.as_ref(), None, csrf)
        .await
}

/// `POST /oidc/authorize` (Core §3.1.2.1: the endpoint takes both): the parameters are the
/// form body. No CSRF token: the application's page posts it, cross-site by nature; nothing
/// changes until the person answers a page of ours.
pub async fn post_authorize(
    State(endpoint): State<Endpoint>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    OriginalUri(uri): OriginalUri,
    body: String,
) -> Response {
    let realm = realm_of(uri.path());
    endpoint
        .answer(realm, &body, loaded.as_ref(), None, csrf)
        .await
}

/// `GET /oidc/authorize/continue`: back from signing in, the parked request goes on. Without
/// a parked request (expired, or an old cookie) the person simply lands at home.
pub async fn get_continue(
    State(endpoint): State<Endpoint>,
    SessionInfo(loaded): SessionInfo,
    CsrfToken(csrf): CsrfToken,
    OriginalUri(uri): OriginalUri,
    jar: CookieJar,
) -> Response {
    let realm = realm_of(uri.path());
    let home = || {
        (
            endpoint.cookies.clear_parked(realm),
            Redirect::to(crate::web::signin::home(realm)),
        )
            .into_response()
    };
    let Some(id) = jar
        .get(endpoint.cookies.parked_name(realm))
        .map(|c| c.value().to_owned())
    else {
        return home();
    };
    let parked = match endpoint.grants.parked(&id, realm).await {
        Ok(Some(p)) => p,
        Ok(None) => return home(),
        Err(e) => return AppError::storage(e).into_response(),
    };
    let query = parked.query.clone();
    endpoint
        .answer(realm, &query, loaded.as_ref(), Some(&parked), csrf)
        .await
}

/// The consent form's fields.
#[derive(serde::Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    parked: String,
    #[serde(default)]
    decision: String,
}

/// `POST /oidc/consent`: the person allowed or declined; either way back to the application.
pub async fn post_consent<S: Side>(
    State(endpoint): State<Endpoint>,
    signed: Signed<S>,
    Form(form): Form<ConsentForm>,
) -> Response {
    let allow = match form.decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return AppError::BadRequest(
                "The form said neither allow nor deny. Go back to the application and start again."
                    .into(),
            )
            .into_response();
        }
    };
    let clear = endpoint.cookies.clear_parked(S::REALM);
    match endpoint
        .grants
        .answer_consent(&form.parked, &signed.session, allow)
        .await
    {
        Ok(location) => (clear, Redirect::to(&location)).into_response(),
        Err(e) => (clear, endpoint.grant_error(e)).into_response(),
    }
}

impl Endpoint {
    /// Reads the request, decides, and answers.
    async fn answer(
        &self,
        realm: Realm,
        query: &str,
        loaded: Option<&LoadedSession>,
        parked: Option<&Parked>,
        csrf: String,
    ) -> Response {
        let pairs = pairs(query);
        let request = match self
            .applications
            .authorization_request(&Params::new(&pairs))
            .await
        {
            Ok(r) => r,
            Err(refusal) => return self.refusal(refusal),
        };
        if request.application.realm != realm {
            // The other realm's session decides; its endpoint takes the same parameters.
            let target = format!("{}?{query}", authorize_path(request.application.realm));
            return Redirect::to(&target).into_response();
        }
        let session = loaded.and_then(LoadedSession::live);
        let next = match self.grants.decide(&request, query, session, parked).await {
            Ok(next) => next,
            Err(e) => return self.grant_error(e),
        };
        match next {
            Next::Code { location } => {
                (self.cookies.clear_parked(realm), Redirect::to(&location)).into_response()
            }
            Next::Refuse(r) => (
                self.cookies.clear_parked(realm),
                Redirect::to(&r.location(self.grants.issuer())),
            )
                .into_response(),
            Next::SignIn {
                parked,
                again,
                login_hint,
            } => {
                let mut target = url::form_urlencoded::Serializer::new(String::new());
                target.append_pair("oidc", if again { "again" } else { "signin" });
                if let Some(hint) = &login_hint {
                    target.append_pair("login_hint", hint);
                }
                let login = crate::web::signin::login_path(realm);
                (
                    self.cookies.set_parked(realm, parked),
                    Redirect::to(&format!("{login}?{}", target.finish())),
                )
                    .into_response()
            }
            Next::Consent {
                parked,
                application,
                scopes,
            } => {
                let body = page::OidcConsentPage {
                    title: "Allow this application?",
                    nav: None,
                    application,
                    scopes: scopes.iter().map(|s| describe(s)).collect(),
                    action: consent_path(realm),
                    parked,
                    csrf,
                };
                // Allowing or declining is answered by a redirect to the application.
                let targets = FormTargets::of([request.redirect_uri.as_str()]);
                (Extension(targets), page::render(&body)).into_response()
            }
            Next::Impersonated { application } => {
                let message = format!(
                    "You are signed in as this client through \"login as client\". {application} cannot be signed in to that way: the application would take you for the client. End the impersonation and sign in as yourself."
                );
                let body = ErrorPage {
                    title: "Not while signed in as a client",
                    message: &message,
                    details: &[],
                    nav: None,
                };
                (StatusCode::FORBIDDEN, page::render(&body)).into_response()
            }
        }
    }

    /// A flow that could not go on, as a page.
    fn grant_error(&self, e: GrantError) -> Response {
        match e {
            GrantError::Expired => {
                let body = ErrorPage {
                    title: "This sign-in request has expired",
                    message: "The application's sign-in request waited more than 30 minutes, or was already answered. Go back to the application and sign in again from there.",
                    details: &[],
                    nav: None,
                };
                (StatusCode::BAD_REQUEST, page::render(&body)).into_response()
            }
            GrantError::Refused(Refusal::Page(p)) => refusal_page(&p),
            GrantError::Refused(Refusal::Redirect(r)) => {
                // A parked request the application's settings no longer allow: its redirect URI
                // was checked again just now, so it is still registered.
                Redirect::to(&r.location(self.grants.issuer())).into_response()
            }
            GrantError::Refused(Refusal::Storage(e)) | GrantError::Storage(e) => {
                AppError::storage(e).into_response()
            }
            GrantError::Random => {
                AppError::Unexpected(anyhow::anyhow!("the system's random source failed"))
                    .into_response()
            }
        }
    }

    /// A refused request: a page at Portcullis, or back to the application.
    fn refusal(&self, refusal: Refusal) -> Response {
        match refusal {
            Refusal::Page(p) => refusal_page(&p),
            Refusal::Redirect(r) => Redirect::to(&r.location(self.grants.issuer())).into_response(),
            Refusal::Storage(e) => AppError::storage(e).into_response(),
        }
    }
}

/// The page for a request whose redirect URI cannot be trusted (F14).
fn refusal_page(refusal: &PageRefusal) -> Response {
    let message = refusal.message();
    let body = ErrorPage {
        title: "This sign-in link cannot be used",
        message: &message,
        details: &[],
        nav: None,
    };
    (StatusCode::BAD_REQUEST, page::render(&body)).into_response()
}

/// What a scope lets the application know, as the consent page says it.
fn describe(scope: &str) -> String {
    match scope {
        "openid" => {
            "Who you are: a stable identifier of your account, and when and how you signed in"
                .into()
        }
        "profile" => "Your name".into(),
        "email" => "Your email address, and whether it is confirmed".into(),
        "accounts" => "The client accounts you work in, and what you may do in each".into(),
        "roles" => "Your administrator role and its permissions".into(),
        "offline_access" => {
            "Keep access while you are signed out of the portal, until you withdraw it".into()
        }
        other => other.to_owned(),
    }
}
