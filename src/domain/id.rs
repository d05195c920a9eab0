//! Typed ids: an admin, a client-area user, a client account and a role each have their own
//! type, so one cannot be passed where another is expected. Each wraps the stored integer.

/// Declares an id type over the stored `i64`.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The stored integer.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// An administrator (`admins.id`).
    AdminId
);
id_type!(
    /// A client-area person (`users.id`).
    UserId
);
id_type!(
    /// A client account (`clients.id`), which users belong to.
    ClientId
);
id_type!(
    /// An admin role (`roles.id`).
    RoleId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_shows_and_stores_as_its_integer() {
        assert_eq!(AdminId(7).to_string(), "7");
        assert_eq!(i64::from(UserId(9)), 9);
        assert_eq!(serde_json::to_string(&ClientId(3)).unwrap(), "3");
    }
}
