//! The only place that reads the time.
//!
//! Every instant Portcullis stores or compares is a UTC [`Timestamp`] obtained from a [`Clock`]
//! held in the application state. Production uses [`SystemClock`]; tests use [`MockClock`] and
//! advance it to cross idle timeouts and token expiries deterministically instead of sleeping.
//! Nothing here (or anywhere else) reads the process's local timezone.

use jiff::Timestamp;
use std::sync::Mutex;

/// A source of the current instant.
///
/// Implementations must be cheap (called on every request) and must return UTC instants; they
/// may move backwards only in tests.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// The current instant as whole seconds since the Unix epoch, the form stored in the database.
    fn unix(&self) -> i64 {
        self.now().as_second()
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; used by tests.
#[derive(Debug)]
pub struct MockClock {
    now: Mutex<Timestamp>,
}

impl MockClock {
    /// A mock clock starting at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `seconds` (backwards when negative).
    pub fn advance(&self, seconds: i64) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = now
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap_or(*now);
    }
}

impl MockClock {
    /// Sets the clock to `to` (tests that share a database with a real-clock process).
    pub fn set(&self, to: Timestamp) {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }
}

impl Clock for MockClock {
    fn now(&self) -> Timestamp {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Formats a stored unix instant for people, in UTC until the timezone setting arrives.
pub fn display(unix: i64) -> String {
    Timestamp::from_second(unix).map_or_else(
        |_| "an unknown time".to_owned(),
        |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_advances_and_reports_unix_seconds() {
        let clock = MockClock::new(Timestamp::from_second(1_000).unwrap());
        clock.advance(61);
        assert_eq!(clock.unix(), 1_061);
        assert_eq!(display(0), "1970-01-01 00:00 UTC");
    }
}
