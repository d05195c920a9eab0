//! The two sides of Portcullis: the client area and the admin area.
//!
//! Each realm's own pages (home, sign-in, reset, ...) are `Realm` methods in `paths.rs`, next
//! to the other URLs.

/// Which side of Portcullis a session, a sign-in or a second factor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Realm {
    Client,
    Admin,
}

impl Realm {
    /// Both realms.
    pub const ALL: [Self; 2] = [Self::Client, Self::Admin];

    /// Stored form (sessions, audit subjects, two-factor rows).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Admin => "admin",
        }
    }

    /// The realm of a stored form.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

impl std::fmt::Display for Realm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_realm_parses_its_stored_form_and_nothing_else() {
        for realm in Realm::ALL {
            assert_eq!(Realm::parse(realm.as_str()), Some(realm));
        }
        assert_eq!(Realm::parse("Admin"), None);
    }
}
