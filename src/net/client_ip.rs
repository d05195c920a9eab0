//! Who the client is, behind proxies (F01).
//!
//! The TCP peer is the client unless it is a trusted proxy. A trusted peer's forwarding header
//! is read **right to left**: each proxy appends the address it saw, so the rightmost entries
//! were written by our own proxies and the first untrusted address from the right is the one a
//! trusted proxy actually saw connect. Anything further left was written by the client and can
//! be forged. A header from an untrusted peer is ignored entirely.
//!
//! Hostile input is bounded: at most [`MAX_HEADER_BYTES`] of header and [`MAX_HOPS`] entries
//! are examined, malformed entries are skipped and counted, and nothing panics.

use super::range::{RangeSet, canonical};
use std::net::IpAddr;

/// At most this many bytes of forwarding headers are read (the rightmost ones).
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// At most this many entries are examined, from the right.
pub const MAX_HOPS: usize = 32;

/// Which header carries the client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardHeader {
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=...`.
    Forwarded,
    XRealIp,
    CfConnectingIp,
}

impl ForwardHeader {
    /// Every supported header.
    pub const ALL: [Self; 4] = [
        Self::XForwardedFor,
        Self::Forwarded,
        Self::XRealIp,
        Self::CfConnectingIp,
    ];

    /// The header's name as configured and sent.
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "X-Forwarded-For",
            Self::Forwarded => "Forwarded",
            Self::XRealIp => "X-Real-IP",
            Self::CfConnectingIp => "CF-Connecting-IP",
        }
    }

    /// Parses a configured header name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// One examined entry and what was decided about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The entry as written (truncated), or the peer.
    pub raw: String,
    pub ip: Option<IpAddr>,
    pub trusted: bool,
}

/// The resolved client address and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub client: IpAddr,
    pub peer: IpAddr,
    pub peer_trusted: bool,
    /// The peer first, then header entries from right to left, as far as they were examined.
    pub hops: Vec<Hop>,
    /// Entries that could not be parsed.
    pub malformed: usize,
    /// Why this address was chosen, in a sentence.
    pub reason: String,
}

/// Resolves the client address from the peer and the values of the configured header (in the
/// order the headers appeared).
pub fn resolve<'a>(
    peer: IpAddr,
    header: ForwardHeader,
    values: impl IntoIterator<Item = &'a [u8]>,
    trusted: &RangeSet,
) -> Resolution {
    let peer = canonical(peer);
    let peer_trusted = trusted.contains(peer);
    let mut resolution = Resolution {
        client: peer,
        peer,
        peer_trusted,
        hops: vec![Hop {
            raw: peer.to_string(),
            ip: Some(peer),
            trusted: peer_trusted,
        }],
        malformed: 0,
        reason: String::new(),
    };
    if !peer_trusted {
        resolution.reason = format!(
            "The peer {peer} is not a trusted proxy, so its {} header (if any) was ignored.",
            header.name()
        );
        return resolution;
    }
    let joined = tail_of(values);
    let entries: Vec<&str> = match header {
        ForwardHeader::XForwardedFor => joined.split(',').collect(),
        ForwardHeader::Forwarded => joined.split(',').map(forwarded_for).collect(),
        // Single-value headers: the last one a trusted proxy set wins.
        ForwardHeader::XRealIp | ForwardHeader::CfConnectingIp => {
            joined.rsplit(',').take(1).collect()
        }
    };
    let mut leftmost_trusted = None;
    for raw in entries
        .into_iter()
        .rev()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .take(MAX_HOPS)
    {
        let ip = parse_entry(raw);
        let is_trusted = ip.is_some_and(|ip| trusted.contains(ip));
        resolution.hops.push(Hop {
            raw: raw.chars().take(64).collect(),
            ip,
            trusted: is_trusted,
        });
        match ip {
            None => resolution.malformed += 1,
            Some(ip) if is_trusted => leftmost_trusted = Some(ip),
            Some(ip) => {
                resolution.client = ip;
                resolution.reason = format!(
                    "{ip} is the first address from the right in {} that is not a trusted proxy.",
                    header.name()
                );
                return resolution;
            }
        }
    }
    if let Some(ip) = leftmost_trusted {
        resolution.client = ip;
        resolution.reason = format!(
            "Every address in {} is trusted; the leftmost examined, {ip}, is used.",
            header.name()
        );
    } else {
        resolution.reason = format!(
            "The trusted peer sent no usable {} header, so the peer {peer} is the client.",
            header.name()
        );
    }
    resolution
}

/// The last [`MAX_HEADER_BYTES`] of the header values joined with commas, as text. Invalid UTF-8
/// becomes replacement characters (and then a malformed entry), never an error.
fn tail_of<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut joined: Vec<u8> = Vec::new();
    for v in values {
        if !joined.is_empty() {
            joined.push(b',');
        }
        joined.extend_from_slice(v);
        if joined.len() > 4 * MAX_HEADER_BYTES {
            joined.drain(..joined.len() - MAX_HEADER_BYTES);
        }
    }
    let start = joined.len().saturating_sub(MAX_HEADER_BYTES);
    String::from_utf8_lossy(&joined[start..]).into_owned()
}

/// The `for=` value of one `Forwarded` element (`for=192.0.2.1;proto=https`), unquoted.
fn forwarded_for(element: &str) -> &str {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
        .map_or("", |(_, v)| v.trim().trim_matches('"'))
}

/// Parses one entry: an address, optionally with a port (`1.2.3.4:80`, `[2001:db8::1]:443`).
/// Zone identifiers (`fe80::1%eth0`), `unknown` and obfuscated identifiers are malformed.
pub fn parse_entry(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim().trim_matches('"');
    if raw.len() > 64 {
        return None;
    }
    if let Some(rest) = raw.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| p.parse::<u16>().is_ok()))
        {
            return None;
        }
        return inside
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|v6| canonical(IpAddr::V6(v6)));
    }
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    let (host, port) = raw.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn trusted(entries: &[&str]) -> RangeSet {
        RangeSet::from_entries(entries, &[]).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(peer: &str, value: &str, set: &RangeSet) -> Resolution {
        resolve(
            ip(peer),
            ForwardHeader::XForwardedFor,
            [value.as_bytes()],
            set,
        )
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let r = xff("203.0.113.9", "198.51.100.1", &trusted(&["loopback"]));
        assert_eq!(r.client, ip("203.0.113.9"));
        assert!(!r.peer_trusted);
    }

    #[test]
    fn the_chain_is_walked_right_to_left_over_trusted_hops() {
        let set = trusted(&["loopback", "10.0.0.0/8"]);
        // forged, real client, then two of our proxies.
        let r = xff(
            "127.0.0.1",
            "1.1.1.1, 198.51.100.7, 10.0.0.2, 10.0.0.3",
            &set,
        );
        assert_eq!(r.client, ip("198.51.100.7"));
        assert_eq!(r.hops.len(), 4);
        assert!(r.hops[1].trusted && r.hops[2].trusted && !r.hops[3].trusted);
    }

    #[test]
    fn several_headers_are_one_list_in_order() {
        let r = resolve(
            ip("127.0.0.1"),
            ForwardHeader::XForwardedFor,
            [&b"198.51.100.1"[..], &b"198.51.100.2"[..]],
            &trusted(&["loopback"]),
        );
        assert_eq!(r.client, ip("198.51.100.2"));
    }

    #[test]
    fn malformed_entries_are_skipped_and_counted() {
        let r = xff(
            "127.0.0.1",
            "198.51.100.7, garbage, fe80::1%eth0, unknown",
            &trusted(&["loopback"]),
        );
        assert_eq!(r.client, ip("198.51.100.7"));
        assert_eq!(r.malformed, 3);
    }

    #[test]
    fn all_trusted_uses_the_leftmost_and_no_header_uses_the_peer() {
        let set = trusted(&["loopback", "private"]);
        assert_eq!(
            xff("127.0.0.1", "10.1.1.1, 10.2.2.2", &set).client,
            ip("10.1.1.1")
        );
        assert_eq!(
            resolve(ip("127.0.0.1"), ForwardHeader::XForwardedFor, [], &set).client,
            ip("127.0.0.1")
        );
    }

    #[test]
    fn rfc7239_forwarded_with_quotes_ports_and_ipv6() {
        let set = trusted(&["loopback"]);
        let value = b"for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\";proto=https, for=127.0.0.1";
        let r = resolve(
            ip("127.0.0.1"),
            ForwardHeader::Forwarded,
            [&value[..]],
            &set,
        );
        assert_eq!(r.client, ip("2001:db8:cafe::17"));
        let hidden = resolve(
            ip("127.0.0.1"),
            ForwardHeader::Forwarded,
            [&b"for=_hidden, for=198.51.100.3"[..]],
            &set,
        );
        assert_eq!(hidden.client, ip("198.51.100.3"));
    }

    #[test]
    fn single_value_headers_and_ports() {
        let set = trusted(&["loopback"]);
        let r = resolve(
            ip("127.0.0.1"),
            ForwardHeader::CfConnectingIp,
            [&b"198.51.100.4"[..]],
            &set,
        );
        assert_eq!(r.client, ip("198.51.100.4"));
        assert_eq!(parse_entry("198.51.100.4:8080"), Some(ip("198.51.100.4")));
        assert_eq!(parse_entry("[::1]:80"), Some(ip("::1")));
        assert_eq!(parse_entry("::ffff:198.51.100.4"), Some(ip("198.51.100.4")));
        assert_eq!(parse_entry("[::1]junk"), None);
    }

    #[test]
    fn a_huge_header_is_bounded() {
        let value = "10.0.0.1, ".repeat(10_000) + "198.51.100.9";
        let r = xff("127.0.0.1", &value, &trusted(&["loopback", "private"]));
        assert_eq!(r.client, ip("198.51.100.9"));
        let all_trusted = "10.0.0.1,".repeat(10_000);
        let r = xff(
            "127.0.0.1",
            &all_trusted,
            &trusted(&["loopback", "private"]),
        );
        assert!(r.hops.len() <= MAX_HOPS + 1);
    }

    proptest! {
        #[test]
        fn any_header_resolves_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2000), which in 0usize..4) {
            let set = trusted(&["loopback", "private"]);
            let r = resolve(ip("127.0.0.1"), ForwardHeader::ALL[which], [bytes.as_slice()], &set);
            prop_assert!(r.hops.len() <= MAX_HOPS + 1);
        }
    }
}
