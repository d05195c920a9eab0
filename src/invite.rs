//! One-time links that grant an account: the first-admin setup link `serve` prints, admin
//! invitations and client-account invitations. This module stores an invitation (replacing any
//! unused link for the same grant and queueing its email), tells what a presented link grants
//! or why it cannot be used, and holds the one accept path all three share ([`Invitations::accept`]:
//! check the link, create or link the account, consume the link, audit).
//!
//! Each invitation works once for 7 days; inviting the same address again replaces the old link.
//! Accepting creates the admin or user, or links an existing user, who must be signed in as the
//! invited address (and not be an admin signed in as them).
//!
//! Not here: who may invite whom (`admin` checks the grant bound, `membership` the account's
//! owner), issuing the setup link (`setup`), creating accounts (`account`). Pages reach it as the
//! `Invitations` sub-state and show a refused link with `web/invitation.rs`.

use crate::account::{Accounts, CreateError, NewAdmin, NewUser};
use crate::app::AppState;
use crate::auth::client_permission::ClientPermissions;
use crate::auth::permission::FULL_ADMINISTRATOR_ROLE;
use crate::clock::Clock;
use crate::config::Config;
use crate::db;
use crate::domain::{Action, Actor, AdminId, ClientId, RoleId, UserId};
use crate::role::RoleRow;
use crate::settings::Settings;
use secrecy::SecretString;
use std::sync::Arc;

pub use crate::db::one_time_token::TokenState;

/// Purpose label of admin invitation links.
pub const ADMIN_PURPOSE: &str = "invite_admin";
/// Purpose label of client-account invitation links.
pub const USER_PURPOSE: &str = "invite_user";
/// Purpose label of the first-admin setup link.
pub const SETUP_PURPOSE: &str = "admin_setup";
/// How long an invitation works.
pub const LIFETIME: i64 = 7 * 86_400;

/// The kinds of link that grant an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The first-admin setup link.
    Setup,
    /// An invitation to become an admin.
    Admin,
    /// An invitation to share a client account.
    Member,
}

impl Link {
    /// The path of the page that takes up a link of this kind with the secret `token`.
    pub fn path(self, token: &str) -> String {
        match self {
            Self::Setup => format!("/admin/setup/{token}"),
            Self::Admin => format!("/admin/invite/{token}"),
            Self::Member => format!("/invite/{token}"),
        }
    }

    /// The stored purpose label of links of this kind.
    pub fn purpose(self) -> &'static str {
        match self {
            Self::Setup => SETUP_PURPOSE,
            Self::Admin => ADMIN_PURPOSE,
            Self::Member => USER_PURPOSE,
        }
    }
}

/// What a usable link grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Becoming the first administrator (a Full Administrator).
    FirstAdmin,
    /// Becoming an admin with `role`, at the invited address.
    Admin { role: RoleId, email: String },
    /// Joining client account `client` as the user of the invited address.
    Member { client: ClientId, email: String },
}

/// The grant's stored form: `id:email`.
fn data(id: i64, email: &str) -> String {
    format!("{id}:{}", email.trim().to_lowercase())
}

fn parse(data: &str) -> Option<(i64, String)> {
    let (id, email) = data.split_once(':')?;
    Some((id.parse().ok()?, email.to_owned()))
}

/// An invitation to send, with what its email says.
#[derive(Debug)]
pub enum Invitation<'a> {
    /// To become an admin with `role`, from the admin `inviter` (their username).
    Admin {
        role: &'a RoleRow,
        email: &'a str,
        inviter: &'a str,
    },
    /// To share `client`, from its owner `inviter` (their name).
    Member {
        client: ClientId,
        email: &'a str,
        inviter: &'a str,
    },
}

impl Invitation<'_> {
    fn kind(&self) -> Link {
        match self {
            Self::Admin { .. } => Link::Admin,
            Self::Member { .. } => Link::Member,
        }
    }

    /// The invited address.
    fn email(&self) -> &str {
        match self {
            Self::Admin { email, .. } | Self::Member { email, .. } => email,
        }
    }

    /// What the link grants, in its stored form.
    fn data(&self) -> String {
        match self {
            Self::Admin { role, email, .. } => data(role.id, email),
            Self::Member { client, email, .. } => data(client.get(), email),
        }
    }

    /// The audit entry's action and subject (the invited address, or the shared account).
    fn record(&self) -> (Action, String) {
        match self {
            Self::Admin { email, .. } => (Action::AdminInvited, (*email).to_owned()),
            Self::Member { client, .. } => (
                Action::AccountUserInvited,
                Actor::Account(*client).to_string(),
            ),
        }
    }

    /// The email carrying `link`.
    fn letter(
        &self,
        portal: String,
        link: String,
        expires: String,
    ) -> Result<crate::mail::template::Rendered, askama::Error> {
        match self {
            Self::Admin { role, inviter, .. } => crate::mail::template::InviteAdmin {
                portal,
                inviter: (*inviter).to_owned(),
                role: role.name.clone(),
                link,
                expires,
            }
            .render(),
            Self::Member { inviter, .. } => crate::mail::template::InviteUser {
                portal,
                inviter: (*inviter).to_owned(),
                link,
                expires,
            }
            .render(),
        }
    }
}

/// Why an invitation could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    /// The link's secret or the email could not be made.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Who takes up what a link grants.
#[derive(Debug)]
pub enum Taker<'a> {
    /// A new admin with the chosen username and password. `email` is typed on the setup form;
    /// an invitation's account gets the invited address (and `email` is not used).
    Admin {
        username: &'a str,
        email: Option<&'a str>,
        password: &'a SecretString,
    },
    /// The invited person of an account invitation: `signed_in` is the user whose own session
    /// (not an admin's "login as client") made the request; the rest is a new user's details,
    /// used only when the invited address has no account yet.
    User {
        signed_in: Option<UserId>,
        first_name: &'a str,
        last_name: &'a str,
        password: &'a SecretString,
    },
}

/// The account a link was accepted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Admin(AdminId),
    Member { user: UserId, client: ClientId },
}

/// Why a link was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The link is unknown, expired or used.
    #[error("the link cannot be used")]
    Link(TokenState),
    /// The invited address has an account, and the request is not signed in as it.
    #[error("Sign in as {email} first, then open the invitation link again.")]
    SignInFirst { email: String },
    /// The new account's details were refused (per field), or it could not be created.
    #[error(transparent)]
    Create(#[from] CreateError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// The person an account invitation is for, as the acceptance page shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invitee {
    /// The invited address already has an account.
    pub exists: bool,
    /// The request is signed in (with their own session) as that account.
    pub signed_in: bool,
}

/// The invitation links service.
#[derive(Clone)]
pub struct Invitations {
    db: db::Pool,
    clock: Arc<dyn Clock>,
    /// The System URL the links start with, and whether mail is sent (when not, `send`
    /// returns the link so it can be shown).
    config: Arc<Config>,
    /// The configured timezone the emails' expiry times are in.
    settings: Settings,
    /// Creates the account a link grants.
    accounts: Accounts,
}

impl From<&AppState> for Invitations {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            config: state.config.clone(),
            settings: Settings::from(state),
            accounts: Accounts::from(state),
        }
    }
}

impl Invitations {
    /// Stores `invitation` and queues its email in one transaction, replacing any unused link
    /// for the same grant, and records it (`admin.invite` or `account.user_invited`) with
    /// `actor` and `detail`. Only the services that decide who may invite call this.
    /// Returns the link when sending mail is switched off (the message only waits in the queue).
    ///
    /// # Errors
    /// Storage errors, or the secret or the email could not be made.
    pub async fn send(
        &self,
        invitation: Invitation<'_>,
        actor: &Actor,
        detail: &str,
    ) -> Result<Option<String>, SendError> {
        let now = self.clock.unix();
        let token = crate::token::generate().map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let kind = invitation.kind();
        let link = self.config.system_url.join(&kind.path(&token.plain));
        let rendered = invitation
            .letter(
                crate::mail::template::portal_name(&self.config.system_url),
                link.clone(),
                self.settings.show_time(now + LIFETIME),
            )
            .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let (purpose, grant, to) = (kind.purpose(), invitation.data(), invitation.email());
        let (action, subject) = invitation.record();
        let mut tx = self.db.begin().await?;
        db::one_time_token::revoke_data(&mut *tx, purpose, &grant, now).await?;
        db::one_time_token::insert_with_data(
            &mut *tx,
            &token.hash,
            purpose,
            &grant,
            now,
            now + LIFETIME,
        )
        .await?;
        crate::mail::queue::enqueue(&mut *tx, to, &rendered, now).await?;
        crate::audit::record(&mut *tx, now, actor, action, subject, detail).await?;
        tx.commit().await?;
        Ok((!self.config.mail.enabled).then_some(link))
    }

    /// What a presented link of kind `link` grants, or why it cannot be used.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn check(
        &self,
        link: Link,
        token: &str,
    ) -> Result<Result<Grant, TokenState>, sqlx::Error> {
        if !crate::token::looks_valid(token) {
            return Ok(Err(TokenState::Unknown));
        }
        let (db, purpose) = (&self.db, link.purpose());
        let hash = crate::token::hash(token);
        match db::one_time_token::state(db, &hash, purpose, self.clock.unix()).await? {
            TokenState::Valid { .. } => {}
            other => return Ok(Err(other)),
        }
        if link == Link::Setup {
            return Ok(Ok(Grant::FirstAdmin));
        }
        let Some((id, email)) = db::one_time_token::data(db, &hash, purpose)
            .await?
            .as_deref()
            .and_then(parse)
        else {
            return Ok(Err(TokenState::Unknown));
        };
        Ok(Ok(match link {
            Link::Admin => Grant::Admin {
                role: RoleId(id),
                email,
            },
            _ => Grant::Member {
                client: ClientId(id),
                email,
            },
        }))
    }

    /// Whether the invited `email` has an account, and whether `signed_in` (the user of the
    /// request's own session, if any) is it.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn invitee(
        &self,
        email: &str,
        signed_in: Option<UserId>,
    ) -> Result<Invitee, sqlx::Error> {
        let existing = self.existing_user(email).await?;
        Ok(Invitee {
            exists: existing.is_some(),
            signed_in: existing.is_some() && existing == signed_in,
        })
    }

    async fn existing_user(&self, email: &str) -> Result<Option<UserId>, sqlx::Error> {
        Ok(db::account::find_user_by_email(&self.db, email)
            .await?
            .map(|u| UserId(u.id)))
    }

    /// The one accept path: checks the link of kind `link`, creates the account it grants for
    /// `taker` (or, for an account invitation to an address that has one, takes that user if
    /// the request is signed in as them), consumes the link and records the acceptance, the
    /// membership in the same transaction. A link stays usable when the details are refused.
    ///
    /// # Errors
    /// An unusable link, an existing user not signed in as themselves, refused details, or
    /// storage errors.
    pub async fn accept(
        &self,
        link: Link,
        token: &str,
        taker: Taker<'_>,
    ) -> Result<Accepted, AcceptError> {
        let grant = self.check(link, token).await?.map_err(AcceptError::Link)?;
        let (accepted, record) = self.take_up(&grant, taker).await?;
        let now = self.clock.unix();
        let mut tx = self.db.begin().await?;
        let hash = crate::token::hash(token);
        let won = db::one_time_token::consume(&mut *tx, &hash, link.purpose(), now).await?;
        if let Accepted::Member { user, client } = accepted {
            // Of two acceptances at once only one joins. (An admin account, once created, stays
            // created and is recorded either way, as it always has been.)
            if !won {
                return Err(AcceptError::Link(TokenState::Used { at: now }));
            }
            let permissions = ClientPermissions::invited_default().to_stored();
            db::client::add_user(&mut *tx, client.get(), user.get(), &permissions, now).await?;
        }
        if let Some(r) = record {
            crate::audit::record(&mut *tx, now, &r.actor, r.action, &r.subject, &r.detail).await?;
        }
        tx.commit().await?;
        match accepted {
            Accepted::Admin(id) if link == Link::Setup => {
                tracing::info!(
                    admin_id = id.get(),
                    "first admin created from the setup link"
                );
            }
            Accepted::Admin(id) => tracing::info!(admin_id = id.get(), "admin invitation accepted"),
            Accepted::Member { user, client } => tracing::info!(
                client_id = client.get(),
                user_id = user.get(),
                "client account invitation accepted"
            ),
        }
        Ok(accepted)
    }

    /// Creates the account `grant` gives `taker`, or finds the existing user an account
    /// invitation is for; returns it with the acceptance's audit entry.
    async fn take_up(
        &self,
        grant: &Grant,
        taker: Taker<'_>,
    ) -> Result<(Accepted, Option<Record>), AcceptError> {
        Ok(match (grant, taker) {
            (
                Grant::FirstAdmin,
                Taker::Admin {
                    username,
                    email,
                    password,
                },
            ) => {
                let new = NewAdmin {
                    username,
                    email: email.unwrap_or_default(),
                    password,
                };
                let id = self
                    .accounts
                    .create_admin(&new, FULL_ADMINISTRATOR_ROLE)
                    .await?;
                // The first admin's creation has never had an audit entry of its own.
                (Accepted::Admin(id), None)
            }
            (
                Grant::Admin { role, email },
                Taker::Admin {
                    username, password, ..
                },
            ) => {
                let new = NewAdmin {
                    username,
                    email,
                    password,
                };
                let id = self.accounts.create_admin(&new, *role).await?;
                let record = Record {
                    actor: Actor::Admin(id),
                    action: Action::AdminInvitationAccepted,
                    subject: Actor::Admin(id),
                    detail: format!("{username} <{email}> joined through an invitation"),
                };
                (Accepted::Admin(id), Some(record))
            }
            (
                Grant::Member { client, email },
                Taker::User {
                    signed_in,
                    first_name,
                    last_name,
                    password,
                },
            ) => {
                let user = match self.existing_user(email).await? {
                    Some(user) if signed_in == Some(user) => user,
                    Some(_) => {
                        return Err(AcceptError::SignInFirst {
                            email: email.clone(),
                        });
                    }
                    None => {
                        let new = NewUser {
                            email,
                            first_name,
                            last_name,
                            password,
                            verified: true,
                            owns_account: false,
                        };
                        self.accounts.create_user(&new).await?.0
                    }
                };
                let record = Record {
                    actor: Actor::User(user),
                    action: Action::AccountInvitationAccepted,
                    subject: Actor::Member(user, *client),
                    detail: "joined the account through an invitation".to_owned(),
                };
                let client = *client;
                (Accepted::Member { user, client }, Some(record))
            }
            // A taker that does not fit the link's grant: nothing this link can give them.
            _ => return Err(AcceptError::Link(TokenState::Unknown)),
        })
    }
}

/// An acceptance's audit entry.
struct Record {
    actor: Actor,
    action: Action,
    subject: Actor,
    detail: String,
}
