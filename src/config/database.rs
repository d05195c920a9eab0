//! The `[database]` section: which database (SQLite in `data_dir` unless a URL is given), how many
//! connections, whether migrations run at start; and [`redact_url`], which keeps the password in
//! a database URL out of every message and log line.
//!
//! Connecting is `crate::db`'s business; this file only decides the URL. [`RawDatabase::validate`]
//! is called by [`super::RawConfig::validate`].

use super::{ConfigError, RawDatabase};
use std::path::Path;
use url::Url;

/// The validated `[database]` section.
pub(super) struct Database {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

impl RawDatabase {
    /// Resolves an empty URL to `portcullis.db` in `data_dir`, then checks the scheme and the
    /// connection count.
    pub(super) fn validate(&self, data_dir: &Path) -> Result<Database, ConfigError> {
        let url = if self.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("portcullis.db").display()
            )
        } else if self.url.starts_with("sqlite:")
            || self.url.starts_with("postgres://")
            || self.url.starts_with("postgresql://")
        {
            self.url.clone()
        } else {
            return Err(ConfigError::new(
                "database.url",
                &redact_url(&self.url),
                "a sqlite: URL such as sqlite://./data/portcullis.db, or postgres://USER:PASSWORD@HOST/DATABASE",
            ));
        };
        if !(1..=1000).contains(&self.max_connections) {
            return Err(ConfigError::new(
                "database.max_connections",
                &self.max_connections,
                "a number from 1 to 1000",
            ));
        }
        Ok(Database {
            url,
            max_connections: self.max_connections,
            migrate_on_start: self.migrate_on_start,
        })
    }
}

/// Hides credentials in a database URL before it is shown anywhere.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
