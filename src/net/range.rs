//! Address ranges (CIDR) and the entries of a trusted-proxy list.
//!
//! A list entry is an address, a CIDR range, or a shorthand: `loopback`, `private`, or
//! `cloudflare` (expanded by the caller to the current Cloudflare ranges). Matching is a linear
//! scan: lists are tens of entries, where a scan beats a trie.

use std::net::IpAddr;

/// An address range: network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl Net {
    /// Whether `ip` lies inside this range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// Parses `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (addr, prefix) = if let Some((a, p)) = s.split_once('/') {
            (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?)
        } else {
            let a = s.parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        };
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { addr, prefix })
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// What one list entry stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Ranges(Vec<Net>),
    /// The current Cloudflare edge ranges, resolved by the caller.
    Cloudflare,
}

/// Parses one entry of a trusted-proxy or whitelist setting; `None` when malformed.
pub fn parse_entry(entry: &str) -> Option<Entry> {
    let nets = |list: &[&str]| {
        list.iter()
            .map(|s| Net::parse(s))
            .collect::<Option<Vec<_>>>()
            .map(Entry::Ranges)
    };
    match entry.trim().to_ascii_lowercase().as_str() {
        "loopback" => nets(&["127.0.0.0/8", "::1/128"]),
        "private" => nets(&["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]),
        "cloudflare" => Some(Entry::Cloudflare),
        other => Net::parse(other).map(|n| Entry::Ranges(vec![n])),
    }
}

/// A set of ranges to test addresses against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet(pub Vec<Net>);

impl RangeSet {
    /// Whether any range contains `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// Builds a set from list entries, expanding `cloudflare` to `cloudflare_ranges`.
    ///
    /// # Errors
    /// The first malformed entry.
    pub fn from_entries<S: AsRef<str>>(
        entries: &[S],
        cloudflare_ranges: &[Net],
    ) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in entries {
            match parse_entry(entry.as_ref()) {
                Some(Entry::Ranges(r)) => nets.extend(r),
                Some(Entry::Cloudflare) => nets.extend_from_slice(cloudflare_ranges),
                None => return Err(entry.as_ref().to_owned()),
            }
        }
        Ok(Self(nets))
    }
}

/// The message for a malformed entry, shared by configuration and the settings page.
pub const ENTRY_HELP: &str =
    "IP addresses, CIDR ranges (10.0.0.0/8, 2001:db8::/32), `loopback`, `private` or `cloudflare`";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_match_v4_v6_and_mapped_addresses() {
        let set = RangeSet::from_entries(&["loopback", "2001:db8::/32"], &[]).unwrap();
        assert!(set.contains(ip("127.0.0.9")));
        assert!(set.contains(ip("::ffff:127.0.0.1")));
        assert!(set.contains(ip("2001:db8:1::1")));
        assert!(!set.contains(ip("10.0.0.1")));
        assert_eq!(
            RangeSet::from_entries(&["10.0.0.0/99"], &[]),
            Err("10.0.0.0/99".into())
        );
    }

    #[test]
    fn the_cloudflare_shorthand_expands_to_the_given_ranges() {
        let cf = [Net::parse("173.245.48.0/20").unwrap()];
        let set = RangeSet::from_entries(&["Cloudflare"], &cf).unwrap();
        assert!(set.contains(ip("173.245.48.1")));
    }

    proptest! {
        #[test]
        fn entries_never_panic(s in ".{0,60}") {
            let _ = parse_entry(&s);
        }

        #[test]
        fn a_range_contains_its_own_address(a in any::<[u8; 4]>(), prefix in 0u8..=32) {
            let ip = IpAddr::from(a);
            let net = Net::parse(&format!("{ip}/{prefix}")).unwrap();
            prop_assert!(net.contains(ip));
        }
    }
}
