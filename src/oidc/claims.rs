//! What the provider says about a person: `sub`, `amr`/`acr`, and the claims of each scope
//! (Core §5.4, and the `accounts` and `roles` scopes of integrations.md §1).
//!
//! Which claims go where (docs/oidc.md, "Claims"): the ID token carries who signed in and how
//! (`sub`, `auth_time`, `amr`, `acr`, `nonce`, `sid`) plus the `profile` and `email` claims the
//! scopes grant; userinfo carries `sub` and every granted scope's claims, `accounts` and `roles`
//! included (they can be long, and change while an ID token lives).

use crate::auth::client_permission::{ClientPermission, ClientPermissions};
use crate::db;
use crate::domain::Realm;
use serde_json::{Map, Value, json};

/// The stable subject identifier: the realm and the record's id, never the email (which the
/// person can change). `client:42`, `admin:7`.
pub fn subject(realm: Realm, id: i64) -> String {
    format!("{}:{id}", realm.as_str())
}

/// The session id the ID token names (`sid`, Back-Channel Logout 1.0 §2.1), derived from the
/// session's stored hash so the browser's session id never leaves Portcullis.
pub fn sid(session_id_hash: &str) -> String {
    crate::token::hash(&format!("oidc-sid:{session_id_hash}"))[..32].to_owned()
}

/// RFC 8176 methods for how the session was signed in to.
pub fn amr(second_factor: Option<&str>) -> Vec<&'static str> {
    match second_factor {
        None => vec!["pwd"],
        Some("totp" | "backup_code") => vec!["pwd", "otp", "mfa"],
        Some("webauthn") => vec!["pwd", "hwk", "mfa"],
        // Duo approves on the person's phone (a push or a passcode): a second factor, kind
        // unknown to us.
        Some(_) => vec!["pwd", "mfa"],
    }
}

/// The `acr` for the sign-in: a password alone, or with a second factor.
pub fn acr(second_factor: Option<&str>) -> &'static str {
    if second_factor.is_some() {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

/// `acr` of a sign-in with a password alone.
pub const ACR_PASSWORD: &str = "urn:portcullis:acr:password";
/// `acr` of a sign-in with a password and a second factor.
pub const ACR_MFA: &str = "urn:portcullis:acr:mfa";

/// Where a claim set goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    IdToken,
    UserInfo,
}

/// The person a token speaks for, as stored.
#[derive(Debug, Clone)]
pub enum Person {
    User(db::account::UserRow),
    Admin(db::account::AdminRow),
}

impl Person {
    /// The person of `realm` with this id; `None` when gone or disabled.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn find(
        conn: &mut db::Connection,
        realm: Realm,
        subject_id: i64,
    ) -> Result<Option<Self>, sqlx::Error> {
        let found = match realm {
            Realm::Client => db::account::find_user_by_id(&mut *conn, subject_id)
                .await?
                .map(Self::User),
            Realm::Admin => db::account::find_admin_by_id(&mut *conn, subject_id)
                .await?
                .map(Self::Admin),
        };
        Ok(found.and_then(Self::enabled))
    }

    /// The person, unless disabled: a disabled person gets no tokens and no claims.
    pub fn enabled(self) -> Option<Self> {
        let disabled = match &self {
            Self::User(u) => u.disabled,
            Self::Admin(a) => a.disabled,
        };
        (!disabled).then_some(self)
    }
}

/// The claims the granted `scopes` release about a person, without `sub`; `None` when the
/// person no longer exists (or is disabled).
///
/// # Errors
/// Storage errors.
pub async fn of(
    conn: &mut db::Connection,
    realm: Realm,
    subject_id: i64,
    scopes: &[&str],
    target: Target,
) -> Result<Option<Map<String, Value>>, sqlx::Error> {
    match Person::find(conn, realm, subject_id).await? {
        Some(person) => Ok(Some(released(conn, &person, scopes, target).await?)),
        None => Ok(None),
    }
}

/// The claims the granted `scopes` release about `person`, without `sub`. Only userinfo's
/// `accounts` and `roles` read more.
///
/// # Errors
/// Storage errors.
pub async fn released(
    conn: &mut db::Connection,
    person: &Person,
    scopes: &[&str],
    target: Target,
) -> Result<Map<String, Value>, sqlx::Error> {
    let has = |s: &str| scopes.contains(&s);
    let mut out = Map::new();
    match person {
        Person::User(user) => {
            let subject_id = user.id;
            if has("profile") {
                let name = format!("{} {}", user.first_name, user.last_name);
                out.insert("name".into(), json!(name.trim()));
                out.insert("given_name".into(), json!(user.first_name));
                out.insert("family_name".into(), json!(user.last_name));
            }
            if has("email") {
                out.insert("email".into(), json!(user.email));
                out.insert(
                    "email_verified".into(),
                    json!(user.email_verified_at.is_some()),
                );
            }
            if has("accounts") && target == Target::UserInfo {
                let accounts = db::client::memberships(&mut *conn, subject_id).await?;
                out.insert("accounts".into(), accounts_claim(&accounts));
            }
        }
        Person::Admin(admin) => {
            if has("profile") {
                out.insert("name".into(), json!(admin.username));
                out.insert("preferred_username".into(), json!(admin.username));
            }
            if has("email") {
                out.insert("email".into(), json!(admin.email));
                // An admin's address is typed by another admin and never confirmed by a link.
                out.insert("email_verified".into(), json!(false));
            }
            if has("roles") && target == Target::UserInfo {
                let permissions = db::role::permissions(&mut *conn, admin.role_id).await?;
                let names: Vec<&str> = permissions
                    .iter()
                    .map(crate::auth::permission::Permission::as_str)
                    .collect();
                out.insert(
                    "roles".into(),
                    json!({ "role": admin.role_name, "permissions": names }),
                );
            }
        }
    }
    Ok(out)
}

/// The `accounts` claim: each client account with the person's place and permissions in it.
fn accounts_claim(memberships: &[db::client::Membership]) -> Value {
    Value::Array(
        memberships
            .iter()
            .map(|m| {
                let permissions: Vec<&str> = ClientPermissions::held(m.is_owner, &m.permissions)
                    .iter()
                    .map(ClientPermission::as_str)
                    .collect();
                json!({
                    "id": m.client_id,
                    "name": m.label,
                    "role": if m.is_owner { "owner" } else { "user" },
                    "permissions": permissions,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_names_the_second_factor_and_acr_follows_it() {
        assert_eq!(amr(None), ["pwd"]);
        assert_eq!(amr(Some("totp")), ["pwd", "otp", "mfa"]);
        assert_eq!(amr(Some("webauthn")), ["pwd", "hwk", "mfa"]);
        assert_eq!(amr(Some("duo")), ["pwd", "mfa"]);
        assert_eq!(acr(None), ACR_PASSWORD);
        assert_eq!(acr(Some("backup_code")), ACR_MFA);
    }

    #[test]
    fn subjects_name_the_realm_and_never_an_address() {
        assert_eq!(subject(Realm::Client, 42), "client:42");
        assert_eq!(subject(Realm::Admin, 7), "admin:7");
    }
}
