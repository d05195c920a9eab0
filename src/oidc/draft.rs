//! An application's settings as typed (the admin form, later the CLI), their validation with
//! one error per field, and the closed sets they choose from. [`ApplicationDraft::check`] is
//! the one place these rules live; `application::Applications` calls it on create and update.

use super::redirect;
use crate::account::FieldError;
use crate::domain::Realm;

/// Whether an application can keep a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A server-side application: holds a client secret.
    Confidential,
    /// A browser or mobile application: cannot keep a secret, authenticates with PKCE alone.
    Public,
}

/// How an application authenticates at the token endpoint (RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// The secret in an `Authorization: Basic` header.
    ClientSecretBasic,
    /// The secret in the form body (`client_secret`).
    ClientSecretPost,
    /// No secret: a public application.
    None,
}

/// The algorithm the application's ID tokens are signed with: the JOSE layer's, so the form,
/// the stored value and the signing key are one type.
pub use crate::jose::SigningAlg;

/// Which list a redirect URI belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriKind {
    /// `redirect_uri` of an authorization request.
    Login,
    /// `post_logout_redirect_uri` of an end-session request.
    PostLogout,
}

/// Declares `as_str`, `parse` and `ALL` for an enum of stable strings.
macro_rules! stored {
    ($t:ty { $($variant:ident => $name:literal,)* }) => {
        impl $t {
            /// Every value, in display order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stored (and protocol) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The value of a stored name.
            pub fn parse(value: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == value)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored!(Kind { Confidential => "confidential", Public => "public", });
stored!(AuthMethod {
    ClientSecretBasic => "client_secret_basic",
    ClientSecretPost => "client_secret_post",
    None => "none",
});
stored!(UriKind { Login => "login", PostLogout => "post_logout", });

/// The scopes an application may be allowed, in display order.
pub const SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "accounts",
    "roles",
    "offline_access",
];

/// Scopes allowed when the form leaves the field empty.
pub const DEFAULT_SCOPES: &str = "openid profile email";

/// Bounds and defaults of the token lifetimes, in seconds.
pub const ID_TOKEN_SECONDS: (std::ops::RangeInclusive<i64>, i64) = (60..=600, 300);
pub const ACCESS_TOKEN_SECONDS: (std::ops::RangeInclusive<i64>, i64) = (600..=3600, 900);
pub const REFRESH_TOKEN_SECONDS: (std::ops::RangeInclusive<i64>, i64) =
    (3600..=7_776_000, 2_592_000);

/// The longest application name.
pub const NAME_MAX: usize = 100;

/// An application's settings as typed. Empty fields take the defaults: realm `client`, kind
/// `confidential`, the method that fits the kind (`client_secret_basic` or `none`), `RS256`,
/// scopes `openid profile email`, the default lifetimes.
#[derive(Debug, Clone, Default)]
pub struct ApplicationDraft {
    pub name: String,
    pub realm: String,
    pub kind: String,
    pub auth_method: String,
    pub signing_alg: String,
    /// Space-separated.
    pub allowed_scopes: String,
    /// One URI a line.
    pub redirect_uris: String,
    /// One URI a line; may be empty.
    pub post_logout_redirect_uris: String,
    pub id_token_seconds: String,
    pub access_token_seconds: String,
    pub refresh_token_seconds: String,
    pub first_party: bool,
    /// Empty: none.
    pub backchannel_logout_uri: String,
    /// The new-application form's one-time key (empty when not made by that form): the same
    /// key twice creates one application.
    pub creation_key: String,
}

/// A draft that passed [`ApplicationDraft::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub name: String,
    pub realm: Realm,
    pub kind: Kind,
    pub auth_method: AuthMethod,
    pub signing_alg: SigningAlg,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub id_token_seconds: i64,
    pub access_token_seconds: i64,
    pub refresh_token_seconds: i64,
    pub first_party: bool,
    pub backchannel_logout_uri: Option<String>,
}

fn choice<T: Copy + std::fmt::Display>(
    field: &'static str,
    typed: &str,
    all: &[T],
    parse: fn(&str) -> Option<T>,
    default: T,
    errors: &mut Vec<FieldError>,
) -> T {
    let typed = typed.trim();
    if typed.is_empty() {
        return default;
    }
    parse(typed).unwrap_or_else(|| {
        let allowed: Vec<String> = all.iter().map(ToString::to_string).collect();
        errors.push(FieldError::new(
            field,
            format!("{typed:?} is not one of {}", allowed.join(", ")),
        ));
        default
    })
}

fn seconds(
    field: &'static str,
    typed: &str,
    (range, default): (std::ops::RangeInclusive<i64>, i64),
    errors: &mut Vec<FieldError>,
) -> i64 {
    let typed = typed.trim();
    if typed.is_empty() {
        return default;
    }
    match typed.parse::<i64>() {
        Ok(n) if range.contains(&n) => n,
        _ => {
            errors.push(FieldError::new(
                field,
                format!(
                    "{typed:?} is not a number of seconds from {} to {} (empty: {default})",
                    range.start(),
                    range.end()
                ),
            ));
            default
        }
    }
}

fn uris(field: &'static str, typed: &str, errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in typed.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match redirect::check_uri(line) {
            Ok(uri) if !out.contains(&uri) => out.push(uri),
            Ok(_) => {}
            Err(e) => errors.push(FieldError::new(field, e)),
        }
    }
    out
}

impl ApplicationDraft {
    /// The settings the draft describes, or every problem, each naming its field, the value
    /// and what is allowed.
    ///
    /// # Errors
    /// One [`FieldError`] per problem.
    pub fn check(&self) -> Result<Settings, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self.name.trim().to_owned();
        let length = name.chars().count();
        if length == 0 || length > NAME_MAX {
            errors.push(FieldError::new(
                "name",
                format!(
                    "give the application a name of 1 to {NAME_MAX} characters ({length} typed)"
                ),
            ));
        }
        let realm = choice(
            "realm",
            &self.realm,
            &Realm::ALL,
            Realm::parse,
            Realm::Client,
            &mut errors,
        );
        let kind = choice(
            "kind",
            &self.kind,
            Kind::ALL,
            Kind::parse,
            Kind::Confidential,
            &mut errors,
        );
        let fitting = match kind {
            Kind::Confidential => AuthMethod::ClientSecretBasic,
            Kind::Public => AuthMethod::None,
        };
        let auth_method = choice(
            "auth_method",
            &self.auth_method,
            AuthMethod::ALL,
            AuthMethod::parse,
            fitting,
            &mut errors,
        );
        match (kind, auth_method) {
            (Kind::Public, AuthMethod::None)
            | (Kind::Confidential, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost) => {}
            (Kind::Public, m) => errors.push(FieldError::new(
                "auth_method",
                format!("{m} needs a secret, which a public application cannot keep; a public application uses none"),
            )),
            (Kind::Confidential, m) => errors.push(FieldError::new(
                "auth_method",
                format!("{m} is for public applications; a confidential one uses client_secret_basic or client_secret_post"),
            )),
        }
        let signing_alg = choice(
            "signing_alg",
            &self.signing_alg,
            &SigningAlg::ALL,
            SigningAlg::parse,
            SigningAlg::Rs256,
            &mut errors,
        );
        let scopes = self.scopes(realm, &mut errors);
        let redirect_uris = uris("redirect_uris", &self.redirect_uris, &mut errors);
        if redirect_uris.is_empty() && !errors.iter().any(|e| e.field == "redirect_uris") {
            errors.push(FieldError::new(
                "redirect_uris",
                "register at least one redirect URI (one a line), exactly as the application sends it",
            ));
        }
        let post_logout_redirect_uris = uris(
            "post_logout_redirect_uris",
            &self.post_logout_redirect_uris,
            &mut errors,
        );
        let backchannel = self.backchannel_logout_uri.trim();
        let backchannel_logout_uri = if backchannel.is_empty() {
            None
        } else {
            match redirect::check_uri(backchannel) {
                Ok(uri) => Some(uri),
                Err(e) => {
                    errors.push(FieldError::new("backchannel_logout_uri", e));
                    None
                }
            }
        };
        let settings = Settings {
            name,
            realm,
            kind,
            auth_method,
            signing_alg,
            scopes,
            redirect_uris,
            post_logout_redirect_uris,
            id_token_seconds: seconds(
                "id_token_seconds",
                &self.id_token_seconds,
                ID_TOKEN_SECONDS,
                &mut errors,
            ),
            access_token_seconds: seconds(
                "access_token_seconds",
                &self.access_token_seconds,
                ACCESS_TOKEN_SECONDS,
                &mut errors,
            ),
            refresh_token_seconds: seconds(
                "refresh_token_seconds",
                &self.refresh_token_seconds,
                REFRESH_TOKEN_SECONDS,
                &mut errors,
            ),
            first_party: self.first_party,
            backchannel_logout_uri,
        };
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors)
        }
    }

    fn scopes(&self, realm: Realm, errors: &mut Vec<FieldError>) -> Vec<String> {
        let typed = if self.allowed_scopes.trim().is_empty() {
            DEFAULT_SCOPES
        } else {
            self.allowed_scopes.as_str()
        };
        let mut scopes: Vec<String> = Vec::new();
        for scope in typed.split_whitespace() {
            if !SCOPES.contains(&scope) {
                errors.push(FieldError::new(
                    "allowed_scopes",
                    format!(
                        "{scope:?} is not a scope Portcullis offers; choose among {}",
                        SCOPES.join(" ")
                    ),
                ));
            } else if scope == "accounts" && realm != Realm::Client {
                errors.push(FieldError::new(
                    "allowed_scopes",
                    "accounts describes client accounts; it is only for applications of the client realm",
                ));
            } else if scope == "roles" && realm != Realm::Admin {
                errors.push(FieldError::new(
                    "allowed_scopes",
                    "roles describes admin roles; it is only for applications of the admin realm",
                ));
            } else if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        if !scopes.iter().any(|s| s == "openid") {
            errors.push(FieldError::new(
                "allowed_scopes",
                format!(
                    "{:?} lacks openid, which every OpenID Connect application needs",
                    typed.trim()
                ),
            ));
        }
        // Stored in display order, so an edit that only reorders changes nothing.
        scopes.sort_by_key(|s| SCOPES.iter().position(|k| k == s));
        scopes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> ApplicationDraft {
        ApplicationDraft {
            name: "Wiki".into(),
            redirect_uris: "https://wiki.example.com/cb".into(),
            ..ApplicationDraft::default()
        }
    }

    fn fields(d: &ApplicationDraft) -> Vec<&'static str> {
        d.check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn an_empty_draft_with_a_name_and_a_uri_takes_the_defaults() {
        let s = draft().check().unwrap();
        assert_eq!(s.realm, Realm::Client);
        assert_eq!(
            (s.kind, s.auth_method),
            (Kind::Confidential, AuthMethod::ClientSecretBasic)
        );
        assert_eq!(s.signing_alg, SigningAlg::Rs256);
        assert_eq!(s.scopes, ["openid", "profile", "email"]);
        assert_eq!(
            (
                s.id_token_seconds,
                s.access_token_seconds,
                s.refresh_token_seconds
            ),
            (300, 900, 2_592_000)
        );
        let public = ApplicationDraft {
            kind: "public".into(),
            ..draft()
        };
        assert_eq!(public.check().unwrap().auth_method, AuthMethod::None);
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            fields(&ApplicationDraft {
                name: " ".into(),
                ..draft()
            }),
            ["name"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                redirect_uris: String::new(),
                ..draft()
            }),
            ["redirect_uris"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                kind: "public".into(),
                auth_method: "client_secret_post".into(),
                ..draft()
            }),
            ["auth_method"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                auth_method: "none".into(),
                ..draft()
            }),
            ["auth_method"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                signing_alg: "HS256".into(),
                ..draft()
            }),
            ["signing_alg"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                allowed_scopes: "profile".into(),
                ..draft()
            }),
            ["allowed_scopes"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                allowed_scopes: "openid roles".into(),
                ..draft()
            }),
            ["allowed_scopes"]
        );
        let admin = ApplicationDraft {
            realm: "admin".into(),
            allowed_scopes: "openid roles".into(),
            ..draft()
        };
        assert!(admin.check().is_ok());
        assert_eq!(
            fields(&ApplicationDraft {
                allowed_scopes: "openid accounts".into(),
                ..admin
            }),
            ["allowed_scopes"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                id_token_seconds: "59".into(),
                ..draft()
            }),
            ["id_token_seconds"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                access_token_seconds: "3601".into(),
                ..draft()
            }),
            ["access_token_seconds"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                refresh_token_seconds: "x".into(),
                ..draft()
            }),
            ["refresh_token_seconds"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                backchannel_logout_uri: "http://wiki.example.com/logout".into(),
                ..draft()
            }),
            ["backchannel_logout_uri"]
        );
        assert_eq!(
            fields(&ApplicationDraft {
                post_logout_redirect_uris: "https://wiki.example.com/#bye".into(),
                ..draft()
            }),
            ["post_logout_redirect_uris"]
        );
    }
}
