//! Who did what, for the audit log: the actor and the action of an entry as types, so each is
//! written in one place and stored in one form (`admin:7`, `signin.success`).
//!
//! The stored forms are the interface the audit page's filters, the CSV export and the tests
//! read; they are unchanged from the strings the handlers used to format.

use super::{AdminId, ClientId, Realm, UserId};

/// Who did it, or whom it concerned (an audit entry's actor or subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An administrator: `admin:ID`.
    Admin(AdminId),
    /// A client-area person, named by their realm: `client:ID`.
    User(UserId),
    /// A client account: `client:ID`.
    Account(ClientId),
    /// A user in one account: `user:ID@client:ID`.
    Member(UserId, ClientId),
    /// "Login as client": the account and the user being acted as, `client:ID (user:ID)`.
    Impersonated(ClientId, UserId),
    /// Nobody signed in (a failed sign-in).
    Anonymous,
    /// Portcullis itself (automatic bans, scheduled tasks).
    System,
    /// Anything else stored as given: a role (`role:ID`), an address, `cli`, a typed name.
    Named(String),
}

impl Actor {
    /// The person signed in to `realm` as `id` (`admin:ID` or `client:ID`).
    pub fn of(realm: Realm, id: i64) -> Self {
        match realm {
            Realm::Admin => Self::Admin(AdminId(id)),
            Realm::Client => Self::User(UserId(id)),
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Admin(id) => write!(f, "admin:{id}"),
            Self::User(id) => write!(f, "client:{id}"),
            Self::Account(id) => write!(f, "client:{id}"),
            Self::Member(user, client) => write!(f, "user:{user}@client:{client}"),
            Self::Impersonated(client, user) => write!(f, "client:{client} (user:{user})"),
            Self::Anonymous => f.write_str("anonymous"),
            Self::System => f.write_str("system"),
            Self::Named(name) => f.write_str(name),
        }
    }
}

/// Declares the audit actions with their stored names.
macro_rules! actions {
    ($($variant:ident => $name:literal,)*) => {
        /// What happened: each audit action, with the dotted name the log stores.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            /// Every action, for the audit page's filter and for tests.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    AccessDenied => "access.denied",
    AccountInvitationAccepted => "account.invitation_accepted",
    AccountOwnershipTransferred => "account.ownership_transferred",
    AccountPermissionsChanged => "account.permissions_changed",
    AccountUserInvited => "account.user_invited",
    AccountUserRemoved => "account.user_removed",
    AdminDeleted => "admin.deleted",
    AdminInvitationAccepted => "admin.invitation_accepted",
    AdminInvited => "admin.invite",
    AdminUpdated => "admin.updated",
    AuditExported => "audit.exported",
    BanAdded => "ban.add",
    BanLifted => "ban.lift",
    CloudflareRefreshed => "cloudflare.refresh",
    DoctorFix => "doctor.fix",
    ImpersonationEnd => "impersonation.end",
    ImpersonationStart => "impersonation.start",
    LicenseIssued => "license.issued",
    LicenseKeyActivated => "license.key_activated",
    LicenseKeyAdded => "license.key_added",
    LicenseProductCreated => "license.product_created",
    LicenseProductUpdated => "license.product_updated",
    LicenseReissued => "license.reissued",
    LicenseStatus => "license.status",
    PasswordChanged => "password.changed",
    PasswordReset => "password.reset",
    RoleCreated => "role.created",
    RoleDeleted => "role.deleted",
    RoleUpdated => "role.updated",
    SessionEnded => "session.ended",
    SettingChanged => "setting.change",
    SigninDuoStateRefused => "signin.duo_state_refused",
    SigninFailure => "signin.failure",
    SigninSecondFactorFailed => "signin.second_factor_failed",
    SigninSuccess => "signin.success",
    Signout => "signout",
    TwoFactorBackupCodeUsed => "two_factor.backup_code_used",
    TwoFactorBackupRegenerated => "two_factor.backup_regenerated",
    TwoFactorDuoDisabled => "two_factor.duo_disabled",
    TwoFactorDuoEnabled => "two_factor.duo_enabled",
    TwoFactorDuoSettings => "two_factor.duo_settings",
    TwoFactorReset => "two_factor.reset",
    TwoFactorTotpEnabled => "two_factor.totp_enabled",
    TwoFactorTotpRemoved => "two_factor.totp_removed",
    TwoFactorWebauthnAdded => "two_factor.webauthn_added",
    TwoFactorWebauthnRemoved => "two_factor.webauthn_removed",
    TwoFactorResetRefused => "two_factor.reset_refused",
    TwoFactorWrongCode => "two_factor.wrong_code",
    TwoFactorDuoRefused => "two_factor.duo_refused",
    AccountReclaimed => "account.reclaimed",
    OidcKeyRotated => "oidc.key_rotated",
    OidcApplicationCreated => "oidc.application_created",
    OidcApplicationUpdated => "oidc.application_updated",
    OidcApplicationSecretReset => "oidc.application_secret_reset",
    OidcApplicationDeleted => "oidc.application_deleted",
    OidcConsentGranted => "oidc.consent_granted",
    OidcConsentWithdrawn => "oidc.consent_withdrawn",
    OidcCodeReused => "oidc.code_reused",
    OidcRefreshReused => "oidc.refresh_reused",
    ApiCredentialCreated => "api.credential_created",
    ApiCredentialRevoked => "api.credential_revoked",
    UserCreated => "user.created",
    UserUpdated => "user.updated",
    UserPasswordHashImported => "user.password_hash_imported",
    MailQueued => "mail.queued",
    SsoTokenCreated => "sso.token_created",
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_keep_the_stored_forms_the_log_has_always_had() {
        assert_eq!(Actor::Admin(AdminId(3)).to_string(), "admin:3");
        assert_eq!(Actor::of(Realm::Client, 5).to_string(), "client:5");
        assert_eq!(
            Actor::Member(UserId(5), ClientId(2)).to_string(),
            "user:5@client:2"
        );
        assert_eq!(
            Actor::Impersonated(ClientId(2), UserId(5)).to_string(),
            "client:2 (user:5)"
        );
    }

    #[test]
    fn every_action_has_its_own_dotted_name() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
