//! The authorization endpoint's decision (Core §3.1.2.2-§3.1.2.6): given a valid request and
//! the browser's session, sign in first, ask for consent, refuse as `prompt=none` demands, or
//! issue the code.
//!
//! A request that must wait (for a sign-in or a consent) is *parked*: stored under the hash of
//! a random id the browser holds, so nothing the application sent has to survive the sign-in
//! pages, and so a second factor, a password reset in between or a reload do not lose it.
//! Codes are random, stored hashed, single use (the exchange that marks one used wins, on any
//! node), valid for [`CODE_SECONDS`], and bound to the redirect URI, the PKCE challenge, the
//! nonce, the session and how it signed in.

use super::application::Applications;
use super::authorize::{AuthorizationRequest, Params, RedirectRefusal, Refusal};
use crate::app::AppState;
use crate::audit::record;
use crate::clock::Clock;
use crate::db;
use crate::domain::Realm;
use crate::domain::audit::{Action, Actor};
use crate::session::Session;
use std::sync::Arc;

/// How long an authorization code may be exchanged (RFC 6749 §4.1.2 recommends at most 10
/// minutes; the exchange follows the redirect within a second or two).
pub const CODE_SECONDS: i64 = 60;
/// How long a parked request waits for its sign-in or consent.
pub const PARK_SECONDS: i64 = 30 * 60;

/// The authorization flow's service.
#[derive(Clone)]
pub struct Grants {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    applications: Applications,
    issuer: String,
}

impl From<&AppState> for Grants {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            applications: Applications::from(state),
            issuer: state.config.system_url.origin(),
        }
    }
}

/// A parked request, read back.
#[derive(Debug, Clone)]
pub struct Parked {
    /// The id the browser holds.
    pub id: String,
    pub realm: Realm,
    /// The request's parameters as received.
    pub query: String,
    pub created_at: i64,
}

impl Parked {
    /// The parameters as pairs, for [`Params`].
    pub fn pairs(&self) -> Vec<(String, String)> {
        pairs(&self.query)
    }

    /// The redirect URI the request returns to. It was registered when the request was
    /// parked, and is checked again when the request goes on.
    pub fn redirect_uri(&self) -> Option<String> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v)
    }
}

/// A query string or form body as pairs.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum Next {
    /// Sign in first; the browser keeps `parked` (a cookie) and comes back after. `again`: a
    /// session exists but the application asked for a fresh sign-in (`prompt=login`,
    /// `max_age`).
    SignIn {
        parked: String,
        again: bool,
        login_hint: Option<String>,
    },
    /// Ask the person; the form carries `parked`. `scopes` are those asked for.
    Consent {
        parked: String,
        application: String,
        scopes: Vec<String>,
    },
    /// Back to the application with the code (`location` holds code, state and iss).
    Code { location: String },
    /// Back to the application with an error (`login_required`, `consent_required`, ...).
    Refuse(RedirectRefusal),
    /// An admin signed in as a client ("login as client") cannot sign in to applications as
    /// them: that would carry the impersonation beyond the portal.
    Impersonated { application: String },
}

/// Why the flow could not go on.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The parked request is unknown or expired (30 minutes), or belongs to the other realm.
    #[error("the sign-in request expired; start again from the application")]
    Expired,
    /// The request is no longer valid (the application changed meanwhile).
    #[error("the request was refused")]
    Refused(Refusal),
    #[error("the system's random source is unavailable")]
    Random,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl From<Refusal> for GrantError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Storage(e) => Self::Storage(e),
            other => Self::Refused(other),
        }
    }
}

fn random_id() -> Result<crate::token::NewSecret, GrantError> {
    crate::token::generate().map_err(|_| GrantError::Random)
}

impl Grants {
    /// The issuer, as ID tokens and `iss` name it: the System URL's origin.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Decides what a valid request becomes for this browser. `session` is the realm's live
    /// session; `parked` the request as parked earlier, when the browser comes back from
    /// signing in (a sign-in after it was parked satisfies `prompt=login`).
    ///
    /// # Errors
    /// Storage errors, no randomness.
    pub async fn decide(
        &self,
        request: &AuthorizationRequest,
        query: &str,
        session: Option<&Session>,
        parked: Option<&Parked>,
    ) -> Result<Next, GrantError> {
        let now = self.clock.unix();
        let application = &request.application;
        let refuse = |error: &'static str, description: &str| {
            Ok(Next::Refuse(RedirectRefusal {
                redirect_uri: request.redirect_uri.clone(),
                error,
                description: description.to_owned(),
                state: request.state.clone(),
            }))
        };
        let fresh = |s: &Session| {
            let after_parking = parked.is_some_and(|p| s.created_at >= p.created_at);
            let login_ok = !request.prompt.login || after_parking;
            let age_ok = request
                .max_age
                .is_none_or(|max| now - s.created_at <= max || after_parking);
            login_ok && age_ok
        };
        let Some(session) = session.filter(|s| fresh(s)) else {
            if request.prompt.none {
                return refuse(
                    "login_required",
                    "the person is not signed in to the portal (or must sign in again)",
                );
            }
            let again = session.is_some();
            let parked = self.park_or_keep(application.realm, query, parked).await?;
            return Ok(Next::SignIn {
                parked,
                again,
                login_hint: request.login_hint.clone(),
            });
        };
        if session.impersonator_admin_id.is_some() {
            if request.prompt.none {
                return refuse(
                    "login_required",
                    "the portal session is an administrator's \"login as client\"",
                );
            }
            return Ok(Next::Impersonated {
                application: application.name.clone(),
            });
        }
        if !application.first_party {
            let consented = db::oidc_grant::consented_scopes(
                &self.db,
                application.realm.as_str(),
                session.subject_id,
                application.id,
            )
            .await?;
            let covered = consented.is_some_and(|c| {
                let given: Vec<&str> = c.split(' ').collect();
                request.scopes.iter().all(|s| given.contains(&s.as_str()))
            });
            if !covered || request.prompt.consent {
                if request.prompt.none {
                    return refuse(
                        "consent_required",
                        "the person has not yet allowed this application",
                    );
                }
                let parked = self.park_or_keep(application.realm, query, parked).await?;
                return Ok(Next::Consent {
                    parked,
                    application: application.name.clone(),
                    scopes: request.scopes.clone(),
                });
            }
            db::oidc_grant::touch_consent(
                &self.db,
                application.realm.as_str(),
                session.subject_id,
                application.id,
                now,
            )
            .await?;
        }
        let location = self.issue_code(request, session).await?;
        if let Some(p) = parked {
            db::oidc_grant::unpark(&self.db, &crate::token::hash(&p.id)).await?;
        }
        Ok(Next::Code { location })
    }

    /// The person's answer on the consent page for the parked request `parked_id`: allowed
    /// (recorded, audited, and the code issued) or declined (`access_denied`). Either way the
    /// answer is a redirect to the application.
    ///
    /// # Errors
    /// `Expired` for an unknown parked request; `Refused` if it is no longer valid.
    pub async fn answer_consent(
        &self,
        parked_id: &str,
        session: &Session,
        allow: bool,
    ) -> Result<String, GrantError> {
        let parked = self
            .parked(parked_id, session.realm)
            .await?
            .ok_or(GrantError::Expired)?;
        let pairs = parked.pairs();
        let request = self
            .applications
            .authorization_request(&Params::new(&pairs))
            .await?;
        let application = &request.application;
        if application.realm != session.realm || session.impersonator_admin_id.is_some() {
            return Err(GrantError::Expired);
        }
        let id_hash = crate::token::hash(parked_id);
        if !allow {
            db::oidc_grant::unpark(&self.db, &id_hash).await?;
            let refusal = RedirectRefusal {
                redirect_uri: request.redirect_uri.clone(),
                error: "access_denied",
                description: "the person declined to let the application sign them in".into(),
                state: request.state.clone(),
            };
            return Ok(refusal.location(&self.issuer));
        }
        let now = self.clock.unix();
        let scopes = request.scopes.join(" ");
        let mut tx = self.db.begin().await?;
        db::oidc_grant::grant_consent(
            &mut *tx,
            application.realm.as_str(),
            session.subject_id,
            application.id,
            &scopes,
            now,
        )
        .await?;
        record(
            &mut *tx,
            now,
            &session.actor(),
            Action::OidcConsentGranted,
            format!("oidc_application:{}", application.id),
            &format!("{} ({scopes})", application.name),
        )
        .await?;
        db::oidc_grant::unpark(&mut *tx, &id_hash).await?;
        tx.commit().await?;
        self.issue_code(&request, session).await
    }

    /// A parked request of `realm`, if it is known and has not expired.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn parked(&self, id: &str, realm: Realm) -> Result<Option<Parked>, sqlx::Error> {
        if !crate::token::looks_valid(id) {
            return Ok(None);
        }
        let row =
            db::oidc_grant::parked(&self.db, &crate::token::hash(id), self.clock.unix()).await?;
        Ok(row.filter(|r| r.realm == realm.as_str()).map(|r| Parked {
            id: id.to_owned(),
            realm,
            query: r.query,
            created_at: r.created_at,
        }))
    }

    async fn park_or_keep(
        &self,
        realm: Realm,
        query: &str,
        parked: Option<&Parked>,
    ) -> Result<String, GrantError> {
        if let Some(p) = parked {
            return Ok(p.id.clone());
        }
        let id = random_id()?;
        let now = self.clock.unix();
        db::oidc_grant::park(
            &self.db,
            &id.hash,
            &db::oidc_grant::ParkedRow {
                realm: realm.as_str().to_owned(),
                query: query.to_owned(),
                created_at: now,
                expires_at: now + PARK_SECONDS,
            },
        )
        .await?;
        Ok(id.plain)
    }

    /// Stores a new code for `request` and `session`; the redirect that carries it.
    async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        session: &Session,
    ) -> Result<String, GrantError> {
        let code = random_id()?;
        let now = self.clock.unix();
        db::oidc_grant::insert_code(
            &self.db,
            &code.hash,
            &db::oidc_grant::CodeRow {
                application_id: request.application.id,
                session_id_hash: session.id_hash.clone(),
                realm: session.realm.as_str().to_owned(),
                subject_id: session.subject_id,
                redirect_uri: request.redirect_uri.clone(),
                scopes: request.scopes.join(" "),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                auth_time: session.created_at,
                second_factor: session.second_factor.clone(),
                created_at: now,
                expires_at: now + CODE_SECONDS,
                used_at: None,
                family_id: None,
            },
        )
        .await?;
        let mut url = url::Url::parse(&request.redirect_uri)
            .expect("a registered redirect URI is an absolute URL (draft::check)");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("code", &code.plain);
            if let Some(state) = &request.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", &self.issuer);
        }
        Ok(url.to_string())
    }

    /// The person's consents, most recently used first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn consents(
        &self,
        realm: Realm,
        subject_id: i64,
    ) -> Result<Vec<db::oidc_grant::ConsentRow>, sqlx::Error> {
        db::oidc_grant::consents(&self.db, realm.as_str(), subject_id).await
    }

    /// Withdraws a consent and ends every token the person holds for that application;
    /// whether there was a consent to withdraw. Audited.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn withdraw(
        &self,
        actor: &Actor,
        realm: Realm,
        subject_id: i64,
        application_id: i64,
    ) -> Result<bool, sqlx::Error> {
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let had =
            db::oidc_grant::withdraw_consent(&mut *tx, realm.as_str(), subject_id, application_id)
                .await?;
        if had {
            let ended = db::oidc_token::revoke_for_application(
                &mut *tx,
                realm.as_str(),
                subject_id,
                application_id,
                "consent_withdrawn",
                now,
            )
            .await?;
            record(
                &mut *tx,
                now,
                actor,
                Action::OidcConsentWithdrawn,
                format!("oidc_application:{application_id}"),
                &format!("{ended} tokens ended"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(had)
    }
}
