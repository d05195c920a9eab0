//! Single sign-on tokens (WHMCS's `CreateSsoToken`, issue 21, F20): another system of the
//! portal asks, through the admin API, for a link that signs one user in, optionally into one
//! of their client accounts, and lands on a path of the System URL.
//!
//! - A token is 256 random bits, stored as its SHA-256 only (`one_time_tokens`, purpose
//!   `sso`), used once, and lives [`LIFETIME`] seconds.
//! - Opening the link (`GET /sso/{token}`) only shows a page with a button: link scanners and
//!   previews fetch links before the person does, and a fetch must not use the token up (F20).
//!   The button's `POST` spends it; two racing posts cannot both sign in.
//! - The second factor still applies: a person with one enrolled is asked for it after the
//!   token, as after a password. WHMCS skips it; we do not, because a token handed to another
//!   system would otherwise be a way around the second factor for anyone who can call that
//!   system.
//! - The destination is a path on the System URL, checked when the token is made and again
//!   before redirecting: nothing off-site.
//! - Each refusal says which it was: not one we made, expired, or already used (F20).

use crate::app::AppState;
use crate::clock::Clock;
use crate::db;
use crate::db::one_time_token::TokenState;
use crate::domain::audit::{Action, Actor};
use crate::domain::{ClientId, UserId};
use crate::session::{Realm, SignIn};
use crate::signin::{Decision, SignInError, SignIns};
use std::net::IpAddr;
use std::sync::Arc;

/// How long a token lives, in seconds.
pub const LIFETIME: i64 = 60;
/// The `one_time_tokens` purpose.
const PURPOSE: &str = "sso";
/// The longest destination path.
pub const DESTINATION_MAX: usize = 2000;
/// Where a token lands without a destination.
pub const DEFAULT_DESTINATION: &str = "/clientarea";

/// The service.
#[derive(Clone)]
pub struct Sso {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    system_url: String,
    /// The portal's name on the link's page.
    portal: String,
    /// The timezone the page's times are shown in.
    settings: crate::settings::Settings,
    signins: SignIns,
}

impl From<&AppState> for Sso {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            system_url: state.config.system_url.origin(),
            portal: crate::mail::template::portal_name(&state.config.system_url),
            settings: crate::settings::Settings::from(state),
            signins: SignIns::from(state),
        }
    }
}

/// A token to make.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub user: UserId,
    /// The client account to sign into; `None`: the one the user works in first.
    pub client: Option<ClientId>,
    /// A path on the System URL; `None`: [`DEFAULT_DESTINATION`].
    pub destination: Option<&'a str>,
}

/// A token made: the link, shown once.
#[derive(Debug)]
pub struct Created {
    pub url: String,
    pub expires_at: i64,
}

/// Why no token was made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("no such user")]
    UnknownUser,
    #[error("the user is disabled")]
    Disabled,
    #[error("the user is not a member of client account {0}")]
    NotMember(i64),
    #[error("{0}")]
    Destination(String),
    #[error("no random token could be made: {0}")]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// What a token is, as the link's page tells the person (F20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token we made (mistyped, cut off).
    Unknown,
    /// Older than [`LIFETIME`]: when it expired, shown in the portal's timezone.
    Expired(String),
    /// Already used: when.
    Used(String),
    /// The user was disabled, or left the account, after the link was made.
    NotAllowed,
}

impl Refusal {
    /// The page's title and message, in the person's words.
    pub fn words(&self) -> (&'static str, String) {
        let again = "Go back to where you came from and follow a new sign-in link, or sign in here with your email address and password.";
        match self {
            Self::Unknown => (
                "This sign-in link is not valid",
                format!(
                    "This link is not one this portal made, or it was copied incompletely. {again}"
                ),
            ),
            Self::Expired(at) => (
                "This sign-in link expired",
                format!(
                    "Sign-in links work for {LIFETIME} seconds after they are made, and this one expired at {at}. {again}"
                ),
            ),
            Self::Used(at) => (
                "This sign-in link was already used",
                format!(
                    "Each sign-in link works once, and this one was used at {at}. If that was not you, change your password after signing in. {again}"
                ),
            ),
            Self::NotAllowed => (
                "This sign-in link cannot sign you in",
                format!("The account this link was made for cannot sign in this way now. {again}"),
            ),
        }
    }
}

/// What the token carries besides its user.
#[derive(serde::Serialize, serde::Deserialize)]
struct Carried {
    client: Option<i64>,
    to: String,
}

/// Whether `path` is a path on this site: one leading `/`, not `//` or `/\` (which browsers
/// read as another host), no control characters, no scheme.
pub fn local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= DESTINATION_MAX
        && !path.chars().any(|c| c.is_control() || c == '\\')
}

/// A redeemed token: the sign-in's decision and where it goes afterwards.
#[derive(Debug)]
pub struct Redeemed {
    pub decision: Decision,
    pub destination: String,
}

/// Why a redemption did not sign in.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("{0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    SignIn(#[from] SignInError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// Who is redeeming, for the session.
#[derive(Debug, Clone, Copy)]
pub struct Browser<'a> {
    pub ip: IpAddr,
    pub user_agent: &'a str,
    /// The session cookie the browser already had, ended when the new one starts.
    pub replacing: Option<&'a str>,
}

impl Sso {
    /// The portal's name, as the link's page shows it.
    pub fn portal(&self) -> &str {
        &self.portal
    }

    /// Makes a token for `request` as `actor` (`how`: through what), recorded as
    /// `sso.token_created` (never the token).
    ///
    /// # Errors
    /// [`CreateError`] naming what is wrong, or storage errors.
    pub async fn create_as(
        &self,
        actor: &Actor,
        how: &str,
        request: &Request<'_>,
    ) -> Result<Created, CreateError> {
        let destination = request.destination.unwrap_or(DEFAULT_DESTINATION).trim();
        if !local_path(destination) {
            return Err(CreateError::Destination(format!(
                "{destination:?} is not a path on this portal: give one starting with a single / (at most {DESTINATION_MAX} characters)"
            )));
        }
        let user = db::account::find_user_by_id(&self.db, request.user.0)
            .await?
            .ok_or(CreateError::UnknownUser)?;
        if user.disabled {
            return Err(CreateError::Disabled);
        }
        if let Some(ClientId(client)) = request.client
            && db::client::membership(&self.db, user.id, client)
                .await?
                .is_none()
        {
            return Err(CreateError::NotMember(client));
        }
        let carried = serde_json::to_string(&Carried {
            client: request.client.map(|c| c.0),
            to: destination.to_owned(),
        })
        .map_err(|e| CreateError::Destination(e.to_string()))?;
        let secret = crate::token::generate()?;
        let now = self.clock.unix();
        let expires_at = now + LIFETIME;
        let mut tx = self.db.begin().await?;
        db::one_time_token::insert_for_subject_with_data(
            &mut *tx,
            &secret.hash,
            PURPOSE,
            user.id,
            &carried,
            now,
            expires_at,
        )
        .await?;
        let into = request
            .client
            .map_or(String::new(), |c| format!(" into client:{}", c.0));
        crate::audit::record(
            &mut *tx,
            now,
            actor,
            Action::SsoTokenCreated,
            format!("user:{}", user.id),
            &format!("for {}{into}, to {destination}, {how}", user.email),
        )
        .await?;
        tx.commit().await?;
        Ok(Created {
            url: format!("{}/sso/{}", self.system_url, secret.plain),
            expires_at,
        })
    }

    /// Whether `token` can sign in now, without using it (the link's page).
    ///
    /// # Errors
    /// [`Refusal`] as the page words it, or storage errors.
    pub async fn check(&self, token: &str) -> Result<Result<(), Refusal>, sqlx::Error> {
        if !crate::token::looks_valid(token) {
            return Ok(Err(Refusal::Unknown));
        }
        let state = db::one_time_token::state(
            &self.db,
            &crate::token::hash(token),
            PURPOSE,
            self.clock.unix(),
        )
        .await?;
        Ok(match self.refusal(state) {
            Some(refused) => Err(refused),
            None => Ok(()),
        })
    }

    fn refusal(&self, state: TokenState) -> Option<Refusal> {
        let snapshot = self.settings.snapshot();
        let at = |t: i64| crate::clock::display(t, &snapshot.values.timezone);
        match state {
            TokenState::Valid { .. } => None,
            TokenState::Unknown => Some(Refusal::Unknown),
            TokenState::Expired { at: t } => Some(Refusal::Expired(at(t))),
            TokenState::Used { at: t } => Some(Refusal::Used(at(t))),
        }
    }

    /// Spends `token` and signs its user in from `browser`: a session, or the second-factor
    /// step when one is due. The token is spent first, so two racing redemptions never both
    /// sign in.
    ///
    /// # Errors
    /// [`RedeemError::Refused`] with what the page says, or the sign-in could not be stored.
    pub async fn redeem(&self, token: &str, browser: Browser<'_>) -> Result<Redeemed, RedeemError> {
        if let Err(refused) = self.check(token).await? {
            return Err(RedeemError::Refused(refused));
        }
        let hash = crate::token::hash(token);
        let now = self.clock.unix();
        let carried = db::one_time_token::data(&self.db, &hash, PURPOSE).await?;
        let state = db::one_time_token::state(&self.db, &hash, PURPOSE, now).await?;
        if !db::one_time_token::consume(&self.db, &hash, PURPOSE, now).await? {
            // Another redemption won, or it expired in between: say which.
            let state = db::one_time_token::state(&self.db, &hash, PURPOSE, now).await?;
            return Err(RedeemError::Refused(
                self.refusal(state).unwrap_or(Refusal::Unknown),
            ));
        }
        let (
            TokenState::Valid {
                subject_id: Some(user_id),
            },
            Some(carried),
        ) = (state, carried)
        else {
            return Err(RedeemError::Refused(Refusal::Unknown));
        };
        let Ok(carried) = serde_json::from_str::<Carried>(&carried) else {
            return Err(RedeemError::Refused(Refusal::Unknown));
        };
        let Some(user) = db::account::find_user_by_id(&self.db, user_id)
            .await?
            .filter(|u| !u.disabled)
        else {
            return Err(RedeemError::Refused(Refusal::NotAllowed));
        };
        let client_id = match carried.client {
            Some(client) => {
                if db::client::membership(&self.db, user.id, client)
                    .await?
                    .is_none()
                {
                    return Err(RedeemError::Refused(Refusal::NotAllowed));
                }
                Some(client)
            }
            None => db::client::find_usable(&self.db, user.id).await?,
        };
        let destination = if local_path(&carried.to) {
            carried.to
        } else {
            DEFAULT_DESTINATION.to_owned()
        };
        let sign_in = SignIn {
            realm: Realm::Client,
            subject_id: user.id,
            client_id,
            impersonator: None,
            ip: browser.ip,
            user_agent: browser.user_agent,
            remember: false,
            replacing: browser.replacing,
            second_factor: None,
        };
        let decision = self.signins.without_password(sign_in, &user.email).await?;
        Ok(Redeemed {
            decision,
            destination,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_on_this_site_are_destinations() {
        for ok in ["/clientarea", "/account/licenses?x=1#top", "/"] {
            assert!(local_path(ok), "{ok}");
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "clientarea",
            "",
            "/a\nb",
            "/a\\b",
            "javascript:alert(1)",
        ] {
            assert!(!local_path(bad), "{bad}");
        }
        assert!(!local_path(&format!("/{}", "a".repeat(2000))));
    }
}
