//! The `[scheduler]` and `[automation]` sections: whether `serve` runs the scheduler, the period
//! of the cleanup tasks, and the local hour at which daily tasks become due.
//!
//! The tasks, leases and run records are `crate::scheduler`'s; this file only bounds their
//! timing. Both validators are called by [`super::RawConfig::validate`].

use super::{ConfigError, RawAutomation, RawScheduler};

impl RawScheduler {
    /// The period of the cleanup tasks, in seconds.
    pub(super) fn cleanup_interval_seconds(&self) -> Result<i64, ConfigError> {
        match self.cleanup_interval_minutes {
            // At most an hour, so a run is recorded at least hourly and cron.heartbeat
            // (quiet for two hours = warning) cannot fire on a healthy scheduler.
            m @ 1..=60 => Ok(i64::from(m) * 60),
            m => Err(ConfigError::new(
                "scheduler.cleanup_interval_minutes",
                &m,
                "a number of minutes from 1 to 60",
            )),
        }
    }
}

impl RawAutomation {
    /// The local hour (in the configured zone) at which daily tasks become due.
    pub(super) fn validate(&self) -> Result<i8, ConfigError> {
        match self.daily_hour {
            h @ 0..=23 => Ok(i8::try_from(h).unwrap_or(3)),
            h => Err(ConfigError::new(
                "automation.daily_hour",
                &h,
                "an hour from 0 to 23 (in the configured timezone)",
            )),
        }
    }
}
