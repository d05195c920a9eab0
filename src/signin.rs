//! Signing in, for both realms: what happens to a password attempt, and the start of a session
//! after any sign-in (a password, a second factor, registration, an invitation, the setup link).
//!
//! [`SignIns::with_password`] owns the whole decision: the limit per account (`crate::throttle`:
//! while an account's delay runs the password is not checked), the credentials
//! (`auth::login`), a refusal (counted for the ban rules and written to the audit log, the same
//! way for both realms, naming an unknown identifier only by a short keyed hash),
//! which client account becomes active, and whether a second factor is due
//! ([`SignIns::second_factor`]). It returns a [`Decision`]; the web layer turns it into cookies
//! and a redirect. "Login as client" is not a sign-in: `crate::impersonation` starts those.
//!
//! A correct password that is on the common-password list (ASVS 2.1.7) does not sign in: the
//! owner is mailed a reset link instead ([`SignInError::CommonPassword`]). A full sign-in from a
//! new network is told to the owner ([`new_place`], ASVS 2.2.3).

pub mod new_place;

use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::login::{Login, LoginError, Refusal};
use crate::ban::Bans;
use crate::clock::Clock;
use crate::domain::{Action, Actor};
use crate::reset::Resets;
use crate::session::{Realm, Sessions, SignIn, StartError, Started};
use crate::throttle::{Delayed, Identified, Throttle, ThrottleError};
use crate::twofactor::TwoFactor;
use new_place::NewPlaces;
use secrecy::{ExposeSecret, SecretString};
use std::net::IpAddr;
use std::sync::Arc;

/// The sign-in page's message after a correct but common password, when a reset link was sent.
pub const COMMON_PASSWORD_MAILED: &str = "Your password is on a list of common passwords, so it cannot be used to sign in. We have sent a link to choose a new one to your email address; follow it, then sign in with the new password.";

/// The same, where the realm offers no password reset.
pub const COMMON_PASSWORD_NO_RESET: &str = "Your password is on a list of common passwords, so it cannot be used to sign in. Ask another administrator to set a new password for your account.";

/// A password sign-in as typed.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub realm: Realm,
    /// What was typed to name the account: an email (client area) or a username (admin).
    pub identifier: &'a str,
    pub password: SecretString,
    /// "Keep me signed in" (the client area only; ignored where the realm's policy has none).
    pub remember: bool,
    pub ip: IpAddr,
    pub user_agent: &'a str,
    /// The session cookie the browser already had, ended when the new one starts (rotation).
    pub replacing: Option<&'a str>,
}

/// What a correct password leads to.
#[derive(Debug)]
pub enum Decision {
    /// A session was started (and `signin.success` recorded). Boxed: a session is much larger
    /// than the other answer.
    Session(Box<Started>),
    /// A second factor is due, or under a "required" policy must first be enrolled: a pending
    /// sign-in was stored, never a session. `pending` is its cookie value.
    SecondFactor { pending: String, must_enrol: bool },
}

/// Why a sign-in did not lead anywhere.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The password step refused or failed; a refusal (`InvalidCredentials`) is already recorded.
    #[error(transparent)]
    Password(#[from] LoginError),
    /// The account's delay runs (`crate::throttle`): the password was not checked. The same
    /// for an identifier that names no account.
    #[error(transparent)]
    Delayed(Delayed),
    /// The password was correct but is on the common-password list: no session; when the realm
    /// offers resets a reset link was mailed to the account's address. The text is the page's.
    #[error("{0}")]
    CommonPassword(String),
    /// The session or the pending sign-in could not be stored: "your session could not be
    /// saved", never a redirect to the sign-in page.
    #[error("the sign-in could not be stored: {0:#}")]
    NotStored(anyhow::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl From<StartError> for SignInError {
    fn from(e: StartError) -> Self {
        Self::NotStored(e.into_anyhow())
    }
}

/// The sign-in service.
#[derive(Clone)]
pub struct SignIns {
    db: crate::db::Pool,
    clock: Arc<dyn Clock>,
    /// The password check.
    login: Login,
    /// A refused password counts for the ban rules.
    bans: Bans,
    /// The realm's second-factor policy, the factors enrolled, and pending sign-ins.
    two_factor: TwoFactor,
    sessions: Sessions,
    /// The limit per account.
    throttle: Throttle,
    /// The reset link mailed after a correct but common password.
    resets: Resets,
    /// The notice of a sign-in from a new place.
    new_places: NewPlaces,
}

impl From<&AppState> for SignIns {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            login: Login::from(state),
            bans: Bans::from(state),
            two_factor: TwoFactor::from(state),
            sessions: Sessions::from(state),
            throttle: Throttle::from(state),
            resets: Resets::from(state),
            new_places: NewPlaces::from(state),
        }
    }
}

impl SignIns {
    /// Checks a password and decides what follows: a session, or a pending sign-in when a
    /// second factor is due. A refusal is recorded before it is returned.
    ///
    /// # Errors
    /// [`SignInError::Password`] (`InvalidCredentials`, `Busy`, `Unexpected`), or the new
    /// session or pending sign-in could not be stored.
    pub async fn with_password(&self, attempt: Attempt<'_>) -> Result<Decision, SignInError> {
        let who = self
            .throttle
            .identify(attempt.realm, attempt.identifier)
            .await?;
        let admitted = match self.throttle.admit(&who.key).await {
            Ok(admitted) => admitted,
            Err(ThrottleError::Delayed(delayed)) => {
                self.record_delayed(&attempt, &who, &delayed).await;
                return Err(SignInError::Delayed(delayed));
            }
            // The count could not be written: nor could the session (a read-only database).
            Err(ThrottleError::Storage(e)) => return Err(SignInError::NotStored(e.into())),
        };
        let checked = self
            .login
            .password(attempt.realm, attempt.identifier, &attempt.password)
            .await;
        let subject_id = match checked {
            Ok(id) => id,
            Err(LoginError::InvalidCredentials(why)) => {
                // The attempt stays counted for the account.
                self.record_failure(&attempt, &who, why).await;
                return Err(LoginError::InvalidCredentials(why).into());
            }
            Err(other) => {
                // Not a wrong password (busy, an outage): not the person's failure.
                if let Err(e) = self.throttle.refund(&admitted).await {
                    tracing::warn!(error = %e, "could not give back an attempt's count");
                }
                return Err(other.into());
            }
        };
        if crate::auth::policy::is_common(attempt.password.expose_secret()) {
            // The right password, but one attackers try first: not the person's failure, so
            // the attempt is given back; they must choose a new password before signing in.
            if let Err(e) = self.throttle.refund(&admitted).await {
                tracing::warn!(error = %e, "could not give back an attempt's count");
            }
            return Err(self.refuse_common(&attempt, &who, subject_id).await);
        }
        let client_id = match attempt.realm {
            // The account the user works in first: owned before shared.
            Realm::Client => crate::db::client::find_usable(&self.db, subject_id).await?,
            Realm::Admin => None,
        };
        let sign_in = SignIn {
            realm: attempt.realm,
            subject_id,
            client_id,
            impersonator: None,
            ip: attempt.ip,
            user_agent: attempt.user_agent,
            remember: attempt.remember,
            replacing: attempt.replacing,
            second_factor: None,
        };
        let due = self.second_factor(attempt.realm, subject_id).await?;
        if due.is_some() {
            // The password was right; the second factor's answers are counted on their own.
            self.throttle.refund(&admitted).await?;
        }
        self.decide(sign_in, attempt.identifier, due).await
    }

    /// Starts a sign-in that needed no password (a single sign-on token, `crate::sso`): a
    /// session, or a pending sign-in when a second factor is due, exactly as after a password.
    ///
    /// # Errors
    /// The session or pending sign-in could not be stored, or storage errors.
    pub async fn without_password(
        &self,
        sign_in: SignIn<'_>,
        identifier: &str,
    ) -> Result<Decision, SignInError> {
        let due = self
            .second_factor(sign_in.realm, sign_in.subject_id)
            .await?;
        self.decide(sign_in, identifier, due).await
    }

    /// A session when no second factor is `due`, else a pending sign-in.
    async fn decide(
        &self,
        sign_in: SignIn<'_>,
        identifier: &str,
        due: Option<bool>,
    ) -> Result<Decision, SignInError> {
        match due {
            None => Ok(Decision::Session(Box::new(self.begin(sign_in).await?))),
            Some(must_enrol) => {
                let pending = self
                    .two_factor
                    .start_pending(&sign_in, identifier, must_enrol)
                    .await
                    .map_err(SignInError::NotStored)?;
                Ok(Decision::SecondFactor {
                    pending,
                    must_enrol,
                })
            }
        }
    }

    /// Whether a second factor is due after a correct password: `None` when not (the policy is
    /// off, or optional and nothing is enrolled), `Some(false)` when an enrolled factor must be
    /// answered, `Some(true)` when a "required" policy finds none enrolled yet.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn second_factor(
        &self,
        realm: Realm,
        subject_id: i64,
    ) -> Result<Option<bool>, sqlx::Error> {
        use crate::config::Policy;
        let policy = self.two_factor.policy(realm);
        if policy == Policy::Off {
            return Ok(None);
        }
        let enrolled = self.two_factor.enrolled(realm, subject_id).await?;
        Ok(if enrolled.any() {
            Some(false)
        } else {
            (policy == Policy::Required).then_some(true)
        })
    }

    /// Starts the session of a completed sign-in (a fresh id; the browser's old one ends) and
    /// records `signin.success` with the sign-in's address and user agent.
    ///
    /// # Errors
    /// The session could not be stored ([`SignInError::NotStored`]), or the entry not written.
    pub async fn begin(&self, sign_in: SignIn<'_>) -> Result<Started, SignInError> {
        let (realm, subject_id, ip) = (sign_in.realm, sign_in.subject_id, sign_in.ip);
        let user_agent = sign_in.user_agent.to_owned();
        let real = sign_in.impersonator.is_none();
        let started = self.sessions.start(sign_in).await?;
        tracing::info!(realm = realm.as_str(), subject_id, %ip, "signed in");
        if !real {
            // "Login as client" is recorded as impersonation.start by its own service.
            return Ok(started);
        }
        // Before this sign-in is recorded, so that only earlier ones make its network known.
        self.new_places
            .after_sign_in(realm, subject_id, ip, &user_agent)
            .await;
        // The owner is in: their account's failed attempts are forgotten.
        if let Err(e) = self.throttle.clear(realm, subject_id).await {
            tracing::warn!(error = %e, "could not clear an account's failed attempts");
        }
        let actor = Actor::of(realm, subject_id);
        crate::audit::record_from(
            &self.db,
            self.clock.unix(),
            &actor,
            Action::SigninSuccess,
            &actor,
            "session started",
            Origin {
                ip: &ip.to_string(),
                user_agent: &user_agent,
            },
        )
        .await?;
        Ok(started)
    }

    /// A refused password: one failure counted for the ban rules, and `signin.failure` by
    /// `anonymous` about the account (its email or username as stored), or, when what was typed
    /// names no account, a short keyed hash of it (`unknown:…`): that text is never kept, since
    /// a password typed into the wrong field would end up in the log. The page never says whether the
    /// account exists; the log says why, for the operator. Neither may turn the refusal into an
    /// error.
    async fn record_failure(&self, attempt: &Attempt<'_>, who: &Identified, why: Refusal) {
        let realm = attempt.realm;
        match realm {
            Realm::Client => tracing::info!(ip = %attempt.ip, "client sign-in failed"),
            Realm::Admin => tracing::warn!(ip = %attempt.ip, "admin sign-in failed"),
        }
        let subject = &who.subject;
        if let Err(e) = self.bans.record_failure(realm, attempt.ip, subject).await {
            tracing::warn!(error = %e, "could not record a failed sign-in");
        }
        self.audit_refusal(
            attempt,
            subject,
            &format!("{realm} sign-in: {}", why.as_str()),
        )
        .await;
    }

    /// A correct password on the common-password list: `signin.failure` recorded, a reset link
    /// mailed when the realm offers resets (within the reset limits), and the page's message.
    async fn refuse_common(
        &self,
        attempt: &Attempt<'_>,
        who: &Identified,
        subject_id: i64,
    ) -> SignInError {
        let realm = attempt.realm;
        tracing::info!(ip = %attempt.ip, "sign-in refused: the password is a common one");
        let mailed = self.resets.available(realm);
        if mailed {
            match self.email_of(realm, subject_id).await {
                Ok(Some(email)) => {
                    if let Err(e) = self.resets.request(realm, &email, attempt.ip).await {
                        tracing::warn!(error = %e, "could not send a reset link after a common password");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not find the account's address"),
            }
        }
        let detail = format!(
            "{realm} sign-in: the password was correct but is on the common-password list; not signed in{}",
            if mailed {
                ", a reset link was mailed"
            } else {
                ""
            }
        );
        self.audit_refusal(attempt, &who.subject, &detail).await;
        SignInError::CommonPassword(if mailed {
            COMMON_PASSWORD_MAILED.to_owned()
        } else {
            COMMON_PASSWORD_NO_RESET.to_owned()
        })
    }

    /// The account's email address, if it has one.
    async fn email_of(&self, realm: Realm, subject_id: i64) -> Result<Option<String>, sqlx::Error> {
        let email = match realm {
            Realm::Client => crate::db::account::find_user_by_id(&self.db, subject_id)
                .await?
                .map(|u| u.email),
            Realm::Admin => crate::db::account::find_admin_by_id(&self.db, subject_id)
                .await?
                .map(|a| a.email),
        };
        Ok(email.filter(|e| !e.is_empty()))
    }

    /// A sign-in refused unchecked while the account's delay runs: audited (not counted for
    /// the bans: nothing was checked, and the owner retrying must not get banned for it).
    async fn record_delayed(&self, attempt: &Attempt<'_>, who: &Identified, delayed: &Delayed) {
        tracing::info!(ip = %attempt.ip, "sign-in refused unchecked: the account's delay runs");
        let detail = format!(
            "{} sign-in: not checked, the account's attempts are paused for {} s after repeated failures",
            attempt.realm, delayed.seconds
        );
        self.audit_refusal(attempt, &who.subject, &detail).await;
    }

    /// `signin.failure` by `anonymous` about `subject`.
    async fn audit_refusal(&self, attempt: &Attempt<'_>, subject: &str, detail: &str) {
        let recorded = crate::audit::record_from(
            &self.db,
            self.clock.unix(),
            &Actor::Anonymous,
            Action::SigninFailure,
            &subject,
            detail,
            Origin {
                ip: &attempt.ip.to_string(),
                user_agent: attempt.user_agent,
            },
        )
        .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not audit a failed sign-in");
        }
    }
}
