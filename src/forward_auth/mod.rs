//! Forward authentication: a reverse proxy asks whether a request to a protected host may pass
//! (nginx `auth_request`, Traefik `ForwardAuth`, Caddy `forward_auth`), and Portcullis answers
//! from its access rules ([`rules`]) and the browser's session.
//!
//! [`ForwardAuth::decide`] is the one decision: the first rule covering the request says who may
//! pass; the session of that rule's realm is loaded by the session service (idle and absolute
//! timeouts, address binding: the same rules as the portal's own pages) and the person behind it
//! by the access service (a disabled account ends its session there). What reaches the upstream
//! is an [`Identity`], turned into the configured headers by [`Identity::headers`].
//!
//! The sign-in round trip: a request without a session is sent to [`sign_in_path`] with the
//! original URL as `rd`; after signing in, the browser goes back there, and only to a host the
//! rules name ([`ForwardAuth::return_to`]), never elsewhere. When the browser comes back signed
//! in several times within seconds, the protected host is not seeing the session: that loop is
//! shown as a page naming the cause ([`ForwardAuth::loop_cause`], F18). What the proxies send is
//! counted for the doctor's `forward_auth.setup` check, which [`setup`] serves.

pub mod explain;
pub mod rules;
pub mod setup;

pub use rules::{Rule, Rules, Target, Who};

use crate::access::{Access, AdminAccess, ClientAccess};
use crate::app::AppState;
use crate::auth::client_permission::{ClientPermission, ClientPermissions};
use crate::config::HeaderNames;
use crate::diagnostics::{Counter, Diagnostics};
use crate::domain::Realm;
use crate::session::{Lookup, Sessions};
use std::net::IpAddr;
use std::sync::Arc;

/// The query parameter carrying the URL to return to after signing in.
pub const RETURN_PARAM: &str = "rd";

/// The sign-in round trip's page of a realm: signed in, back to `rd`; else to the sign-in form.
pub fn sign_in_path(realm: Realm) -> &'static str {
    match realm {
        Realm::Client => "/forward-auth/signin",
        Realm::Admin => "/admin/forward-auth/signin",
    }
}

/// Who passes, as the upstream is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub realm: Realm,
    /// The stable subject (`client:42`, `admin:7`), as the OpenID provider's `sub`.
    pub subject: String,
    /// The sign-in name: an admin's username, a client-area user's email.
    pub user: String,
    pub email: String,
    pub name: String,
    /// An admin's role and the permissions it grants.
    pub groups: Vec<String>,
    /// A client-area user's active account: its id and name.
    pub account: Option<(i64, String)>,
    /// The user's permissions in that account.
    pub permissions: Vec<&'static str>,
}

impl Identity {
    /// The headers for the upstream, by the configured names: every name, each time, empty
    /// where there is no value (all of them for a bypass rule's `None`). A proxy that copies a
    /// header from the answer then always finds one to copy: Debian's Caddy 2.6.2 otherwise
    /// sets the upstream header to its own placeholder text (`{http.reverse_proxy.header.…}`).
    /// Control characters become spaces, as a header value cannot carry them.
    pub fn headers(
        identity: Option<&Self>,
        names: &HeaderNames,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        let value = |text: &str| {
            let clean: String = text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            http::HeaderValue::from_bytes(clean.trim().as_bytes())
                .unwrap_or_else(|_| http::HeaderValue::from_static(""))
        };
        let account = identity.and_then(|i| i.account.as_ref());
        let texts = [
            (&names.user, identity.map(|i| i.user.clone())),
            (&names.email, identity.map(|i| i.email.clone())),
            (&names.name, identity.map(|i| i.name.clone())),
            (&names.subject, identity.map(|i| i.subject.clone())),
            (&names.groups, identity.map(|i| i.groups.join(","))),
            (&names.account, account.map(|(id, _)| id.to_string())),
            (&names.account_name, account.map(|(_, label)| label.clone())),
            (
                &names.permissions,
                identity
                    .filter(|i| i.account.is_some())
                    .map(|i| i.permissions.join(",")),
            ),
        ];
        texts
            .into_iter()
            .map(|(name, text)| (name.clone(), value(text.as_deref().unwrap_or_default())))
            .collect()
    }
}

/// The answer to "may this request pass?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Pass; with who it is, unless the rule bypasses.
    Allow {
        rule: usize,
        identity: Option<Identity>,
    },
    /// No live session of `realm`: send the browser to sign in.
    SignIn { rule: usize, realm: Realm },
    /// Signed in, or not, it does not pass: the words say why.
    Forbidden { rule: Option<usize>, why: String },
}

/// Why a return address after signing in is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnRefused {
    #[error("The address to return to is not a full http or https URL ({0}).")]
    Malformed(&'static str),
    #[error(
        "{0} is not a host the forward-authentication rules protect, so Portcullis does not send you there."
    )]
    UnknownHost(String),
    #[error(
        "The address to return to is plain http while the portal is https; Portcullis does not send a signed-in browser there."
    )]
    Insecure,
}

/// The forward-authentication service.
#[derive(Clone)]
pub struct ForwardAuth {
    db: crate::db::Pool,
    clock: Arc<dyn crate::clock::Clock>,
    config: Arc<crate::config::Config>,
    settings: crate::settings::Settings,
    sessions: Sessions,
    access: Access,
    diagnostics: Diagnostics,
}

impl From<&AppState> for ForwardAuth {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            config: state.config.clone(),
            settings: crate::settings::Settings::from(state),
            sessions: Sessions::from(state),
            access: Access::from(state),
            diagnostics: Diagnostics::from(state),
        }
    }
}

/// A browser sent back to the same protected host this many times within [`LOOP_SECONDS`]
/// while signed in is in a loop (F18): the host does not see the session.
pub const LOOP_RETURNS: u32 = 3;
/// The window of [`LOOP_RETURNS`].
pub const LOOP_SECONDS: i64 = 30;

/// What to do with a signed-in browser on its way back to a protected host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Return {
    /// Send it there, remembering this return (the bounce cookie's new value).
    Go { bounce: String },
    /// It keeps coming back: show why instead of sending it round again.
    Loop,
}

/// What the proxy sent that the doctor's `forward_auth.setup` check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// The forwarding headers came from a peer that is not a trusted proxy (the label is it).
    UntrustedPeer,
    /// The original URL (or host) was missing or unreadable (the label is the endpoint).
    NoOriginalUrl,
    /// A request to a host no rule names (the label is the host).
    UnknownHost,
    /// A browser came back signed in to a host that did not see the session (the label is it).
    Loop,
}

impl ForwardAuth {
    /// The header names of the identity headers.
    pub fn header_names(&self) -> &HeaderNames {
        &self.config.forward_auth.headers
    }

    /// Decides a request to `target`, with `cookie` giving the request's session cookie of a
    /// realm.
    ///
    /// # Errors
    /// Storage errors (the proxy then answers 5xx: never "allowed").
    pub async fn decide(
        &self,
        target: &Target,
        cookie: impl Fn(Realm) -> Option<String>,
        ip: IpAddr,
    ) -> Result<Verdict, sqlx::Error> {
        let settings = self.settings.current().await;
        let Some((number, rule)) = settings
            .values
            .forward_rules
            .first_match(&target.host, &target.path)
        else {
            self.observe(Observation::UnknownHost, &target.host, target.url.as_str())
                .await;
            return Ok(Verdict::Forbidden {
                rule: None,
                why: format!(
                    "No forward-authentication rule covers {}{}, so it is denied.",
                    target.host, target.path
                ),
            });
        };
        let who = rule.who;
        let realm = match (who, who.realm()) {
            (Who::Bypass, _) => {
                return Ok(Verdict::Allow {
                    rule: number,
                    identity: None,
                });
            }
            (_, Some(realm)) => realm,
            (_, None) => {
                return Ok(Verdict::Forbidden {
                    rule: Some(number),
                    why: format!("Rule {number} denies this address to everyone."),
                });
            }
        };
        let sign_in = Verdict::SignIn {
            rule: number,
            realm,
        };
        let Some(value) = cookie(realm) else {
            return Ok(sign_in);
        };
        let Lookup::Live(session) = self.sessions.load(realm, &value, ip).await? else {
            return Ok(sign_in);
        };
        let identity = match realm {
            Realm::Admin => match self.access.admin(&session).await? {
                AdminAccess::Allowed { admin, permissions } => {
                    if let Who::Admin(p) = who
                        && !permissions.contains(p)
                    {
                        return Ok(Verdict::Forbidden {
                            rule: Some(number),
                            why: format!(
                                "You are signed in as {}, whose role {} does not grant {} (needed here, rule {number}). An admin who manages roles can grant it.",
                                admin.username,
                                admin.role_name,
                                p.as_str()
                            ),
                        });
                    }
                    let mut groups = vec![admin.role_name.clone()];
                    groups.extend(permissions.iter().map(|p| p.as_str().to_owned()));
                    Identity {
                        realm,
                        subject: crate::oidc::claims::subject(realm, admin.id),
                        user: admin.username,
                        email: admin.email,
                        name: String::new(),
                        groups,
                        account: None,
                        permissions: Vec::new(),
                    }
                }
                AdminAccess::Ended => return Ok(sign_in),
            },
            Realm::Client => match self.access.client(&session).await? {
                ClientAccess::Allowed(found) => {
                    let held = found
                        .membership
                        .as_ref()
                        .map(|m| ClientPermissions::held(m.is_owner, &m.permissions));
                    if let Who::Client(p) = who
                        && !held.is_some_and(|h| h.contains(p))
                    {
                        return Ok(Verdict::Forbidden {
                            rule: Some(number),
                            why: client_refusal(&found, p, number),
                        });
                    }
                    let user = found.user;
                    Identity {
                        realm,
                        subject: crate::oidc::claims::subject(realm, user.id),
                        name: format!("{} {}", user.first_name, user.last_name)
                            .trim()
                            .to_owned(),
                        user: user.email.clone(),
                        email: user.email,
                        groups: Vec::new(),
                        account: found.membership.map(|m| (m.client_id, m.label)),
                        permissions: held
                            .map(|h| h.iter().map(ClientPermission::as_str).collect())
                            .unwrap_or_default(),
                    }
                }
                ClientAccess::Ended | ClientAccess::ImpersonatorGone => return Ok(sign_in),
            },
        };
        Ok(Verdict::Allow {
            rule: number,
            identity: Some(identity),
        })
    }

    /// The URL to send a browser to for signing in to `realm` and coming back to `target`.
    pub fn sign_in_url(&self, realm: Realm, target: &Target) -> String {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(RETURN_PARAM, target.url.as_str())
            .finish();
        self.config
            .system_url
            .join(&format!("{}?{query}", sign_in_path(realm)))
    }

    /// Where a browser may be sent after signing in: only a host the rules name (or the portal
    /// itself), and never plain http from an https portal.
    ///
    /// # Errors
    /// Why the address is refused, in the person's words.
    pub async fn return_to(&self, rd: &str) -> Result<url::Url, ReturnRefused> {
        let target = Target::parse(rd).map_err(ReturnRefused::Malformed)?;
        let settings = self.settings.current().await;
        let portal = target.host == self.config.system_url.host();
        if !portal && !settings.values.forward_rules.names_host(&target.host) {
            return Err(ReturnRefused::UnknownHost(target.host));
        }
        if self.config.system_url.is_https() && !target.https {
            return Err(ReturnRefused::Insecure);
        }
        Ok(target.url)
    }

    /// The page a browser is sent to when the proxy's request cannot be judged (`cause`:
    /// `untrusted_proxy`, `no_original_url`).
    pub fn problem_url(&self, cause: &str) -> String {
        self.config
            .system_url
            .join(&format!("{}?problem={cause}", sign_in_path(Realm::Client)))
    }

    /// What that page says about a cause.
    pub fn problem_text(&self, cause: &str) -> String {
        match cause {
            "untrusted_proxy" => "The proxy asked Portcullis whether you may pass from an address that is not a trusted proxy, so Portcullis cannot believe which page you opened and lets nobody through. The operator adds the proxy's address to proxy.trusted (the doctor's forward_auth.setup check names it).".to_owned(),
            "no_original_url" => "The proxy asked Portcullis whether you may pass without saying which page you opened (X-Original-URL for nginx; X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-URI for Traefik and Caddy), so nobody is let through. The operator adds those headers to the proxy's configuration (docs/forward-auth.md).".to_owned(),
            _ => "The proxy in front of this application could not ask Portcullis properly. The operator can run portcullis doctor (forward_auth.setup) to see why.".to_owned(),
        }
    }

    /// Counts a signed-in browser's return to `host`, given the bounce cookie it carried
    /// (`count:first_unix:host`), and says whether this is a loop.
    pub fn count_return(&self, previous: Option<&str>, host: &str) -> Return {
        let now = self.clock.unix();
        let earlier = previous.and_then(|v| {
            let mut parts = v.splitn(3, ':');
            let count: u32 = parts.next()?.parse().ok()?;
            let first: i64 = parts.next()?.parse().ok()?;
            (parts.next()? == host && now - first <= LOOP_SECONDS).then_some((count, first))
        });
        let (count, first) = earlier.map_or((1, now), |(c, f)| (c + 1, f));
        if count >= LOOP_RETURNS {
            Return::Loop
        } else {
            Return::Go {
                bounce: format!("{count}:{first}:{host}"),
            }
        }
    }

    /// Counts something a proxy sent for the doctor.
    pub async fn observe(&self, what: Observation, label: &str, sample: &str) {
        let counter = match what {
            Observation::UntrustedPeer => Counter::ForwardAuthUntrusted,
            Observation::NoOriginalUrl => Counter::ForwardAuthNoUrl,
            Observation::UnknownHost => Counter::ForwardAuthUnknownHost,
            Observation::Loop => Counter::ForwardAuthLoop,
        };
        // The sample is a URL the browser asked for: its query may carry secrets.
        let sample = sample.split(['?', '#']).next().unwrap_or_default();
        self.diagnostics.note(counter, label, sample).await;
    }
}

/// The refusal of a client-area user who lacks `p` in their active account.
fn client_refusal(found: &crate::access::ClientUser, p: ClientPermission, number: usize) -> String {
    match &found.membership {
        Some(m) => format!(
            "You are signed in as {}, who does not hold the permission \"{}\" ({}) in {} (needed here, rule {number}). The account's owner can give it to you on their Users page.",
            found.user.email,
            p.label(),
            p.as_str(),
            m.label
        ),
        None => format!(
            "You are signed in as {}, who belongs to no client account (any more), and this address needs the permission \"{}\" in one (rule {number}).",
            found.user.email,
            p.label()
        ),
    }
}
