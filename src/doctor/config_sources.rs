//! `config`: where every effective configuration value came from.

use super::CheckResult;
use crate::app::AppState;

/// Lists each key with its value and source (default, file or environment).
pub fn check(state: &AppState) -> CheckResult {
    let sources = &state.config.sources;
    let count = |prefix: &str| {
        sources
            .iter()
            .filter(|s| s.source.starts_with(prefix))
            .count()
    };
    CheckResult::ok(
        super::id::CONFIG,
        format!(
            "{} keys: {} from a file, {} from the environment, {} defaults.",
            sources.len(),
            count("file"),
            count("env"),
            count("default")
        ),
    )
    .with_details(
        sources
            .iter()
            .map(|s| format!("{} = {} ({})", s.key, s.value, s.source))
            .collect(),
    )
}
