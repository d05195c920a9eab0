//! Diagnostics: what the request pipeline observes for the doctor, and how a lost database is
//! recognised and reported.
//!
//! The pipeline's steps (`web::middleware::*`) count what goes wrong on the way to a handler
//! (forms refused by CSRF protection, requests on a foreign origin, a dropped sign-in cookie,
//! Cloudflare traffic while its ranges are not trusted, unreadable forwarding headers) through
//! the [`Diagnostics`] service; the doctor's checks read the totals back through it. Counters
//! are hourly buckets in the database (`db::counter`), so a doctor in another process sees what
//! the server saw. Events that can occur on every request go through [`Diagnostics::note`],
//! batched per kind by [`Events`]; rare ones are written at once by [`Diagnostics::record`].
//!
//! Nothing here knows HTTP; [`outage`] tells the error page which storage errors mean "the
//! database is unreachable".

mod event;
pub mod outage;

pub use crate::db::counter::CounterSum;
pub use event::{Batch, Events, FLUSH_SECONDS};

use crate::app::AppState;
use std::sync::Arc;

/// The counters the pipeline keeps. The stored names are the interface the doctor and old
/// databases share; they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// A state-changing request refused by CSRF protection; the label is the kind.
    CsrfFailure,
    /// A request on another origin than the System URL; the label is that origin.
    NonCanonicalOrigin,
    /// A session cookie that did not come back (after sign-in, or a form over plain http).
    CookieLoss,
    /// A request through Cloudflare while its ranges are not trusted.
    CloudflareUntrusted,
    /// A forwarding header entry that could not be parsed; the label is the header.
    MalformedForwarding,
    /// Forward authentication asked by a peer that is not a trusted proxy; the label is it.
    ForwardAuthUntrusted,
    /// Forward authentication asked without a readable original URL; the label is the endpoint.
    ForwardAuthNoUrl,
    /// Forward authentication asked about a host no rule names; the label is the host.
    ForwardAuthUnknownHost,
    /// A browser bounced back signed in for a host that did not see its session (F18).
    ForwardAuthLoop,
}

impl Counter {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Self::CsrfFailure => "csrf.failure",
            Self::NonCanonicalOrigin => "origin.non_canonical",
            Self::CookieLoss => "session.cookie_loss",
            Self::CloudflareUntrusted => "proxy.cloudflare_untrusted",
            Self::MalformedForwarding => "proxy.malformed",
            Self::ForwardAuthUntrusted => "forward_auth.untrusted_peer",
            Self::ForwardAuthNoUrl => "forward_auth.no_original_url",
            Self::ForwardAuthUnknownHost => "forward_auth.unknown_host",
            Self::ForwardAuthLoop => "forward_auth.loop",
        }
    }
}

/// The diagnostics service: counts events for the doctor and reads their totals.
#[derive(Clone)]
pub struct Diagnostics {
    db: crate::db::Pool,
    clock: Arc<dyn crate::clock::Clock>,
    events: Arc<Events>,
}

impl From<&AppState> for Diagnostics {
    fn from(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            clock: state.clock.clone(),
            events: state.events.clone(),
        }
    }
}

impl Diagnostics {
    /// Counts one event of `counter` at once, with a sample (never a secret). Storage errors are
    /// logged, never raised: diagnostics must not break the request they observe.
    pub async fn record(&self, counter: Counter, label: &str, sample: &str) {
        let now = self.clock.unix();
        if let Err(e) =
            crate::db::counter::record(&self.db, counter.name(), label, sample, now).await
        {
            tracing::warn!(error = %e, counter = counter.name(), "could not record a diagnostic event");
        }
    }

    /// Counts one event that may happen on every request: the first of a kind is written at
    /// once, later ones at most every [`FLUSH_SECONDS`] as one added count.
    pub async fn note(&self, counter: Counter, label: &str, sample: &str) {
        let now = self.clock.unix();
        let Some(b) = self.events.note(counter.name(), label, sample, now) else {
            return;
        };
        if let Err(e) =
            crate::db::counter::record_many(&self.db, b.name, &b.label, &b.sample, b.count, now)
                .await
        {
            tracing::warn!(error = %e, counter = b.name, "could not record a diagnostic event");
        }
    }

    /// Per-label totals of `counter` since `since`, largest first (the doctor's reading).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn totals_since(
        &self,
        counter: Counter,
        since: i64,
    ) -> Result<Vec<CounterSum>, sqlx::Error> {
        crate::db::counter::sum_since(&self.db, counter.name(), since).await
    }
}
