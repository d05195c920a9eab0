//! Loading: defaults, then a TOML file, then `PORTCULLIS__SECTION__KEY` variables, merged with
//! figment into a [`RawConfig`], and where each key's effective value came from.
//!
//! This file owns the layers and their order, the environment provider, turning figment's
//! errors into a [`ConfigError`] that names the key, and the [`KeySource`] list the doctor's
//! `config` check shows (with secrets redacted). It checks no value: [`RawConfig::validate`]
//! (in `mod.rs`, over one validator per section) does that.

use super::{Config, ConfigError, RawConfig};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::Serialize;
use std::path::Path;

/// The environment variable prefix; sections and keys are separated by a double underscore.
pub const ENV_PREFIX: &str = "PORTCULLIS__";

/// One configuration key, its effective value (secrets redacted) and its origin.
#[derive(Debug, Clone, Serialize)]
pub struct KeySource {
    pub key: String,
    pub value: String,
    pub source: String,
}

/// Loads configuration from defaults, an optional file and the environment.
///
/// # Errors
/// Returns a [`ConfigError`] naming the key for unreadable files, unknown keys, wrong types and
/// invalid values.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    load_from(file, std::env::vars())
}

/// [`load`] over an explicit set of environment variables.
fn load_from(
    file: Option<&Path>,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let figment = figment(file, vars)?;
    let raw: RawConfig = figment.extract().map_err(|e| from_figment(&e))?;
    let mut config = raw.validate()?;
    config.sources = sources(&figment, &raw);
    Ok(config)
}

/// Builds the merged figment from a file and an explicit set of environment variables (tests
/// pass their own instead of mutating the process environment).
///
/// # Errors
/// Fails when the named file does not exist.
pub fn figment(
    file: Option<&Path>,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::new(
                "--config",
                &path.display(),
                "the path of a readable TOML file",
            ));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    for (name, value) in vars {
        if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
            figment = figment.merge(EnvVar {
                key: rest
                    .split("__")
                    .collect::<Vec<_>>()
                    .join(".")
                    .to_lowercase(),
                value,
            });
        }
    }
    Ok(figment)
}

/// One `PORTCULLIS__SECTION__KEY` variable as a figment provider. Figment's own `Env` reads the
/// process environment directly; taking the variables as data keeps tests free of global state.
struct EnvVar {
    key: String,
    value: String,
}

impl figment::Provider for EnvVar {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        // Parse like figment's Env: `8080` is a number, `true` a boolean, `[..]` an array.
        let value: figment::value::Value = self
            .value
            .parse()
            .unwrap_or_else(|_| figment::value::Value::from(self.value.clone()));
        let dict = match figment::util::nest(&self.key, value) {
            figment::value::Value::Dict(_, dict) => dict,
            _ => figment::value::Dict::new(),
        };
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// A dotted key as the operator can find it in the file: a part that is empty or holds
/// spaces or dots is written quoted, as TOML writes it (`""`, `"a b"`), since a bare empty
/// part would name nothing at all.
fn dotted(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || p.contains(|c: char| c.is_whitespace() || c == '.' || c == '"') {
                format!("{p:?}")
            } else {
                p.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn from_figment(error: &figment::Error) -> ConfigError {
    use figment::error::Kind;
    let key = if error.path.is_empty() {
        "(file)".to_owned()
    } else {
        dotted(&error.path)
    };
    match &error.kind {
        Kind::UnknownField(field, expected) => {
            // figment's path already ends with the unknown field in current versions.
            let field = dotted(std::slice::from_ref(field));
            let key = if key == "(file)" {
                field
            } else if key.ends_with(field.as_str()) {
                key
            } else {
                format!("{key}.{field}")
            };
            ConfigError::new(
                &key,
                &"(set)",
                format!("no such key; keys here are: {}", expected.join(", ")),
            )
        }
        Kind::InvalidType(actual, expected) => {
            ConfigError::new(&key, &actual, format!("a value of type {expected}"))
        }
        Kind::InvalidValue(actual, expected) => ConfigError::new(&key, &actual, expected.clone()),
        other => ConfigError::new(&key, &"(unreadable)", other.to_string()),
    }
}

fn sources(figment: &Figment, raw: &RawConfig) -> Vec<KeySource> {
    let value = serde_json::to_value(raw).unwrap_or_default();
    let mut out = Vec::new();
    flatten("", &value, &mut out);
    out.into_iter()
        .map(|(key, value)| {
            let source = figment.find_metadata(&key).map_or_else(
                || "default".to_owned(),
                |m| match &m.source {
                    Some(figment::Source::File(p)) => format!("file {}", p.display()),
                    _ if m.name.contains("environment") => {
                        format!("env {ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
                    }
                    _ => "default".to_owned(),
                },
            );
            let value = redacted(&key, value);
            KeySource { key, value, source }
        })
        .collect()
}

/// The sources of a configuration built in code (tests, embedding), which reports its values as
/// such; [`load`] replaces them with the real origin of each key.
pub(super) fn set_in_code(raw: &RawConfig) -> Vec<KeySource> {
    let mut flat = Vec::new();
    flatten(
        "",
        &serde_json::to_value(raw).unwrap_or_default(),
        &mut flat,
    );
    flat.into_iter()
        .map(|(key, value)| KeySource {
            value: redacted(&key, value),
            key,
            source: "set in code".into(),
        })
        .collect()
}

/// The value as the doctor may show it: passwords, secrets and the licence key never appear.
fn redacted(key: &str, value: String) -> String {
    if key.contains("password") || key.contains("secret") || key == "license.key" {
        "(redacted)".to_owned()
    } else {
        value
    }
}

/// Every leaf of `value` as a dotted key and its JSON text, in the order serde writes them.
pub(super) fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            flatten(&key, v, out);
        }
    } else {
        out.push((prefix.to_owned(), value.to_string()));
    }
}

/// Loads `file` (TOML text, written to a temporary file) and `vars` as `portcullis` would, for
/// the tests of every section.
#[cfg(test)]
pub(super) fn load_with(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
    }
    let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    load_from(file.map(|_| path.as_path()), vars)
}

#[cfg(test)]
mod tests {
    use super::load_with;

    #[test]
    fn defaults_listen_on_loopback_8080_with_sqlite_in_data() {
        let c = load_with(None, &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.system_url.to_string(), "http://127.0.0.1:8080/");
        assert!(c.database_url.starts_with("sqlite://./data/portcullis.db"));
        assert!(c.sources.iter().all(|s| s.source == "default"));
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let c = load_with(
            Some("[server]\nlisten = \"127.0.0.1:9000\"\nsystem_url = \"https://a.example/\"\n"),
            &[("PORTCULLIS__SERVER__SYSTEM_URL", "https://b.example/")],
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.system_url.host(), "b.example");
        let src = |k: &str| {
            c.sources
                .iter()
                .find(|s| s.key == k)
                .unwrap()
                .source
                .clone()
        };
        assert!(src("server.listen").starts_with("file "));
        assert_eq!(
            src("server.system_url"),
            "env PORTCULLIS__SERVER__SYSTEM_URL"
        );
        assert_eq!(src("data_dir"), "default");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_by_name() {
        let e = load_with(Some("[server]\nlistn = \"x\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "server.listn");
        assert!(e.allowed.contains("listen"));
        let e = load_with(Some("[session]\nclient_idle_minutes = \"soon\"\n"), &[]).unwrap_err();
        assert_eq!(e.key, "session.client_idle_minutes");
        let e = load_with(Some("this is not toml"), &[]).unwrap_err();
        assert!(!e.allowed.is_empty());
    }

    /// Found by the `config` fuzz target: `"" = ""` was refused as ` = "(set)"`, naming no key.
    #[test]
    fn an_empty_or_spaced_key_is_named_quoted() {
        let e = load_with(Some("\t\"\"=\"\"\t"), &[]).unwrap_err();
        assert_eq!(e.key, "\"\"");
        assert!(e.allowed.contains("no such key"), "{e}");
        let e = load_with(Some("[server]\n\"li sten\" = 1\n"), &[]).unwrap_err();
        assert_eq!(e.key, "server.\"li sten\"");
    }
}
