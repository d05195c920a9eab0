//! What a user may do in a client account they share (product.md). The owner may do everything;
//! other users hold the permissions the owner gave them, stored per account as a comma-separated
//! list of these names.

/// A client-area permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientPermission {
    Profile,
    Contacts,
    Products,
    ManageProducts,
    Domains,
    ManageDomains,
    Invoices,
    Quotes,
    Tickets,
    Emails,
    Orders,
}

impl ClientPermission {
    /// Every permission, in display order.
    pub const ALL: [Self; 11] = [
        Self::Profile,
        Self::Contacts,
        Self::Products,
        Self::ManageProducts,
        Self::Domains,
        Self::ManageDomains,
        Self::Invoices,
        Self::Quotes,
        Self::Tickets,
        Self::Emails,
        Self::Orders,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::Contacts => "contacts",
            Self::Products => "products",
            Self::ManageProducts => "manage_products",
            Self::Domains => "domains",
            Self::ManageDomains => "manage_domains",
            Self::Invoices => "invoices",
            Self::Quotes => "quotes",
            Self::Tickets => "tickets",
            Self::Emails => "emails",
            Self::Orders => "orders",
        }
    }

    /// What it allows, for the owner's form.
    pub fn label(self) -> &'static str {
        match self {
            Self::Profile => "View and edit the account profile",
            Self::Contacts => "Manage contacts",
            Self::Products => "View products and services",
            Self::ManageProducts => "Manage products and services",
            Self::Domains => "View domains",
            Self::ManageDomains => "Manage domains",
            Self::Invoices => "View and pay invoices",
            Self::Quotes => "View and accept quotes",
            Self::Tickets => "Open and view support tickets",
            Self::Emails => "View emails sent to the account",
            Self::Orders => "Place orders",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value.trim())
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of client permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientPermissions(u16);

impl ClientPermissions {
    /// Everything (the owner).
    pub fn all() -> Self {
        ClientPermission::ALL.into_iter().collect()
    }

    /// What an invited user gets until the owner changes it: every "view" permission, nothing
    /// that manages or orders.
    pub fn invited_default() -> Self {
        use ClientPermission as P;
        [
            P::Profile,
            P::Contacts,
            P::Products,
            P::Domains,
            P::Invoices,
            P::Quotes,
            P::Tickets,
            P::Emails,
        ]
        .into_iter()
        .collect()
    }

    /// Whether `p` is granted.
    pub fn contains(self, p: ClientPermission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Grants `p`.
    pub fn insert(&mut self, p: ClientPermission) {
        self.0 |= p.bit();
    }

    /// What a member holds: everything for the owner, else the stored list.
    pub fn held(is_owner: bool, stored: &str) -> Self {
        if is_owner {
            Self::all()
        } else {
            Self::parse(stored)
        }
    }

    /// Parses the stored list; unknown names (from a newer version) are ignored.
    pub fn parse(stored: &str) -> Self {
        stored
            .split(',')
            .filter_map(ClientPermission::parse)
            .collect()
    }

    /// The set named by `names` (the owner's form), unlike [`Self::parse`] refusing unknown names.
    ///
    /// # Errors
    /// The first name that is no permission, so the caller can say which.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        names
            .into_iter()
            .map(|n| ClientPermission::parse(n).ok_or_else(|| n.to_owned()))
            .collect()
    }

    /// The stored list.
    pub fn to_stored(self) -> String {
        self.iter()
            .map(ClientPermission::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The granted permissions, in display order.
    pub fn iter(self) -> impl Iterator<Item = ClientPermission> {
        ClientPermission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }
}

impl FromIterator<ClientPermission> for ClientPermissions {
    fn from_iter<I: IntoIterator<Item = ClientPermission>>(iter: I) -> Self {
        let mut set = Self::default();
        for p in iter {
            set.insert(p);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_list_round_trips_and_ignores_unknown_names() {
        let set = ClientPermissions::invited_default();
        assert_eq!(ClientPermissions::parse(&set.to_stored()), set);
        assert!(!set.contains(ClientPermission::ManageProducts));
        let parsed = ClientPermissions::parse("products, tickets,teleport");
        assert_eq!(parsed.to_stored(), "products,tickets");
        assert_eq!(ClientPermissions::all().iter().count(), 11);
        assert_eq!(
            ClientPermissions::from_names(["tickets", "products"])
                .map(ClientPermissions::to_stored),
            Ok("products,tickets".to_owned())
        );
        assert_eq!(
            ClientPermissions::from_names(["teleport"]),
            Err("teleport".to_owned())
        );
    }
}
