//! The `[log]` section: the output shape (text or JSON lines) and the tracing filter.
//!
//! The subscriber is installed by `crate::cli`; this file only checks that the filter parses, so
//! a typo stops the start with the key named instead of logging nothing. [`RawLog::validate`] is
//! called by [`super::RawConfig::validate`].

use super::{ConfigError, RawLog};

/// Log output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated `[log]` section.
pub(super) struct Log {
    pub format: LogFormat,
    pub filter: String,
}

impl RawLog {
    /// Checks the format, then the filter.
    pub(super) fn validate(&self) -> Result<Log, ConfigError> {
        let format = match self.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(ConfigError::new("log.format", &other, "text or json")),
        };
        // Filters are ASCII (targets, levels, span names). Checked first because the filter
        // parser panics on some non-ASCII input instead of refusing it (found by the `config`
        // fuzz target: a char boundary in tracing-subscriber 0.3.23's directive parser; the
        // seed fuzz/seeds/config/regression-non-ascii-log-filter replays it in CI).
        if !self.filter.is_ascii() || tracing_subscriber::EnvFilter::try_new(&self.filter).is_err()
        {
            return Err(ConfigError::new(
                "log.filter",
                &self.filter,
                "a tracing filter such as info or portcullis=debug,info",
            ));
        }
        Ok(Log {
            format,
            filter: self.filter.clone(),
        })
    }
}
