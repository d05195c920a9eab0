//! Duo credentials: their shapes, and legacy credentials refused with the way out (F12).
//!
//! A legacy Duo integration (iframe "Web SDK v2" or Auth API: Integration Key `ikey`, Secret Key
//! `skey`, application key `akey`) looks almost like a Universal Prompt one, and only fails later
//! at Duo with "invalid_client: Integration type does not support frameless access". Refusing it
//! when the settings are loaded, with the steps to create the right application, turns that late
//! and cryptic failure into an early and actionable one.

use secrecy::SecretString;

/// What a legacy credential is and how to get the right one (F12). Also shown when Duo answers
/// `invalid_client`, which is what it says to legacy credentials.
pub const LEGACY_CREDENTIALS_HELP: &str = "Credentials of a legacy Duo application (Integration \
Key / Secret Key / application key, from the iframe \"Web SDK v2\" or the Auth API) do not work \
with Duo's Universal Prompt, which refuses them with \"invalid_client: Integration type does not \
support frameless access\". To fix it: in the Duo Admin Panel, go to Applications > Protect an \
Application, choose \"Web SDK\", and copy its Client ID, Client Secret and API hostname into \
these settings.";

/// Field names that only legacy integrations have.
const LEGACY_FIELDS: [&str; 6] = [
    "ikey",
    "skey",
    "akey",
    "integration_key",
    "secret_key",
    "application_key",
];

/// The longest value echoed back in an error message.
const ECHO_MAX: usize = 80;

/// A Universal Prompt ("Web SDK") application's credentials, shape-checked.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: SecretString,
    /// A bare host name, e.g. `api-xxxxxxxx.duosecurity.com`, lower-cased.
    pub api_hostname: String,
}

/// Why submitted credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "legacy Duo credentials (ikey, skey, akey) are not accepted. {LEGACY_CREDENTIALS_HELP}"
    )]
    Legacy,
    /// `value` is what was submitted, shortened; for the client secret only its length.
    #[error("{field} {value} is not accepted: {allowed}")]
    Invalid {
        field: &'static str,
        value: String,
        allowed: String,
    },
}

/// Checks submitted `(name, value)` pairs (`client_id`, `client_secret`, `api_hostname`; values
/// trimmed; other names ignored) and returns the credentials.
///
/// # Errors
/// [`SettingsError::Legacy`] when any field has a legacy name, whatever its value; otherwise
/// [`SettingsError::Invalid`] for the first field that is missing, repeated or mis-shaped.
pub fn validate(fields: &[(String, String)]) -> Result<Credentials, SettingsError> {
    if fields.iter().any(|(name, _)| {
        LEGACY_FIELDS
            .iter()
            .any(|legacy| name.trim().eq_ignore_ascii_case(legacy))
    }) {
        return Err(SettingsError::Legacy);
    }
    let client_id = field(fields, "client_id")?;
    let client_secret = field(fields, "client_secret")?;
    let api_hostname = field(fields, "api_hostname")?;

    if client_id.len() != 20 || !client_id.bytes().all(is_upper_alphanumeric) {
        return Err(invalid(
            "client_id",
            echo(client_id),
            "exactly 20 characters, capital letters A-Z and digits (Duo's start with DI)",
        ));
    }
    let secret_ok = client_secret.bytes().all(|b| b.is_ascii_alphanumeric());
    if client_secret.len() != 40 || !secret_ok {
        let count = client_secret.chars().count();
        // Never echo the secret: its length (and whether it has other characters) is enough.
        let value = if secret_ok {
            format!("({count} characters)")
        } else {
            format!("({count} characters, not all letters and digits)")
        };
        return Err(invalid(
            "client_secret",
            value,
            "exactly 40 characters, letters and digits",
        ));
    }
    let api_hostname = hostname(api_hostname)?;
    Ok(Credentials {
        client_id: client_id.to_owned(),
        client_secret: SecretString::from(client_secret.to_owned()),
        api_hostname,
    })
}

/// The test-only override of the API base URL (a fake Duo server on this machine).
///
/// # Errors
/// A message for anything but an `http`/`https` URL on a loopback address or `localhost`,
/// without credentials, path, query or fragment.
pub fn test_api_url(value: &str) -> Result<url::Url, String> {
    const TEST_ONLY: &str = "the Duo API URL override is test-only: it is accepted only for a \
fake Duo server on this machine (http or https, host 127.0.0.1, ::1 or localhost)";
    let url = url::Url::parse(value.trim()).map_err(|e| format!("{TEST_ONLY}; not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{TEST_ONLY}; the scheme {:?} is not", url.scheme()));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if !loopback {
        return Err(format!(
            "{TEST_ONLY}; the host {:?} is not",
            url.host_str().unwrap_or_default()
        ));
    }
    // The endpoints are appended to the origin, so anything after it would be silently lost.
    if !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(format!(
            "{TEST_ONLY}; give only scheme, host and port (no user, path, query or fragment)"
        ));
    }
    Ok(url)
}

/// The trimmed value of the one field called `name`.
fn field<'a>(fields: &'a [(String, String)], name: &'static str) -> Result<&'a str, SettingsError> {
    let mut found = fields.iter().filter(|(n, _)| n.trim() == name);
    match (found.next(), found.next()) {
        (Some((_, value)), None) if !value.trim().is_empty() => Ok(value.trim()),
        (None | Some(_), None) => Err(invalid(name, "(empty)".to_owned(), "a value is required")),
        (_, Some(_)) => Err(invalid(
            name,
            "(given more than once)".to_owned(),
            "exactly one value",
        )),
    }
}

/// Checks an API hostname: `api-` + letters and digits, then `.duosecurity.com` (optionally
/// with subdomains between, as Duo's test hosts have). Names a scheme, path or port to remove.
fn hostname(value: &str) -> Result<String, SettingsError> {
    const ALLOWED: &str = "a host name like api-XXXXXXXX.duosecurity.com";
    let bad = |why: &str| invalid("api_hostname", echo(value), &format!("{ALLOWED}; {why}"));
    if let Some((scheme, _)) = value.split_once("://") {
        return Err(bad(&format!("remove the scheme \"{scheme}://\"")));
    }
    if let Some(at) = value.find(['/', '?', '#']) {
        return Err(bad(&format!("remove the path \"{}\"", &value[at..])));
    }
    if value.contains(':') {
        return Err(bad("remove the port"));
    }
    let host = value.to_ascii_lowercase();
    let shaped = host
        .strip_suffix(".duosecurity.com")
        .and_then(|rest| rest.strip_prefix("api-"))
        .is_some_and(|rest| {
            let mut labels = rest.split('.');
            let first = labels.next().unwrap_or_default();
            !first.is_empty()
                && first.bytes().all(|b| b.is_ascii_alphanumeric())
                && labels.all(|label| {
                    !label.is_empty()
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        });
    if !shaped {
        return Err(bad(
            "copy it from the application's page in the Duo Admin Panel",
        ));
    }
    Ok(host)
}

fn is_upper_alphanumeric(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// A submitted value for an error message: quoted, shortened, never a secret.
fn echo(value: &str) -> String {
    if value.chars().count() > ECHO_MAX {
        let head: String = value.chars().take(ECHO_MAX).collect();
        format!("{head:?}...")
    } else {
        format!("{value:?}")
    }
}

fn invalid(field: &'static str, value: String, allowed: &str) -> SettingsError {
    SettingsError::Invalid {
        field,
        value,
        allowed: allowed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    const ID: &str = "DIABCDEFGHIJ01234567";
    const SECRET: &str = "abcdefghijABCDEFGHIJ0123456789abcdefghij";
    const HOST: &str = "api-1234abcd.duosecurity.com";

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn good_with(name: &str, value: &str) -> Vec<(String, String)> {
        let mut all = fields(&[
            ("client_id", ID),
            ("client_secret", SECRET),
            ("api_hostname", HOST),
        ]);
        for pair in &mut all {
            if pair.0 == name {
                value.clone_into(&mut pair.1);
            }
        }
        all
    }

    fn refused_field(result: Result<Credentials, SettingsError>) -> (&'static str, String, String) {
        match result {
            Err(SettingsError::Invalid {
                field,
                value,
                allowed,
            }) => (field, value, allowed),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn good_credentials_are_accepted_and_trimmed() {
        let creds = validate(&fields(&[
            ("client_id", &format!("  {ID} ")),
            ("client_secret", &format!("{SECRET}\n")),
            ("api_hostname", " API-1234ABCD.duosecurity.com "),
            ("csrf_token", "ignored"),
        ]))
        .unwrap();
        assert_eq!(creds.client_id, ID);
        assert_eq!(creds.client_secret.expose_secret(), SECRET);
        assert_eq!(creds.api_hostname, HOST);
        // Debug never shows the secret.
        assert!(!format!("{creds:?}").contains(SECRET));
    }

    #[test]
    fn any_twenty_capitals_and_digits_are_a_client_id() {
        assert!(validate(&good_with("client_id", "XY0123456789ABCDEFGH")).is_ok());
    }

    #[test]
    fn legacy_field_names_are_refused_with_the_steps() {
        for name in [
            "ikey",
            "skey",
            "akey",
            "integration_key",
            "secret_key",
            "application_key",
            "IKEY",
        ] {
            let mut all = good_with("none", "");
            all.push((name.to_owned(), "DIABCDEFGHIJ01234567".to_owned()));
            assert_eq!(validate(&all).unwrap_err(), SettingsError::Legacy, "{name}");
        }
        let text = SettingsError::Legacy.to_string();
        for needle in [
            "Integration type does not support frameless access",
            "Web SDK v2",
            "Auth API",
            "Applications > Protect an Application",
            "\"Web SDK\"",
            "Client ID, Client Secret and API hostname",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }

    #[test]
    fn a_legacy_set_alone_is_refused_before_shapes() {
        let all = fields(&[("ikey", ID), ("skey", SECRET), ("akey", &"a".repeat(40))]);
        assert_eq!(validate(&all).unwrap_err(), SettingsError::Legacy);
    }

    #[test]
    fn missing_empty_and_repeated_fields_are_named() {
        let (field, value, _) = refused_field(validate(&fields(&[
            ("client_secret", SECRET),
            ("api_hostname", HOST),
        ])));
        assert_eq!((field, value.as_str()), ("client_id", "(empty)"));
        let (field, _, _) = refused_field(validate(&good_with("api_hostname", "   ")));
        assert_eq!(field, "api_hostname");
        let mut twice = good_with("none", "");
        twice.push(("client_secret".into(), SECRET.into()));
        let (field, value, _) = refused_field(validate(&twice));
        assert_eq!(field, "client_secret");
        assert!(!value.contains(SECRET));
    }

    #[test]
    fn client_id_shapes() {
        for bad in [
            "DIABCDEFGHIJ0123456",   // 19
            "DIABCDEFGHIJ012345678", // 21
            "diabcdefghij01234567",  // lower case
            "DIABCDEFGHIJ0123456-",  // punctuation
        ] {
            let (field, value, allowed) = refused_field(validate(&good_with("client_id", bad)));
            assert_eq!(field, "client_id");
            assert_eq!(value, format!("{bad:?}"));
            assert!(allowed.contains("exactly 20 characters"), "{allowed}");
        }
    }

    #[test]
    fn client_secret_shapes_never_echo_the_secret() {
        let long = format!("{SECRET}x");
        let punctuated = format!("{}!", &SECRET[..39]);
        for (bad, shown) in [
            (long.as_str(), "(41 characters)"),
            (&SECRET[..39], "(39 characters)"),
            (
                punctuated.as_str(),
                "(40 characters, not all letters and digits)",
            ),
        ] {
            let error = validate(&good_with("client_secret", bad)).unwrap_err();
            let (field, value, allowed) = refused_field(Err(error.clone()));
            assert_eq!(field, "client_secret");
            assert_eq!(value, shown);
            assert!(allowed.contains("exactly 40 characters"));
            assert!(!error.to_string().contains(&bad[..20]), "{error}");
        }
    }

    #[test]
    fn api_hostname_shapes() {
        for good in [
            "api-1234abcd.duosecurity.com",
            "api-XXXXXXX.test.duosecurity.com",
        ] {
            assert!(validate(&good_with("api_hostname", good)).is_ok(), "{good}");
        }
        for (bad, hint) in [
            (
                "https://api-1234abcd.duosecurity.com",
                "remove the scheme \"https://\"",
            ),
            ("api-1234abcd.duosecurity.com/", "remove the path \"/\""),
            (
                "api-1234abcd.duosecurity.com/oauth/v1",
                "remove the path \"/oauth/v1\"",
            ),
            ("api-1234abcd.duosecurity.com:443", "remove the port"),
            ("api-1234abcd.example.com", "Duo Admin Panel"),
            ("1234abcd.duosecurity.com", "Duo Admin Panel"),
            ("api-.duosecurity.com", "Duo Admin Panel"),
            ("api-12_4.duosecurity.com", "Duo Admin Panel"),
            ("api-1234.evil.com.duosecurity.com.evil", "Duo Admin Panel"),
            ("api-1234..duosecurity.com", "Duo Admin Panel"),
        ] {
            let (field, value, allowed) = refused_field(validate(&good_with("api_hostname", bad)));
            assert_eq!(field, "api_hostname");
            assert_eq!(value, format!("{bad:?}"));
            assert!(
                allowed.contains("api-XXXXXXXX.duosecurity.com"),
                "{allowed}"
            );
            assert!(allowed.contains(hint), "{bad}: {allowed}");
        }
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "A".repeat(500);
        let (_, value, _) = refused_field(validate(&good_with("client_id", &long)));
        assert!(value.len() < 100, "{value}");
        assert!(value.ends_with("..."));
    }

    #[test]
    fn the_invalid_message_names_field_value_and_rule() {
        let error = validate(&good_with("client_secret", "short")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "client_secret (5 characters) is not accepted: exactly 40 characters, letters and digits"
        );
    }

    #[test]
    fn test_api_url_accepts_only_loopback() {
        for good in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "https://127.1.2.3",
            "http://[::1]:9000",
            "http://localhost:9000",
            "http://LOCALHOST:9000",
        ] {
            assert!(test_api_url(good).is_ok(), "{good}");
        }
        for bad in [
            "https://api-1234abcd.duosecurity.com",
            "http://10.0.0.1:8080",
            "http://localhost.example.com",
            "ftp://127.0.0.1",
            "not a url",
            "http://127.0.0.1:8080/prefix",
            "http://127.0.0.1:8080/?x=1",
            "http://user:pw@127.0.0.1:8080",
        ] {
            let error = test_api_url(bad).unwrap_err();
            assert!(error.contains("test-only"), "{bad}: {error}");
        }
    }
}
