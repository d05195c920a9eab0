//! Pending sign-ins: the password was right, the second factor (or, under a "required" policy,
//! the enrolment of one) is still due.
//!
//! A pending sign-in is its own row and its own cookie, not a session, so nothing that accepts a
//! session can accept it by mistake. It lives ten minutes, ends after `two_factor.max_failures`
//! wrong codes, and completes at most once (the end is a conditional update), after which a
//! session with a fresh id is started.

use crate::app::AppState;
use crate::db::{self, two_factor::PendingRow};
use crate::session::{Realm, SignIn};

/// How long the second step may take.
pub const LIFETIME_SECONDS: i64 = 600;

/// Stores a pending sign-in for the credentials just accepted; returns the cookie value.
///
/// # Errors
/// Storage errors or a failing random source.
pub async fn start(
    state: &AppState,
    sign_in: &SignIn<'_>,
    identifier: &str,
    must_enrol: bool,
) -> anyhow::Result<String> {
    let id = crate::token::generate()?;
    let now = state.clock.unix();
    let row = PendingRow {
        id_hash: id.hash,
        realm: sign_in.realm.as_str().to_owned(),
        subject_id: sign_in.subject_id,
        client_id: sign_in.client_id,
        remember: sign_in.remember,
        ip: sign_in.ip.to_string(),
        user_agent: sign_in.user_agent.chars().take(300).collect(),
        identifier: identifier.chars().take(254).collect(),
        must_enrol,
        failures: 0,
        duo_down: false,
        created_at: now,
        expires_at: now + LIFETIME_SECONDS,
    };
    db::two_factor::pending_insert(&state.db, &row).await?;
    Ok(id.plain)
}

/// The live pending sign-in a cookie names, if it belongs to `realm`.
///
/// # Errors
/// Storage errors.
pub async fn find(
    state: &AppState,
    realm: Realm,
    cookie_value: &str,
) -> Result<Option<PendingRow>, sqlx::Error> {
    if !crate::token::looks_valid(cookie_value) {
        return Ok(None);
    }
    let found = db::two_factor::pending_find(
        &state.db,
        &crate::token::hash(cookie_value),
        state.clock.unix(),
    )
    .await?;
    Ok(found.filter(|p| p.realm == realm.as_str()))
}

/// What a wrong code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Another attempt is allowed; this many remain.
    TryAgain(i64),
    /// Too many wrong codes: the pending sign-in has ended and counted as a failed sign-in.
    Cancelled,
}

/// Counts a wrong code; at the limit the pending sign-in ends and one failed sign-in is recorded
/// for the ban rules, exactly as a wrong password would be.
///
/// # Errors
/// Storage errors.
pub async fn fail(state: &AppState, pending: &PendingRow) -> Result<Failure, sqlx::Error> {
    let failures = db::two_factor::pending_fail(&state.db, &pending.id_hash).await?;
    let limit = i64::from(state.config.two_factor.max_failures);
    if failures < limit {
        return Ok(Failure::TryAgain(limit - failures));
    }
    db::two_factor::pending_end(&state.db, &pending.id_hash, state.clock.unix()).await?;
    let realm = if pending.realm == "admin" {
        Realm::Admin
    } else {
        Realm::Client
    };
    if let Ok(ip) = pending.ip.parse() {
        crate::ban::record_failure(state, realm, ip, &pending.identifier).await?;
    }
    let who = format!("{}:{}", pending.realm, pending.subject_id);
    crate::db::setting::audit_about(
        &state.db,
        state.clock.unix(),
        &who,
        "signin.second_factor_failed",
        &who,
        &format!("{failures} wrong codes; the sign-in was cancelled"),
        &pending.ip,
    )
    .await?;
    Ok(Failure::Cancelled)
}
