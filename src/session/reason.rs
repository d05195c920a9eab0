//! Why a session ended: the stored reason, and what the next sign-in page says about it (F02).

use crate::config::RealmSessionPolicy;

/// Why a session ended; stored, counted by the doctor and explained on the next sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    IdleTimeout,
    AbsoluteTimeout,
    IpChanged,
    Revoked,
    PasswordChanged,
    StorageError,
}

impl EndReason {
    /// Every reason, for reports.
    pub const ALL: [Self; 7] = [
        Self::Logout,
        Self::IdleTimeout,
        Self::AbsoluteTimeout,
        Self::IpChanged,
        Self::Revoked,
        Self::PasswordChanged,
        Self::StorageError,
    ];

    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::IdleTimeout => "idle_timeout",
            Self::AbsoluteTimeout => "absolute_timeout",
            Self::IpChanged => "ip_changed",
            Self::Revoked => "revoked",
            Self::PasswordChanged => "password_changed",
            Self::StorageError => "storage_error",
        }
    }

    /// Parses the stored form.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    /// What the sign-in page says about the session that ended.
    pub fn message(self, policy: &RealmSessionPolicy) -> String {
        match self {
            Self::Logout => "You have signed out.".to_owned(),
            Self::IdleTimeout => format!(
                "Your session ended after {} minutes without activity. Please sign in again.",
                policy.idle_seconds / 60
            ),
            Self::AbsoluteTimeout => match policy.remember_seconds {
                // The same reason ends a remembered session, whose lifetime is in days.
                Some(remember) => format!(
                    "Your session reached its maximum length of {} hours ({} days if you chose to stay signed in). Please sign in again.",
                    policy.absolute_seconds / 3600,
                    remember / 86_400
                ),
                None => format!(
                    "Your session reached its maximum length of {} hours. Please sign in again.",
                    policy.absolute_seconds / 3600
                ),
            },
            Self::IpChanged => "Your session ended because your network address changed (for example after switching networks or VPN). Please sign in again.".to_owned(),
            Self::Revoked => "Your session was ended from another session or by an administrator.".to_owned(),
            Self::PasswordChanged => "Your password was changed, so your other sessions were ended. Please sign in with the new password.".to_owned(),
            Self::StorageError => "Your session could not be kept because the server could not save it. Please sign in again; if this repeats, contact support.".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IpBinding;

    #[test]
    fn every_reason_round_trips_and_has_a_message() {
        let policy = RealmSessionPolicy {
            idle_seconds: 3600,
            absolute_seconds: 43_200,
            remember_seconds: None,
            ip_binding: IpBinding::Off,
        };
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
            assert!(!r.message(&policy).is_empty());
        }
        assert!(
            EndReason::IdleTimeout
                .message(&policy)
                .contains("60 minutes")
        );
    }
}
