//! The `[log]` section: the output shape (text or JSON lines) and the tracing filter.
//!
//! The subscriber is installed by `crate::cli`; this file only checks that the filter parses, so
//! a typo stops the start with the key named instead of logging nothing. [`RawLog::validate`] is
//! called by [`super::RawConfig::validate`].

use super::{ConfigError, RawLog};

/// Longest filter taken.
const FILTER_MAX: usize = 512;

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
        // Span field filters (`[span{field=value}]`) are refused too: the value is compiled
        // into a regular-expression automaton whose construction can take minutes for a short
        // pattern (found by the same target: `[{[=m*iti....}]` hung the start for more than
        // 10 s; seed fuzz/seeds/config/regression-log-filter-field-pattern). Nothing here
        // needs them; targets and levels are what operators set.
        if !self.filter.is_ascii()
            || self.filter.len() > FILTER_MAX
            || self.filter.contains(['{', '}'])
            || tracing_subscriber::EnvFilter::try_new(&self.filter).is_err()
        {
            return Err(ConfigError::new(
                "log.filter",
                &self.filter,
                "a tracing filter such as info or portcullis=debug,info: targets and levels, without span field filters ({...}), at most 512 characters",
            ));
        }
        Ok(Log {
            format,
            filter: self.filter.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RawLog;

    fn filter(value: &str) -> bool {
        RawLog {
            format: "text".into(),
            filter: value.into(),
        }
        .validate()
        .is_ok()
    }

    #[test]
    fn targets_and_levels_pass_and_field_filters_long_or_non_ascii_ones_are_refused() {
        assert!(filter("info"));
        assert!(filter("portcullis=debug,tower_http=warn,info"));
        assert!(filter("[request]=debug"));
        assert!(!filter("[request{path=/login}]=debug"));
        // The fuzz find: a field pattern whose automaton takes minutes to build.
        assert!(!filter(
            "[{[=m*iti..........................................mezone}]"
        ));
        assert!(!filter(&"a".repeat(513)));
        assert!(!filter("portcullis=débug"));
    }
}
