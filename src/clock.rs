//! The only place that reads the time.
//!
//! Every instant Portcullis stores or compares is a UTC [`Timestamp`] obtained from a [`Clock`]
//! held in the application state. Production uses [`SystemClock`]; tests use [`MockClock`] and
//! advance it to cross idle timeouts and token expiries deterministically instead of sleeping.
//! People see times in the one configured [`Zone`]; nothing reads the process's local timezone
//! except [`local_view`], which only records it for the doctor (F13).

use jiff::Timestamp;
use jiff::tz::TimeZone;
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

/// The one configured timezone (setting `timezone`): used to show times to people and to place
/// daily tasks, never to store or compare instants.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

/// What the `timezone` setting accepts, for error messages.
pub const ZONE_HELP: &str = "an IANA timezone name such as UTC, Europe/London or America/New_York \
    (looked up in the system's time zone database, /usr/share/zoneinfo: package tzdata)";

impl Zone {
    /// UTC, the default.
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// Looks a zone up by its IANA name. Fixed offsets and POSIX TZ strings are refused: they
    /// know nothing of daylight-saving changes, which is how daily tasks drift by an hour.
    ///
    /// # Errors
    /// The name is not in the time zone database.
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("utc") {
            return Ok(Self::utc());
        }
        if name.is_empty() || name.starts_with(['+', '-']) || !name.contains('/') {
            return Err(ZONE_HELP.to_owned());
        }
        let tz = jiff::tz::db().get(name).map_err(|_| ZONE_HELP.to_owned())?;
        Ok(Self {
            name: tz.iana_name().unwrap_or(name).to_owned(),
            tz,
        })
    }

    /// The IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's rules.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// The offset from UTC at `at`, in seconds.
    pub fn offset_seconds(&self, at: Timestamp) -> i64 {
        i64::from(self.tz.to_offset(at).seconds())
    }
}

/// An offset from UTC as people write it: `+09:00`, `-05:00`.
pub fn offset_text(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    format!("{sign}{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

/// Formats a stored unix instant for people, in the configured zone, naming the zone's
/// abbreviation so a reader never has to guess ("2026-11-28 14:05 GMT").
pub fn display(unix: i64, zone: &Zone) -> String {
    Timestamp::from_second(unix).map_or_else(
        |_| "an unknown time".to_owned(),
        |t| {
            t.to_zoned(zone.tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        },
    )
}

/// The process's own idea of local time: the `TZ` variable, the local zone's name and its
/// offset now. Recorded for diagnosis (F13) and never used for any decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalView {
    pub tz_env: String,
    pub zone: String,
    pub offset_seconds: i64,
}

/// Reads [`LocalView`] for this process.
pub fn local_view(at: Timestamp) -> LocalView {
    let system = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    LocalView {
        tz_env: std::env::var("TZ").unwrap_or_default(),
        zone: system.iana_name().unwrap_or("unknown").to_owned(),
        offset_seconds: i64::from(system.to_offset(at).seconds()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_clock_advances_and_reports_unix_seconds() {
        let clock = MockClock::new(Timestamp::from_second(1_000).unwrap());
        clock.advance(61);
        assert_eq!(clock.unix(), 1_061);
        assert_eq!(display(0, &Zone::utc()), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn zones_are_iana_names_and_display_follows_daylight_saving() {
        let london = Zone::parse("Europe/London").expect("zone");
        assert_eq!(london.name(), "Europe/London");
        // 2026-07-01 12:00 UTC is 13:00 BST; 2026-11-28 12:00 UTC is 12:00 GMT.
        assert_eq!(display(1_782_907_200, &london), "2026-07-01 13:00 BST");
        assert_eq!(display(1_795_867_200, &london), "2026-11-28 12:00 GMT");
        assert_eq!(Zone::parse("utc").expect("utc").name(), "UTC");
        for bad in [
            "",
            "Mars/Olympus",
            "+05:00",
            "EST5EDT,M3.2.0,M11.1.0",
            "London",
        ] {
            assert!(Zone::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
