//! The `[audit]` section: how long audit events are kept.
//!
//! The events are written by `crate::db::audit` and removed past retention by the scheduler's
//! housekeeping; this file only bounds the period. [`RawAudit::validate`] is called by
//! [`super::RawConfig::validate`].

use super::{ConfigError, RawAudit};

impl RawAudit {
    /// The retention in days; `None` (0) keeps events forever.
    pub(super) fn validate(&self) -> Result<Option<u32>, ConfigError> {
        match self.retention_days {
            0 => Ok(None),
            d @ 1..=36_500 => Ok(Some(d)),
            d => Err(ConfigError::new(
                "audit.retention_days",
                &d,
                "0 (keep forever) or a number of days from 1 to 36500",
            )),
        }
    }
}
