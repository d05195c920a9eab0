//! Server-side sessions: start, load (with idle, absolute and address checks), end with a reason.
//!
//! The browser holds only a random 256-bit id; the database holds its SHA-256 hash, the realm,
//! the subject, the address and user agent at sign-in, and, once it ends, why (F02). Loading a
//! session is one primary-key lookup; last activity is written at most once per
//! `session.activity_update_seconds`, so reads do not turn into a write per request. Idle
//! timeouts are therefore measured from the last recorded activity, up to that interval early.
//! This module knows nothing about cookies or HTTP: the web layer maps its results to responses.
//!
//! [`Sessions`] is the service: `start`, `load`, `list`, the sign-in marker check, and (in
//! [`ending`]) the one function that ends sessions and records their end. Who is behind a
//! session (the account, the impersonating admin) is `crate::access`; sign-in decisions are
//! `crate::signin`.

use crate::app::AppState;
use crate::config::{Config, IpBinding, RealmSessionPolicy};
use crate::db;
use std::net::IpAddr;
use std::sync::Arc;

pub mod cache;
pub mod ending;
pub mod everywhere;
mod reason;

pub use crate::db::session::SessionRow;
pub use crate::domain::Realm;
pub use ending::{EndError, Ended, Which};
pub use reason::EndReason;

/// Counter name for cookie-loss events (a sign-in marker came back without its cookie).
pub const COOKIE_LOSS_COUNTER: &str = "session.cookie_loss";

fn policy_of(config: &Config, realm: Realm) -> RealmSessionPolicy {
    match realm {
        Realm::Client => config.client_session,
        Realm::Admin => config.admin_session,
    }
}

/// A live session, as handlers see it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub realm: Realm,
    pub subject_id: i64,
    pub client_id: Option<i64>,
    /// The admin signed in as this client, when this is an impersonation.
    pub impersonator_admin_id: Option<i64>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: String,
    pub user_agent: String,
    /// The second factor that completed the sign-in, if any (see [`SignIn::second_factor`]).
    pub second_factor: Option<String>,
    /// A client-area session's user and active account as read with it (`None` for admins,
    /// for a session just started, or when the user no longer exists).
    pub client_user: Option<ClientUser>,
}

impl Session {
    /// The person signed in with it, as an audit actor (`admin:ID` or `client:ID`).
    pub fn actor(&self) -> crate::domain::Actor {
        crate::domain::Actor::of(self.realm, self.subject_id)
    }

    /// During "login as client": the admin behind the session.
    pub fn impersonator(&self) -> Option<crate::domain::AdminId> {
        self.impersonator_admin_id.map(crate::domain::AdminId)
    }
}

/// A client-area user read with their session. Its `Debug` names only the user, so a logged
/// session never shows the password hash.
#[derive(Clone)]
pub struct ClientUser(pub Arc<db::client::ClientUser>);

impl std::fmt::Debug for ClientUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientUser")
            .field("user_id", &self.0.0.id)
            .field("client_id", &self.0.1.as_ref().map(|m| m.client_id))
            .finish()
    }
}

/// What a presented session cookie turned out to be.
#[derive(Debug, Clone)]
pub enum Lookup {
    Live(Session),
    /// It existed and has ended; the reason is shown on the sign-in page.
    Ended(EndReason),
    /// Never issued by us (or already removed by housekeeping).
    Unknown,
}

/// A newly started session: what goes into the cookie and the one-time redirect marker.
#[derive(Debug, Clone)]
pub struct Started {
    pub cookie_value: String,
    pub marker: String,
    pub session: Session,
    /// `Max-Age` for the cookie when the session must survive a browser restart.
    pub persistent_seconds: Option<i64>,
}

/// Details recorded at sign-in.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    pub realm: Realm,
    pub subject_id: i64,
    pub client_id: Option<i64>,
    /// The admin signing in as the client ("login as client"); `None` for a real sign-in.
    pub impersonator: Option<i64>,
    pub ip: IpAddr,
    pub user_agent: &'a str,
    pub remember: bool,
    /// The session the browser already had, ended so the new id replaces it (rotation).
    pub replacing: Option<&'a str>,
    /// The second factor that completed the sign-in, if one did (`totp`, `backup_code`,
    /// `webauthn`, `duo`): kept for the OpenID provider's `amr` and `acr`.
    pub second_factor: Option<&'static str>,
}

/// Why a session could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The system's random source failed: no session id can be made.
    #[error("no random session id could be made: {0}")]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl StartError {
    /// As an `anyhow` error whose chain holds the `sqlx::Error` itself, so the error page can
    /// still tell a lost database connection from a failed write.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            Self::Random(e) => e.into(),
            Self::Storage(e) => e.into(),
        }
    }
}

/// What a sign-in marker in a request's URL turned out to mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// Nothing to report: the cookie came back (the marker is used up), or the marker is stale.
    Fine,
    /// The session it was issued for is live but the browser sent no cookie: it dropped it.
    CookieLost,
}

/// The sessions service: starting, loading, listing and ending sessions.
#[derive(Clone)]
pub struct Sessions {
    db: db::Pool,
    clock: Arc<dyn crate::clock::Clock>,
    config: Arc<Config>,
    cache: Arc<cache::SessionCache>,
}

impl From<&AppState> for Sessions {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            config: state.config.clone(),
            cache: state.session_cache.clone(),
        }
    }
}

impl Sessions {
    /// The realm's timeout and binding policy.
    pub fn policy(&self, realm: Realm) -> RealmSessionPolicy {
        policy_of(&self.config, realm)
    }

    /// Starts a session with a fresh id, ending the one it replaces. Writes no audit entry: a
    /// real sign-in is recorded by `crate::signin`, "login as client" by `crate::impersonation`.
    ///
    /// # Errors
    /// Storage errors: the caller must show "your session could not be saved", never a redirect.
    pub async fn start(&self, sign_in: SignIn<'_>) -> Result<Started, StartError> {
        let now = self.clock.unix();
        let policy = self.policy(sign_in.realm);
        let id = crate::token::generate()?;
        let marker = crate::token::generate()?;
        let remember = sign_in.remember && policy.remember_seconds.is_some();
        let lifetime = if remember {
            policy.remember_seconds.unwrap_or(policy.absolute_seconds)
        } else {
            policy.absolute_seconds
        };
        let row = SessionRow {
            id_hash: id.hash.clone(),
            realm: sign_in.realm.as_str().to_owned(),
            subject_id: sign_in.subject_id,
            client_id: sign_in.client_id,
            impersonator_admin_id: sign_in.impersonator,
            ip: sign_in.ip.to_string(),
            user_agent: sign_in.user_agent.chars().take(300).collect(),
            remember,
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime,
            ended_at: None,
            end_reason: None,
            second_factor: sign_in.second_factor.map(str::to_owned),
        };
        let mut tx = self.db.begin().await?;
        if let Some(old) = sign_in.replacing {
            // Rotation, not an end anyone asked for: the new session replaces it unrecorded.
            db::session::end(
                &mut *tx,
                &crate::token::hash(old),
                EndReason::Revoked.as_str(),
                now,
            )
            .await?;
        }
        db::session::insert(&mut *tx, &row, Some(&marker.hash)).await?;
        tx.commit().await?;
        if let Some(old) = sign_in.replacing {
            self.cache.forget_session(&crate::token::hash(old));
        }
        Ok(Started {
            cookie_value: id.plain,
            marker: marker.plain,
            session: into_session(row, sign_in.realm),
            persistent_seconds: remember.then_some(lifetime),
        })
    }

    /// Loads the session a cookie names, ending it (with its reason) if it has timed out or its
    /// address moved in a way the realm's policy forbids.
    ///
    /// # Errors
    /// Storage errors only; an unknown or garbage cookie is [`Lookup::Unknown`].
    pub async fn load(
        &self,
        realm: Realm,
        cookie_value: &str,
        ip: IpAddr,
    ) -> Result<Lookup, sqlx::Error> {
        if !crate::token::looks_valid(cookie_value) {
            return Ok(Lookup::Unknown);
        }
        let hash = crate::token::hash(cookie_value);
        let now = self.clock.unix();
        if let Some(kept) = self.cache.get(&hash) {
            if kept.realm() != realm {
                return Ok(Lookup::Unknown);
            }
            // Memory only ever says "live": anything that would end the session is decided
            // from the database below, since another node may have recorded activity since.
            let standing = Standing {
                remember: kept.remember(),
                expires_at: kept.expires_at(),
                ip: kept.ip(),
                last_seen_at: kept.last_seen_at(),
            };
            if self.verdict(realm, &standing, ip, now).is_none() {
                return self.live_in_memory(&hash, &kept, now).await;
            }
        }
        let generation = self.cache.generation();
        let found = match realm {
            // The client area reads the user and the active account with the session (one query).
            Realm::Client => db::client::session_with_user(&self.db, &hash).await?,
            Realm::Admin => db::session::find_by_hash(&self.db, &hash)
                .await?
                .map(|row| (row, None)),
        };
        let Some((row, client_user)) = found else {
            return Ok(Lookup::Unknown);
        };
        if row.realm != realm.as_str() {
            return Ok(Lookup::Unknown);
        }
        if row.ended_at.is_some() {
            let reason = row.end_reason.as_deref().and_then(EndReason::parse);
            return Ok(reason.map_or(Lookup::Unknown, Lookup::Ended));
        }
        let verdict = self.verdict(realm, &Standing::of(&row), ip, now);
        // "Login as client" lives only as long as the admin session that opened it.
        let mut admin_session = None;
        let verdict = match verdict {
            None if row.impersonator_admin_id.is_some() => {
                match self.live_admin_session(&hash, now).await? {
                    Some(parent) => {
                        admin_session = Some(parent);
                        None
                    }
                    None => Some(EndReason::Revoked),
                }
            }
            other => other,
        };
        // Kept in memory unless it depends on the admin session behind it.
        let keep = (verdict.is_none() && row.impersonator_admin_id.is_none()).then(|| row.clone());
        let mut session = into_session(row, realm);
        if let Some(reason) = verdict {
            self.end(Which::This(&session), reason).await?;
            tracing::info!(
                realm = realm.as_str(),
                reason = reason.as_str(),
                "session ended"
            );
            return Ok(Lookup::Ended(reason));
        }
        let client_user = client_user.map(Arc::new);
        session.client_user = client_user.clone().map(ClientUser);
        if now - session.last_seen_at >= self.config.activity_update_seconds {
            db::session::touch(&self.db, &hash, now).await?;
            session.last_seen_at = now;
            // The admin working as the client is active: their own session is not idle.
            if let Some(parent) = admin_session {
                db::session::touch(&self.db, &parent, now).await?;
            }
        }
        if let Some(row) = keep {
            let entry = cache::Cached::new(row, realm, client_user);
            entry.seen(session.last_seen_at);
            self.cache.keep(&hash, entry, generation);
        }
        Ok(Lookup::Live(session))
    }

    /// What ends a live session of `realm` standing as `row` now, seen from `ip`: its
    /// lifetime, its idle limit, or an address its policy forbids.
    fn verdict(&self, realm: Realm, row: &Standing<'_>, ip: IpAddr, now: i64) -> Option<EndReason> {
        let policy = self.policy(realm);
        let idle_limit = if row.remember {
            policy.remember_seconds.unwrap_or(policy.idle_seconds)
        } else {
            policy.idle_seconds
        };
        if now >= row.expires_at {
            Some(EndReason::AbsoluteTimeout)
        } else if now - row.last_seen_at > idle_limit {
            Some(EndReason::IdleTimeout)
        } else if !same_network(policy.ip_binding, row.ip, ip) {
            Some(EndReason::IpChanged)
        } else {
            None
        }
    }

    /// The live session kept in memory for `hash`, recording activity when it is due.
    ///
    /// # Errors
    /// Storage errors of the activity write.
    async fn live_in_memory(
        &self,
        hash: &str,
        kept: &cache::Cached,
        now: i64,
    ) -> Result<Lookup, sqlx::Error> {
        let mut session = kept.session(hash);
        if now - session.last_seen_at >= self.config.activity_update_seconds {
            db::session::touch(&self.db, hash, now).await?;
            kept.seen(now);
            session.last_seen_at = now;
        }
        Ok(Lookup::Live(session))
    }

    /// The id hash of the admin session behind the "login as client" session `id_hash`, if it
    /// is still live: not ended, not past its lifetime and not idle for longer than the admin
    /// realm allows. `None` ends the impersonation.
    ///
    /// # Errors
    /// Storage errors.
    async fn live_admin_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<String>, sqlx::Error> {
        let Some(parent) = db::session::impersonator_session(&self.db, id_hash).await? else {
            return Ok(None);
        };
        let admin = self.policy(Realm::Admin);
        let live = parent.ended_at.is_none()
            && now < parent.expires_at
            && now - parent.last_seen_at <= admin.idle_seconds;
        Ok(live.then_some(parent.id_hash))
    }

    /// Records that the "login as client" session `id_hash` was opened from the admin session
    /// `admin_session`, so it ends with it.
    ///
    /// # Errors
    /// Storage errors.
    pub(crate) async fn link_to_admin_session(
        &self,
        id_hash: &str,
        admin_session: &str,
    ) -> Result<(), sqlx::Error> {
        db::session::set_impersonator_session(&self.db, id_hash, admin_session).await
    }

    /// The live sessions of `owner`'s person, newest first (the "where you are signed in" page).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self, owner: &Session) -> Result<Vec<SessionRow>, sqlx::Error> {
        db::session::list_live_for_subject(
            &self.db,
            owner.realm.as_str(),
            owner.subject_id,
            self.clock.unix(),
        )
        .await
    }

    /// The live sessions of a person, newest first (the admin API), at most 100.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list_of(
        &self,
        realm: Realm,
        subject_id: i64,
    ) -> Result<Vec<SessionRow>, sqlx::Error> {
        db::session::list_live_for_subject(&self.db, realm.as_str(), subject_id, self.clock.unix())
            .await
    }

    /// The OpenID applications each of `owner`'s person's sessions signed in to, by session id
    /// hash (F17: the sessions page says which applications a session reaches).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn applications(
        &self,
        owner: &Session,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, sqlx::Error> {
        let pairs = db::oidc_logout::applications_of_sessions(
            &self.db,
            owner.realm.as_str(),
            owner.subject_id,
        )
        .await?;
        let mut out: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for (session, name) in pairs {
            out.entry(session).or_default().push(name);
        }
        Ok(out)
    }

    /// Checks the one-time sign-in marker a request carries (F06). With the cookie back
    /// (`live`), the marker is used up; without it, a marker whose session is live means the
    /// browser dropped the cookie, which is counted for the doctor.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn check_marker(
        &self,
        live: Option<&Session>,
        marker: &str,
        path: &str,
    ) -> Result<Marker, sqlx::Error> {
        if let Some(s) = live {
            db::session::clear_marker(&self.db, &s.id_hash).await?;
            return Ok(Marker::Fine);
        }
        let issued = db::session::find_by_marker(&self.db, &crate::token::hash(marker)).await?;
        if issued.is_none_or(|row| row.ended_at.is_some()) {
            return Ok(Marker::Fine);
        }
        let now = self.clock.unix();
        if let Err(e) = db::counter::record(
            &self.db,
            COOKIE_LOSS_COUNTER,
            "marker_without_cookie",
            path,
            now,
        )
        .await
        {
            tracing::warn!(error = %e, "could not record a cookie-loss event");
        }
        tracing::warn!(
            path,
            "browser did not return the session cookie after sign-in"
        );
        Ok(Marker::CookieLost)
    }

    /// Makes `client_id` the session's active client account (the caller checked membership).
    ///
    /// # Errors
    /// Storage errors.
    pub(crate) async fn set_client(
        &self,
        session: &Session,
        client_id: crate::domain::ClientId,
    ) -> Result<(), sqlx::Error> {
        db::session::set_client(&self.db, &session.id_hash, client_id.get()).await?;
        self.cache.forget_session(&session.id_hash);
        Ok(())
    }

    /// The session a stored id hash names, live or not.
    ///
    /// # Errors
    /// Storage errors.
    async fn find(&self, id_hash: &str) -> Result<Option<Session>, sqlx::Error> {
        let row = db::session::find_by_hash(&self.db, id_hash).await?;
        Ok(row.and_then(|row| {
            let realm = Realm::parse(&row.realm)?;
            Some(into_session(row, realm))
        }))
    }
}

/// What decides whether a live session has ended: read from its row, or from memory.
struct Standing<'a> {
    remember: bool,
    expires_at: i64,
    /// The address it was started from.
    ip: &'a str,
    last_seen_at: i64,
}

impl<'a> Standing<'a> {
    fn of(row: &'a SessionRow) -> Self {
        Self {
            remember: row.remember,
            expires_at: row.expires_at,
            ip: &row.ip,
            last_seen_at: row.last_seen_at,
        }
    }
}

fn into_session(row: SessionRow, realm: Realm) -> Session {
    Session {
        id_hash: row.id_hash,
        realm,
        subject_id: row.subject_id,
        client_id: row.client_id,
        impersonator_admin_id: row.impersonator_admin_id,
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        expires_at: row.expires_at,
        ip: row.ip,
        user_agent: row.user_agent,
        second_factor: row.second_factor,
        client_user: None,
    }
}

/// Ends the session a stored id hash names, recorded as [`Which::This`] records it; whether it
/// was live. For the tests, which hold the application state and a stored hash.
///
/// # Errors
/// Storage errors.
pub async fn end(state: &AppState, id_hash: &str, reason: EndReason) -> Result<bool, sqlx::Error> {
    let sessions = Sessions::from(state);
    let Some(session) = sessions.find(id_hash).await? else {
        return Ok(false);
    };
    Ok(sessions.end(Which::This(&session), reason).await?.own > 0)
}

/// Ends an admin's own sessions and the client sessions they opened with "login as client"
/// (reason `revoked`), inside the caller's transaction: disabling or deleting an admin.
/// Returns how many of each ended ([`Which::AdminAndImpersonations`]).
///
/// # Errors
/// Storage errors.
pub async fn revoke_admin(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    id: crate::domain::AdminId,
    now: i64,
) -> Result<(u64, u64), sqlx::Error> {
    let ended = ending::end_in(
        tx,
        Which::AdminAndImpersonations(id),
        EndReason::Revoked,
        now,
    )
    .await?;
    Ok((ended.own, ended.as_client))
}

/// Whether `now_ip` is acceptable for a session that started at `then_ip` under `binding`.
pub fn same_network(binding: IpBinding, then_ip: &str, now_ip: IpAddr) -> bool {
    let Ok(then) = then_ip.parse::<IpAddr>() else {
        return binding == IpBinding::Off;
    };
    match binding {
        IpBinding::Off => true,
        IpBinding::Exact => then == now_ip,
        IpBinding::Subnet => match (then, now_ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
            (IpAddr::V6(a), IpAddr::V6(b)) => a.segments()[..4] == b.segments()[..4],
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_binding_allows_moves_inside_a_24_or_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(same_network(
            IpBinding::Subnet,
            "203.0.113.5",
            ip("203.0.113.77")
        ));
        assert!(!same_network(
            IpBinding::Subnet,
            "203.0.113.5",
            ip("203.0.114.5")
        ));
        assert!(same_network(
            IpBinding::Subnet,
            "2001:db8:1:2::1",
            ip("2001:db8:1:2:ffff::9")
        ));
        assert!(!same_network(
            IpBinding::Exact,
            "203.0.113.5",
            ip("203.0.113.6")
        ));
        assert!(same_network(IpBinding::Off, "garbage", ip("203.0.113.6")));
    }
}
