//! Back-Channel Logout 1.0 (F17): when a portal session ends, every application that got a
//! token from it and registered a back-channel logout URI is sent a logout token, so the person
//! is signed out there too.
//!
//! The deliveries are a persistent queue (`db::oidc_logout`), with the mail queue's design:
//! queued in the transaction that ends the session (`session::ending`), or, for a session with
//! tokens that timed out while nobody used it, when the sender's pass ends it
//! ([`end_timed_out`]: Keycloak sends nothing then, its issue 25171); leased by one sender at a time
//! (so two nodes never both send one); retried with backoff ([`RETRY_BASE_SECONDS`], doubling)
//! up to [`MAX_ATTEMPTS`] times, then failed; each answer kept for the application's page and
//! the doctor's `oidc.logout`.
//!
//! The logout token (§2.4) is a JWT signed with the application's algorithm: `iss`, `aud`,
//! `iat`, `exp`, `jti`, `sub`, `sid` and the back-channel logout event, with `typ`
//! `logout+jwt`, and never a `nonce`. It is posted as `logout_token` in a form body; redirects
//! are not followed (§2.5: the answer is 200 or 204).

use super::application::Applications;
use super::claims;
use super::keys::Keys;
use crate::app::AppState;
use crate::db;
use crate::domain::Realm;
use serde_json::json;
use std::time::Duration;

/// Deliveries claimed per batch.
const BATCH: i64 = 20;
/// A claimed delivery stays invisible to other senders this long (longer than the timeout).
const LEASE_SECONDS: i64 = 120;
/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry's wait; each further one doubles it (30 s, 1 min, 2 min, ... about 8.5 h).
pub const RETRY_BASE_SECONDS: i64 = 30;
/// Attempts before a delivery is given up as failed.
pub const MAX_ATTEMPTS: i64 = 10;
/// How often `serve` looks for due deliveries.
const POLL: Duration = Duration::from_secs(5);
/// How long a logout token is valid (§2.4 asks for a short lifetime).
const TOKEN_SECONDS: i64 = 120;
/// The event that makes a JWT a logout token (§2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What one pass did: the mail queue's summary, since the two queues work alike.
pub use crate::mail::sender::Summary;

/// Ends the sessions that gave tokens to applications and timed out (absolute or idle) without
/// anyone noticing, queueing their logout deliveries and ending their tokens, as an end seen on
/// load would; how many ended.
///
/// # Errors
/// Storage errors.
pub async fn end_timed_out(state: &AppState) -> Result<u64, sqlx::Error> {
    let now = state.clock.unix();
    let mut tx = state.db.begin().await?;
    let mut ended = db::oidc_logout::end_lapsed_with_tokens(&mut *tx, now).await?;
    for (realm, remember, idle) in crate::scheduler::housekeeping::idle_limits(state) {
        ended += db::oidc_logout::end_idle_with_tokens(&mut *tx, realm, remember, now - idle, now)
            .await?;
    }
    if ended > 0 {
        db::oidc_logout::queue_for_sessions_ended_at(&mut *tx, now).await?;
        db::oidc_token::revoke_for_sessions_ended_at(&mut *tx, now).await?;
    }
    tx.commit().await?;
    Ok(ended)
}

/// Ends timed-out sessions with tokens ([`end_timed_out`]), then sends every delivery that is
/// due now, batch after batch.
///
/// # Errors
/// Storage errors (a delivery's own failure is recorded on it).
pub async fn run_once(state: &AppState) -> Result<Summary, sqlx::Error> {
    end_timed_out(state).await?;
    let owner = crate::scheduler::node_id();
    let mut summary = Summary::default();
    loop {
        let now = state.clock.unix();
        let claimed =
            db::oidc_logout::claim_due(&state.db, &owner, now, now + LEASE_SECONDS, BATCH).await?;
        if claimed.is_empty() {
            return Ok(summary);
        }
        let client = client().map_err(|e| sqlx::Error::Protocol(format!("no HTTP client: {e}")))?;
        let mut tasks = tokio::task::JoinSet::new();
        for d in claimed {
            tasks.spawn(deliver(state.clone(), client.clone(), d));
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(Outcome::Sent)) => summary.sent += 1,
                Ok(Ok(Outcome::Retried)) => summary.retried += 1,
                Ok(Ok(Outcome::Failed)) => summary.failed += 1,
                Ok(Err(e)) => return Err(e),
                // The delivery keeps its lease and is sent again after it.
                Err(e) => tracing::warn!(error = %e, "a logout delivery task failed"),
            }
        }
    }
}

/// The process's one client for deliveries, built at the first delivery (a pass with nothing
/// to send, every few seconds, builds nothing). No redirects are followed (§2.5).
fn client() -> reqwest::Result<reqwest::Client> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    crate::net::http::install_crypto_provider();
    let built = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()?;
    Ok(CLIENT.get_or_init(|| built).clone())
}

/// Runs the sender every few seconds until the process ends.
pub async fn run_forever(state: AppState) {
    loop {
        if let Err(e) = run_once(&state).await {
            tracing::warn!(error = %e, "the back-channel logout sender could not read its queue");
        }
        tokio::time::sleep(POLL).await;
    }
}

enum Outcome {
    Sent,
    Retried,
    Failed,
}

/// The logout token for a delivery.
fn token(
    issuer: &str,
    client_id: &str,
    d: &db::oidc_logout::Claimed,
    now: i64,
) -> Result<serde_json::Value, getrandom::Error> {
    let realm = Realm::parse(&d.realm).unwrap_or(Realm::Client);
    let jti = crate::token::generate()?.plain;
    Ok(json!({
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "jti": jti,
        "sub": claims::subject(realm, d.subject_id),
        "sid": claims::sid(&d.session_id_hash),
        "events": { EVENT: {} },
    }))
}

async fn deliver(
    state: AppState,
    client: reqwest::Client,
    d: db::oidc_logout::Claimed,
) -> Result<Outcome, sqlx::Error> {
    let now = state.clock.unix();
    let attempts = d.attempts + 1;
    let result = attempt(&state, &client, &d, now).await;
    let (ok, status, reply) = match result {
        Ok((status, body)) => ((200..300).contains(&status), Some(status), body),
        Err(why) => (false, None, why),
    };
    let (outcome, next_state, next) = if ok {
        (Outcome::Sent, "sent", now)
    } else if attempts >= MAX_ATTEMPTS {
        tracing::warn!(delivery = d.id, attempts, reply = %reply, "back-channel logout failed for good");
        (Outcome::Failed, "failed", now)
    } else {
        (
            Outcome::Retried,
            "queued",
            now + crate::mail::sender::backoff(RETRY_BASE_SECONDS, attempts),
        )
    };
    db::oidc_logout::finish_attempt(
        &state.db,
        d.id,
        next_state,
        attempts,
        next,
        status.map(i64::from),
        &reply,
        now,
    )
    .await?;
    Ok(outcome)
}

/// One POST: the status and the first part of the answer, or why there was none.
async fn attempt(
    state: &AppState,
    client: &reqwest::Client,
    d: &db::oidc_logout::Claimed,
    now: i64,
) -> Result<(u16, String), String> {
    let application = Applications::from(state)
        .find(d.application_id)
        .await
        .map_err(|e| format!("storage: {e}"))?
        .ok_or_else(|| "the application was deleted".to_owned())?;
    let claims = token(
        &state.config.system_url.origin(),
        &application.client_id,
        d,
        now,
    )
    .map_err(|e| format!("no randomness: {e}"))?;
    let key = Keys::from(state)
        .signing(application.signing_alg)
        .await
        .map_err(|e| e.to_string())?;
    let jwt = crate::jose::sign(&claims, &key, Some("logout+jwt")).map_err(|e| e.to_string())?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &jwt)
        .finish();
    let response = client
        .post(&d.uri)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let first: String = body.chars().take(300).collect();
    let reply = if (300..400).contains(&status) {
        format!("{first} (a redirect: the logout URI must answer 200 itself)")
    } else {
        first
    };
    Ok((status, reply))
}

/// A transport failure in words (never the token).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} seconds", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect (is the application up, and the URI right?)".to_owned()
    } else {
        format!("request failed: {e}")
    }
}
