//! Server-side sessions: start, load (with idle, absolute and address checks), end with a reason.
//!
//! The browser holds only a random 256-bit id; the database holds its SHA-256 hash, the realm,
//! the subject, the address and user agent at sign-in, and, once it ends, why (F02). Loading a
//! session is one primary-key lookup; last activity is written at most once per
//! `session.activity_update_seconds`, so reads do not turn into a write per request. Idle
//! timeouts are therefore measured from the last recorded activity, up to that interval early.
//! This module knows nothing about cookies or HTTP: the web layer maps its results to responses.

use crate::app::AppState;
use crate::config::{IpBinding, RealmSessionPolicy};
use crate::db;
use std::net::IpAddr;
use std::sync::Arc;

pub use crate::domain::Realm;

impl Realm {
    /// The realm's timeout and binding policy.
    pub fn policy(self, state: &AppState) -> RealmSessionPolicy {
        match self {
            Self::Client => state.config.client_session,
            Self::Admin => state.config.admin_session,
        }
    }
}

/// Why a session ended; stored, counted by the doctor and explained on the next sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    IdleTimeout,
    AbsoluteTimeout,
    IpChanged,
    Revoked,
    PasswordChanged,
    StorageError,
}

impl EndReason {
    /// Every reason, for reports.
    pub const ALL: [Self; 7] = [
        Self::Logout,
        Self::IdleTimeout,
        Self::AbsoluteTimeout,
        Self::IpChanged,
        Self::Revoked,
        Self::PasswordChanged,
        Self::StorageError,
    ];

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::IdleTimeout => "idle_timeout",
            Self::AbsoluteTimeout => "absolute_timeout",
            Self::IpChanged => "ip_changed",
            Self::Revoked => "revoked",
            Self::PasswordChanged => "password_changed",
            Self::StorageError => "storage_error",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// What the sign-in page says about the session that ended.
    pub fn message(self, policy: &RealmSessionPolicy) -> String {
        match self {
            Self::Logout => "You have signed out.".to_owned(),
            Self::IdleTimeout => format!(
                "Your session ended after {} minutes without activity. Please sign in again.",
                policy.idle_seconds / 60
            ),
            Self::AbsoluteTimeout => format!(
                "Your session reached its maximum length of {} hours. Please sign in again.",
                policy.absolute_seconds / 3600
            ),
            Self::IpChanged => "Your session ended because your network address changed (for example after switching networks or VPN). Please sign in again.".to_owned(),
            Self::Revoked => "Your session was ended from another session or by an administrator.".to_owned(),
            Self::PasswordChanged => "Your password was changed, so your other sessions were ended. Please sign in with the new password.".to_owned(),
            Self::StorageError => "Your session could not be kept because the server could not save it. Please sign in again; if this repeats, contact support.".to_owned(),
        }
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
    /// A client-area session's user and active account as read with it (`None` for admins,
    /// for a session just started, or when the user no longer exists).
    pub client_user: Option<ClientUser>,
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
}

/// Starts a session with a fresh id, ending the one it replaces.
///
/// # Errors
/// Storage errors: the caller must show "your session could not be saved", never a redirect.
pub async fn start(state: &AppState, sign_in: SignIn<'_>) -> Result<Started, sqlx::Error> {
    let now = state.clock.unix();
    let policy = sign_in.realm.policy(state);
    let id = crate::token::generate().map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let marker = crate::token::generate().map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    let remember = sign_in.remember && policy.remember_seconds.is_some();
    let lifetime = if remember {
        policy.remember_seconds.unwrap_or(policy.absolute_seconds)
    } else {
        policy.absolute_seconds
    };
    let row = db::session::SessionRow {
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
    };
    let mut tx = state.db.begin().await?;
    if let Some(old) = sign_in.replacing {
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
    Ok(Started {
        cookie_value: id.plain,
        marker: marker.plain,
        session: into_session(row, sign_in.realm),
        persistent_seconds: remember.then_some(lifetime),
    })
}

fn into_session(row: db::session::SessionRow, realm: Realm) -> Session {
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
        client_user: None,
    }
}

/// Loads the session a cookie names, ending it (with its reason) if it has timed out or its
/// address moved in a way the realm's policy forbids.
///
/// # Errors
/// Storage errors only; an unknown or garbage cookie is [`Lookup::Unknown`].
pub async fn load(
    state: &AppState,
    realm: Realm,
    cookie_value: &str,
    ip: IpAddr,
) -> Result<Lookup, sqlx::Error> {
    if !crate::token::looks_valid(cookie_value) {
        return Ok(Lookup::Unknown);
    }
    let hash = crate::token::hash(cookie_value);
    let found = match realm {
        // The client area reads the user and the active account with the session (one query).
        Realm::Client => db::client::session_with_user(&state.db, &hash).await?,
        Realm::Admin => db::session::find_by_hash(&state.db, &hash)
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
    let now = state.clock.unix();
    let policy = realm.policy(state);
    let idle_limit = if row.remember {
        policy.remember_seconds.unwrap_or(policy.idle_seconds)
    } else {
        policy.idle_seconds
    };
    let verdict = if now >= row.expires_at {
        Some(EndReason::AbsoluteTimeout)
    } else if now - row.last_seen_at > idle_limit {
        Some(EndReason::IdleTimeout)
    } else if !same_network(policy.ip_binding, &row.ip, ip) {
        Some(EndReason::IpChanged)
    } else {
        None
    };
    if let Some(reason) = verdict {
        db::session::end(&state.db, &hash, reason.as_str(), now).await?;
        audit_end(state, &row, reason).await?;
        tracing::info!(
            realm = realm.as_str(),
            reason = reason.as_str(),
            "session ended"
        );
        return Ok(Lookup::Ended(reason));
    }
    let mut session = into_session(row, realm);
    session.client_user = client_user.map(|u| ClientUser(Arc::new(u)));
    if now - session.last_seen_at >= state.config.activity_update_seconds {
        db::session::touch(&state.db, &hash, now).await?;
        session.last_seen_at = now;
    }
    Ok(Lookup::Live(session))
}

/// Ends a session (sign-out, or "end this session" from the list).
///
/// # Errors
/// Storage errors.
pub async fn end(state: &AppState, id_hash: &str, reason: EndReason) -> Result<bool, sqlx::Error> {
    let row = db::session::find_by_hash(&state.db, id_hash).await?;
    let ended = db::session::end(&state.db, id_hash, reason.as_str(), state.clock.unix()).await?;
    if let (true, Some(row)) = (ended, row) {
        audit_end(state, &row, reason).await?;
    }
    Ok(ended)
}

/// Ends an admin's own sessions and the client sessions they opened with "login as client"
/// (reason `revoked`), inside the caller's transaction: disabling or deleting an admin.
/// Returns how many of each ended.
///
/// # Errors
/// Storage errors.
pub async fn revoke_admin(
    tx: &mut sqlx::Transaction<'static, db::Db>,
    id: crate::domain::AdminId,
    now: i64,
) -> Result<(u64, u64), sqlx::Error> {
    let reason = EndReason::Revoked.as_str();
    let own =
        db::session::end_all_for_subject(&mut **tx, "admin", id.get(), None, reason, now).await?;
    let as_client = db::session::end_impersonations_by(&mut **tx, id.get(), reason, now).await?;
    Ok((own, as_client))
}

/// Records a session's end in the audit log: `signout` for a sign-out, `session.ended` for any
/// other reason, and `impersonation.end` (by the admin) for a "login as client" session, so an
/// admin's return, sign-out or timeout is never recorded as the client's own doing. The address
/// and user agent are those of the request that ended it (`db::audit::RequestOrigin`).
async fn audit_end(
    state: &AppState,
    row: &db::session::SessionRow,
    reason: EndReason,
) -> Result<(), sqlx::Error> {
    let subject = format!("{}:{}", row.realm, row.subject_id);
    let (actor, action, subject) = match row.impersonator_admin_id {
        Some(admin) => (
            format!("admin:{admin}"),
            "impersonation.end",
            // The same form as impersonation.start's subject.
            format!(
                "client:{} (user:{})",
                row.client_id.unwrap_or_default(),
                row.subject_id
            ),
        ),
        None => (
            subject.clone(),
            if reason == EndReason::Logout {
                "signout"
            } else {
                "session.ended"
            },
            subject,
        ),
    };
    db::audit::insert(
        &state.db,
        state.clock.unix(),
        &db::audit::Entry {
            actor: &actor,
            action,
            subject: &subject,
            detail: reason.as_str(),
            ip: "",
            user_agent: "",
        },
    )
    .await
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

    #[test]
    fn every_reason_round_trips_and_has_a_message() {
        let policy = RealmSessionPolicy {
            idle_seconds: 3600,
            absolute_seconds: 43_200,
            remember_seconds: None,
            ip_binding: IpBinding::Off,
        };
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
            assert!(!r.message(&policy).is_empty());
        }
        assert!(
            EndReason::IdleTimeout
                .message(&policy)
                .contains("60 minutes")
        );
    }
}
