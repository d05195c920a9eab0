//! The page side of the links that grant an account (first-admin setup, admin invitation,
//! client-account invitation): one place that words a refused link, reads the invited address,
//! checks the two typed passwords, and maps [`AcceptError`] to a form to show again or an error
//! page.
//!
//! The rules (what a link grants, whether it can be used) are `invite`'s; the three pages
//! (`admin/setup.rs`, `admin/admins.rs`, `client/users.rs`) call these and render their own form.
//!
//! [`Arrival`] (what starting a session in this browser needs: the request's address, user agent
//! and old session, the sign-in service and the cookies) is also taken by the sign-in,
//! registration, login-as and second-factor pages, so none of them needs the whole `AppState`.

use crate::account::FieldError;
use crate::domain::{Realm, UserId};
use crate::invite::{AcceptError, Grant, Invitations, Link, TokenState};
use crate::settings::Settings;
use crate::signin::SignIns;
use crate::web::cookie::Cookies;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{Peer, SessionInfo, UserAgent};
use crate::web::middleware::client_addr::ClientAddr;
use crate::web::middleware::session::LoadedSession;
use crate::web::signin;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;
use secrecy::SecretString;

/// What signing in the new account needs: the request's address, user agent and the session
/// the cookie led to (replaced at sign-in), and the sign-in service and cookies that start the
/// new session.
pub struct Arrival {
    pub addr: ClientAddr,
    pub user_agent: String,
    pub loaded: Option<LoadedSession>,
    /// The parked OpenID authorization request's cookie, per realm (client, admin).
    parked: [bool; 2],
    /// Forward authentication's return cookie, per realm (client, admin).
    returning: [bool; 2],
    /// A single sign-on link's landing cookie (client realm).
    sso_return: bool,
    signins: SignIns,
    cookies: Cookies,
}

impl<S> FromRequestParts<S> for Arrival
where
    S: Send + Sync,
    SignIns: FromRef<S>,
    Cookies: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Peer(addr) = Peer::from_request_parts(parts, state).await?;
        let UserAgent(user_agent) = UserAgent::from_request_parts(parts, state).await?;
        let SessionInfo(loaded) = SessionInfo::from_request_parts(parts, state).await?;
        let cookies = Cookies::from_ref(state);
        let parked = [Realm::Client, Realm::Admin]
            .map(|realm| cookies.read_parked(&parts.headers, realm).is_some());
        let returning = [Realm::Client, Realm::Admin].map(|realm| {
            cookies
                .read_named(&parts.headers, cookies.return_name(realm))
                .is_some()
        });
        let sso_return = cookies
            .read_named(&parts.headers, cookies.sso_return_name())
            .is_some();
        Ok(Self {
            returning,
            sso_return,
            addr,
            user_agent,
            loaded,
            parked,
            signins: SignIns::from_ref(state),
            cookies,
        })
    }
}

impl Arrival {
    /// Where a sign-in of `realm` in this browser goes next: back to the OpenID authorization
    /// request that sent the person to sign in, if one is parked, or to forward
    /// authentication's round trip (which returns to the protected URL), else the realm's home;
    /// after a single sign-on link, to where the link lands (`web::sso`).
    pub fn home(&self, realm: Realm) -> String {
        let index = match realm {
            Realm::Client => 0,
            Realm::Admin => 1,
        };
        if realm == Realm::Client && self.sso_return {
            crate::web::sso::CONTINUE.to_owned()
        } else if self.parked[index] {
            crate::web::oidc::authorize::continue_path(realm).to_owned()
        } else if self.returning[index] {
            crate::forward_auth::sign_in_path(realm).to_owned()
        } else {
            signin::home(realm).to_owned()
        }
    }

    /// The user whose own session made the request: an admin signed in as the client ("login
    /// as client") does not count, so they cannot accept an invitation on the client's behalf.
    pub fn own_user(&self) -> Option<UserId> {
        self.loaded
            .as_ref()
            .and_then(LoadedSession::live)
            .filter(|s| s.impersonator_admin_id.is_none())
            .map(|s| UserId(s.subject_id))
    }

    /// Signs in `subject` of `realm` (in `client`, for the client area) and sends them `home`.
    ///
    /// # Errors
    /// The session could not be started.
    pub async fn sign_in(
        &self,
        realm: Realm,
        subject: i64,
        client: Option<i64>,
        home: &str,
    ) -> AppResult<Response> {
        let sign_in = signin::for_request(
            realm,
            subject,
            client,
            self.addr,
            &self.user_agent,
            self.loaded.as_ref(),
        );
        signin::start_session(&self.signins, &self.cookies, sign_in, home).await
    }

    /// The sign-in service, for pages that check a password before starting the session.
    pub fn signins(&self) -> &SignIns {
        &self.signins
    }

    /// The session cookies, for pages that start the session themselves.
    pub fn cookies(&self) -> &Cookies {
        &self.cookies
    }
}

/// The address a usable invitation of kind `link` was sent to, or the page saying why it
/// cannot be used.
///
/// # Errors
/// The refused link's page, or a storage error.
pub async fn invited(
    settings: &Settings,
    invitations: &Invitations,
    link: Link,
    token: &str,
) -> AppResult<String> {
    match invitations.check(link, token).await? {
        Ok(Grant::Admin { email, .. } | Grant::Member { email, .. }) => Ok(email),
        // The setup link names no address; nothing here takes it up.
        Ok(Grant::FirstAdmin) => Err(refused(settings, link, TokenState::Unknown)),
        Err(t) => Err(refused(settings, link, t)),
    }
}

/// The error page for a link of kind `link` that cannot be used, saying exactly why (F10:
/// unknown, expired or used) and what to do.
pub fn refused(settings: &Settings, link: Link, token_state: TokenState) -> AppError {
    let ask = match link {
        Link::Setup => {
            let why = match token_state {
                TokenState::Expired { at } => format!(
                    "This setup link expired at {}. Restart `portcullis serve` to print a new one.",
                    settings.show_time(at)
                ),
                TokenState::Used { at } => format!(
                    "This setup link was already used at {}. Sign in at /admin/login.",
                    settings.show_time(at)
                ),
                TokenState::Unknown | TokenState::Valid { .. } => "This setup link is not valid. Restart `portcullis serve` to print a new one (only while no admin exists), or create an admin with `portcullis admin create`.".to_owned(),
            };
            return AppError::Forbidden(why);
        }
        Link::Admin => "the admin who invited you (ask for a new invitation)",
        Link::Member => "the account owner (ask for a new invitation)",
    };
    AppError::LinkInvalid {
        title: "This invitation cannot be used",
        message: crate::reset::link_problem(token_state, ask, &settings.snapshot().values.timezone),
        unknown: matches!(token_state, TokenState::Unknown),
    }
}

/// The password typed twice, or the field error saying the two differ.
///
/// # Errors
/// The `password_confirm` field error.
pub fn confirmed(password: &str, confirm: &str) -> Result<SecretString, Vec<FieldError>> {
    let password = SecretString::from(password.to_owned());
    match crate::account::mismatch(&password, confirm) {
        None => Ok(password),
        Some(problem) => Err(vec![problem]),
    }
}

/// What a page does with a refused acceptance: `Ok` with the field errors to show next to the
/// form again (answered 422), or the error page.
///
/// # Errors
/// The error page for anything but refused details.
pub fn field_errors(
    settings: &Settings,
    link: Link,
    error: AcceptError,
) -> Result<Vec<FieldError>, AppError> {
    use crate::account::CreateError;
    match error {
        AcceptError::Create(CreateError::Invalid(errors)) => Ok(errors),
        AcceptError::Link(token_state) => Err(refused(settings, link, token_state)),
        e @ AcceptError::SignInFirst { .. } => Err(AppError::Forbidden(e.to_string())),
        AcceptError::Create(other) => Err(other.into()),
        AcceptError::Storage(e) => Err(e.into()),
    }
}
