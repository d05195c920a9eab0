//! Delivering the queue: claim due messages under a lease, send, record, retry with backoff.

use super::Outgoing;
use crate::app::AppState;

/// Messages are claimed, and delivered concurrently, in batches of this size (lettre's pool
/// holds up to 10 connections).
const BATCH: i64 = 10;
/// A claimed message stays invisible to other nodes this long (longer than any SMTP timeout).
const LEASE_SECONDS: i64 = 900;

/// A message claimed for delivery: its id, recipient, subject, bodies and attempts so far.
pub use crate::db::mail::Claimed;

/// Why a pass of the sender stopped before the queue was empty.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A delivery task panicked or was cancelled. Its message keeps its lease, so it is sent
    /// again once the lease runs out.
    #[error("a delivery task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

/// What one pass of a delivery queue did (mail here, back-channel logout tokens too).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

impl std::fmt::Display for Summary {
    /// The scheduler's run-log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {}, will retry {}, failed {}",
            self.sent, self.retried, self.failed
        )
    }
}

/// The wait before attempt `n + 1` after `n` failed attempts: base, doubling, at most a day.
pub fn backoff(base: i64, failed_attempts: i64) -> i64 {
    let exponent = u32::try_from((failed_attempts - 1).clamp(0, 20)).unwrap_or(20);
    base.saturating_mul(1_i64 << exponent).min(86_400)
}

/// What became of one delivery attempt.
enum Outcome {
    Sent,
    Retried,
    Failed,
}

/// Sends one claimed message and records the attempt.
async fn deliver(state: AppState, m: Claimed) -> Result<Outcome, sqlx::Error> {
    let config = &state.config.mail;
    let message = Outgoing {
        to: m.to_addr.clone(),
        subject: m.subject,
        text: m.text_body,
        html: m.html_body,
    };
    let result = state.mailer.send(&message).await;
    let now = state.clock.unix();
    let attempts = m.attempts + 1;
    let (ok, code, reply) = match &result {
        Ok(r) => (true, r.code, r.text.clone()),
        Err(f) => (false, f.code, f.text.clone()),
    };
    let reply_line = code.map_or_else(|| reply.clone(), |c| format!("{c} {reply}"));
    crate::db::mail::record_attempt(&state.db, m.id, now, ok, code.map(i64::from), &reply).await?;
    let (outcome, state_name, next) = if ok {
        (Outcome::Sent, "sent", now)
    } else if attempts >= i64::from(config.max_attempts) {
        tracing::warn!(message_id = m.id, attempts, reply = %reply_line, "mail delivery failed for good");
        (Outcome::Failed, "failed", now)
    } else {
        tracing::info!(message_id = m.id, attempts, reply = %reply_line, "mail delivery failed; will retry");
        (
            Outcome::Retried,
            "queued",
            now + backoff(config.retry_base_seconds, attempts),
        )
    };
    crate::db::mail::finish_attempt(
        &state.db,
        m.id,
        state_name,
        attempts,
        next,
        &reply_line,
        now,
    )
    .await?;
    Ok(outcome)
}

/// Leases the next due messages (at most one batch) to `owner` for [`LEASE_SECONDS`]. A message
/// leased to one owner is invisible to every other until its lease runs out, so no two senders
/// (two nodes, or `cron` and a server) send it.
///
/// # Errors
/// Storage errors.
pub async fn claim(state: &AppState, owner: &str) -> Result<Vec<Claimed>, sqlx::Error> {
    let now = state.clock.unix();
    crate::db::mail::claim_due(&state.db, owner, now, now + LEASE_SECONDS, BATCH).await
}

/// Sends every message that is due now. Does nothing while `mail.enabled = false`.
///
/// The messages of a batch are delivered concurrently: lettre keeps a pool of SMTP connections,
/// and one message at a time would leave the sender waiting on network round trips (on loopback,
/// about 40 ms each, since lettre does not disable Nagle's algorithm).
///
/// # Errors
/// Storage errors and a failed delivery task (a transport failure is recorded on the message,
/// not returned).
pub async fn run_once(state: &AppState) -> Result<Summary, SendError> {
    let mut summary = Summary::default();
    if !state.config.mail.enabled {
        return Ok(summary);
    }
    let owner = crate::scheduler::node_id();
    loop {
        let claimed = claim(state, &owner).await?;
        if claimed.is_empty() {
            return Ok(summary);
        }
        let mut deliveries = tokio::task::JoinSet::new();
        for m in claimed {
            deliveries.spawn(deliver(state.clone(), m));
        }
        while let Some(joined) = deliveries.join_next().await {
            match joined?? {
                Outcome::Sent => summary.sent += 1,
                Outcome::Retried => summary.retried += 1,
                Outcome::Failed => summary.failed += 1,
            }
        }
    }
}

/// Runs the sender every `mail.poll_seconds` until the process ends.
pub async fn run_forever(state: AppState) {
    let every = std::time::Duration::from_secs(state.config.mail.poll_seconds);
    loop {
        if let Err(e) = run_once(&state).await {
            tracing::warn!(error = %e, "the mail sender could not read the queue");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let waits: Vec<i64> = (1..=8).map(|n| super::backoff(60, n)).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3840, 7680]);
        assert_eq!(super::backoff(3600, 10), 86_400);
    }
}
