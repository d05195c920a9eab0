//! The `[database]` section: which database (SQLite in `data_dir` unless a URL is given), how many
//! connections, whether migrations run at start; the client certificate a PostgreSQL URL names
//! for certificate authentication (present, paired, readable); and [`redact_url`], which keeps
//! the password and an inline private key in a database URL out of every message and log line.
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
        if url.starts_with("postgres") {
            check_client_certificate(&url)?;
        }
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

/// Checks the client certificate a PostgreSQL URL names for certificate authentication
/// (`sslcert` and `sslkey`, docs/deployment.md): both or neither, over TLS, and both files
/// readable now, so a wrong path is reported at start-up and by the doctor under
/// `database.url` instead of as a failed connection later. Only paths are shown, never what
/// the files hold. sqlx reads the files again whenever it opens a connection, which is what
/// lets them be rotated without a restart.
fn check_client_certificate(url: &str) -> Result<(), ConfigError> {
    let Ok(parsed) = Url::parse(url) else {
        // sqlx reports a URL it cannot read when it connects; nothing to check here.
        return Ok(());
    };
    let param = |names: &[&str]| {
        parsed
            .query_pairs()
            .find(|(k, _)| names.contains(&k.as_ref()))
            .map(|(_, v)| v.into_owned())
    };
    let cert = param(&["sslcert", "ssl-cert"]);
    let key = param(&["sslkey", "ssl-key"]);
    let wrong = |allowed: String| Err(ConfigError::new("database.url", &redact_url(url), allowed));
    match (&cert, &key) {
        (None, None) => return Ok(()),
        (Some(_), None) => {
            return wrong(
                "sslcert (the client certificate) needs sslkey (its private key) in the same URL"
                    .into(),
            );
        }
        (None, Some(_)) => {
            return wrong(
                "sslkey (the client's private key) needs sslcert (its certificate) in the same URL"
                    .into(),
            );
        }
        (Some(_), Some(_)) => {}
    }
    if param(&["sslmode", "ssl-mode"]).is_some_and(|m| m == "disable") {
        return wrong(
            "a client certificate (sslcert, sslkey) is sent only over TLS: use sslmode=verify-full with sslrootcert, not sslmode=disable"
                .into(),
        );
    }
    for (name, value) in [("sslcert", cert), ("sslkey", key)] {
        let value = value.unwrap_or_default();
        if is_inline_pem(&value) {
            continue;
        }
        if let Err(e) = std::fs::File::open(&value) {
            return wrong(format!(
                "{name} names a file Portcullis cannot read ({value}: {e}); give the path of the PEM file, readable by the user Portcullis runs as"
            ));
        }
    }
    Ok(())
}

/// Whether a URL parameter holds a PEM document itself rather than a path (sqlx accepts both).
fn is_inline_pem(value: &str) -> bool {
    let value = value.trim();
    value.starts_with("-----BEGIN") && value.ends_with("-----")
}

/// Hides credentials in a database URL before it is shown anywhere: the password (in the
/// authority or a `password` parameter), and a private key given inline as `sslkey` (a path
/// stays, it says where to look and holds nothing secret).
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = Url::parse(url) else {
        return url.to_owned();
    };
    let mut changed = false;
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
        changed = true;
    }
    let secret = |k: &str, v: &str| {
        k == "password" || (matches!(k, "sslkey" | "ssl-key") && is_inline_pem(v))
    };
    if u.query_pairs().any(|(k, v)| secret(&k, &v)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k, &v) {
                    "REDACTED".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        u.to_string()
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_passwords_and_inline_keys_but_keeps_paths() {
        let shown =
            redact_url("postgres://app:s3cret@db/portcullis?password=other&sslmode=verify-full");
        assert!(
            !shown.contains("s3cret") && !shown.contains("other"),
            "{shown}"
        );
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----";
        let url = format!(
            "postgres://app@db/p?sslcert=/etc/portcullis/db.crt&sslkey={}",
            url::form_urlencoded::byte_serialize(pem.as_bytes()).collect::<String>()
        );
        let shown = redact_url(&url);
        assert!(
            !shown.contains("MIIEv") && shown.contains("REDACTED"),
            "{shown}"
        );
        assert!(
            shown.contains("%2Fetc%2Fportcullis%2Fdb.crt")
                || shown.contains("/etc/portcullis/db.crt"),
            "{shown}"
        );
        let path = "postgres://app@db/p?sslcert=/a.crt&sslkey=/a.key";
        assert_eq!(redact_url(path), path);
    }

    #[test]
    fn a_client_certificate_needs_its_key_tls_and_readable_files() {
        let err =
            check_client_certificate("postgres://app@db/p?sslmode=verify-full&sslcert=/x.crt")
                .unwrap_err();
        assert_eq!(err.key, "database.url");
        assert!(err.allowed.contains("needs sslkey"), "{}", err.allowed);
        let err = check_client_certificate(
            "postgres://app@db/p?sslmode=disable&sslcert=/x.crt&sslkey=/x.key",
        )
        .unwrap_err();
        assert!(err.allowed.contains("only over TLS"), "{}", err.allowed);
        let err = check_client_certificate(
            "postgres://app@db/p?sslmode=verify-full&sslcert=/nonexistent/db.crt&sslkey=/nonexistent/db.key",
        )
        .unwrap_err();
        assert!(
            err.allowed.contains("sslcert names a file"),
            "{}",
            err.allowed
        );
        assert!(
            err.allowed.contains("/nonexistent/db.crt"),
            "{}",
            err.allowed
        );
        assert!(check_client_certificate("postgres://app:pw@db/p?sslmode=verify-full").is_ok());
    }
}
