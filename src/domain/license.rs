//! A licence's status: the three an admin sets, their stored form, and the one rule that turns
//! a stored status into the status in force (an active licence past its expiry is expired).
//!
//! Storage parses the stored form when it reads a licence (`db/license.rs`), so no other layer
//! compares status strings; the licensing service (`src/license/`) applies
//! [`LicenseStatus::in_force`] for the pages and for the verify decision, and parses the admin
//! form's value with [`LicenseStatus::parse`]. The status a verify answer carries on the wire is
//! the `license-verifier` crate's `Status`, a larger set (unknown, malformed, binding mismatch)
//! that this type does not replace.

/// The status of a licence as an admin sets it and the database stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LicenseStatus {
    /// Checks are answered `active` (while the bindings match and the expiry is ahead).
    Active,
    /// Stopped by an admin until set active again.
    Suspended,
    /// Expired: set so by hand, or active with an expiry date in the past.
    Expired,
}

impl LicenseStatus {
    /// Every status, in the order the admin's form offers them.
    pub const ALL: [Self; 3] = [Self::Active, Self::Suspended, Self::Expired];

    /// The stored form, which is also the text pages and the audit log show.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Expired => "expired",
        }
    }

    /// The status of a stored form (exactly as stored: lower case, no spaces).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The status in force at `now` (unix seconds) for a licence stored as `self` with this
    /// expiry: an expiry in the past makes an active licence expired. A suspended licence stays
    /// suspended, so an admin's suspension is not hidden behind a date.
    #[must_use]
    pub fn in_force(self, expires_at: Option<i64>, now: i64) -> Self {
        match (self, expires_at) {
            (Self::Active, Some(at)) if at <= now => Self::Expired,
            _ => self,
        }
    }
}

impl std::fmt::Display for LicenseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::LicenseStatus;

    #[test]
    fn a_status_parses_its_stored_form_and_nothing_else() {
        for status in LicenseStatus::ALL {
            assert_eq!(LicenseStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        for other in ["Active", " active", "revoked", ""] {
            assert_eq!(LicenseStatus::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn an_active_licence_is_expired_from_its_expiry_on_and_other_statuses_stay() {
        let now = 1_000;
        let active = LicenseStatus::Active;
        assert_eq!(active.in_force(None, now), LicenseStatus::Active);
        assert_eq!(active.in_force(Some(now + 1), now), LicenseStatus::Active);
        assert_eq!(active.in_force(Some(now), now), LicenseStatus::Expired);
        assert_eq!(active.in_force(Some(now - 1), now), LicenseStatus::Expired);
        for stays in [LicenseStatus::Suspended, LicenseStatus::Expired] {
            assert_eq!(stays.in_force(Some(now - 1), now), stays);
            assert_eq!(stays.in_force(None, now), stays);
        }
    }
}
