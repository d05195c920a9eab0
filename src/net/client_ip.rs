//! Who the client is, behind proxies (F01).
//!
//! The TCP peer is the client unless it is a trusted proxy. What a trusted peer's headers are
//! believed for depends on the header, because each is written by a different party:
//!
//! - **`X-Forwarded-For` and `Forwarded`** are chains: each proxy appends the address it saw,
//!   so they are read **right to left**. The rightmost entries were written by our own proxies
//!   and the first untrusted address from the right is the one a trusted proxy actually saw
//!   connect. Anything further left was written by the client and can be forged.
//! - **`CF-Connecting-IP`** is set by Cloudflare's edge and by nobody else, so it is believed
//!   only when the hop that handed the request on is a Cloudflare address that is trusted: the
//!   peer itself, or (Cloudflare → nginx → Portcullis) the first hop from the right of
//!   `X-Forwarded-For` past our own trusted proxies. A visitor who reaches the origin or nginx
//!   directly and sends a `CF-Connecting-IP` of their choosing is resolved by the
//!   `X-Forwarded-For` walk instead, which stops at their real address.
//! - **`X-Real-IP`** is a single value the proxy directly in front writes (`$remote_addr`). It
//!   carries no chain, so it is only as good as that proxy's promise to *overwrite* any copy the
//!   client sent, which nothing here can see. Appending to `X-Forwarded-For` is safe by
//!   construction; passing `X-Real-IP` through is the common mistake. So it is believed only
//!   (a) from a peer in `proxy.trusted` **as the operator set it** (file, environment or the
//!   Settings page): the built-in default `loopback`, there so a same-host nginx that appends
//!   `X-Forwarded-For` works out of the box, is not a promise about `X-Real-IP`; and (b) when it
//!   agrees with the `X-Forwarded-For` walk if the request has one (a proxy that sets both writes
//!   the same address into both; a disagreement means the `X-Real-IP` came from the client).
//!   Otherwise the `X-Forwarded-For` walk decides.
//!
//! A header from an untrusted peer is ignored entirely.
//!
//! Hostile input is bounded: at most [`MAX_HEADER_BYTES`] of each header and [`MAX_HOPS`]
//! entries are examined, malformed entries are skipped and counted, and nothing panics.

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

/// Who is trusted for what.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// `proxy.trusted`, with `cloudflare` expanded.
    pub trusted: &'a RangeSet,
    /// Cloudflare's current edge ranges: a `CF-Connecting-IP` is believed only from a hop in
    /// these that is also trusted.
    pub cloudflare: &'a RangeSet,
    /// Whether the operator set `proxy.trusted` (not the built-in default): `X-Real-IP` is
    /// believed only then.
    pub operator_listed: bool,
}

/// One examined entry and what was decided about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Where the entry was read: `TCP peer` or a header name.
    pub via: &'static str,
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

/// How a right-to-left walk over a chain header ended.
#[derive(Debug, Clone, Copy)]
enum End {
    /// The first address from the right that is not trusted: the client.
    Untrusted(IpAddr),
    /// A trusted Cloudflare address (only when Cloudflare hops were asked for).
    Cloudflare(IpAddr),
    /// Every readable entry was trusted; the leftmost examined.
    AllTrusted(IpAddr),
    /// No readable entry.
    Empty,
}

/// Resolves the client address from the peer and the values of the configured header alone,
/// trusting `trusted` and no Cloudflare range: a `CF-Connecting-IP` is then never believed and
/// an `X-Real-IP` never (no operator-listed proxy, no `X-Forwarded-For` to compare). For callers
/// that have only one header (benchmarks, fuzzing); a request goes through [`resolve_with`].
pub fn resolve<'a>(
    peer: IpAddr,
    header: ForwardHeader,
    values: impl IntoIterator<Item = &'a [u8]>,
    trusted: &RangeSet,
) -> Resolution {
    let none = RangeSet::default();
    let trust = Trust {
        trusted,
        cloudflare: &none,
        operator_listed: false,
    };
    resolve_with(peer, header, values, std::iter::empty(), &trust)
}

/// Resolves the client address from the peer, the values of the configured header (in the
/// order the headers appeared) and those of `X-Forwarded-For` (read for `CF-Connecting-IP` and
/// `X-Real-IP`, see the module header; ignored when it is the configured header).
pub fn resolve_with<'a, 'b>(
    peer: IpAddr,
    header: ForwardHeader,
    values: impl IntoIterator<Item = &'a [u8]>,
    forwarded_for: impl IntoIterator<Item = &'b [u8]>,
    trust: &Trust<'_>,
) -> Resolution {
    let peer = canonical(peer);
    let peer_trusted = trust.trusted.contains(peer);
    let mut r = Resolution {
        client: peer,
        peer,
        peer_trusted,
        hops: vec![Hop {
            via: "TCP peer",
            raw: peer.to_string(),
            ip: Some(peer),
            trusted: peer_trusted,
        }],
        malformed: 0,
        reason: String::new(),
    };
    if !peer_trusted {
        r.reason = format!(
            "The peer {peer} is not a trusted proxy, so its {} header (if any) was ignored.",
            header.name()
        );
        return r;
    }
    match header {
        ForwardHeader::XForwardedFor | ForwardHeader::Forwarded => {
            let end = walk(&mut r, header, &tail_of(values), trust.trusted, None);
            conclude(&mut r, header, end);
        }
        ForwardHeader::CfConnectingIp => cloudflare(&mut r, values, forwarded_for, trust),
        ForwardHeader::XRealIp => real_ip(&mut r, values, forwarded_for, trust),
    }
    r
}

/// Walks a chain header right to left over trusted hops, recording each; with `cloudflare`,
/// stops at the first trusted hop in those ranges.
fn walk(
    r: &mut Resolution,
    header: ForwardHeader,
    joined: &str,
    trusted: &RangeSet,
    cloudflare: Option<&RangeSet>,
) -> End {
    let entries: Vec<&str> = match header {
        ForwardHeader::Forwarded => joined.split(',').map(forwarded_for).collect(),
        _ => joined.split(',').collect(),
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
        r.hops.push(Hop {
            via: header.name(),
            raw: raw.chars().take(64).collect(),
            ip,
            trusted: is_trusted,
        });
        match ip {
            None => r.malformed += 1,
            Some(ip) if is_trusted && cloudflare.is_some_and(|cf| cf.contains(ip)) => {
                return End::Cloudflare(ip);
            }
            Some(ip) if is_trusted => leftmost_trusted = Some(ip),
            Some(ip) => return End::Untrusted(ip),
        }
    }
    leftmost_trusted.map_or(End::Empty, End::AllTrusted)
}

/// Sets the client from a walk's end, as for a chain header configured on its own.
fn conclude(r: &mut Resolution, header: ForwardHeader, end: End) {
    let name = header.name();
    match end {
        End::Untrusted(ip) | End::Cloudflare(ip) => {
            r.client = ip;
            r.reason = format!(
                "{ip} is the first address from the right in {name} that is not a trusted proxy."
            );
        }
        End::AllTrusted(ip) => {
            r.client = ip;
            r.reason = format!(
                "Every address in {name} is trusted; the leftmost examined, {ip}, is used."
            );
        }
        End::Empty => {
            r.reason = format!(
                "The trusted peer sent no usable {name} header, so the peer {} is the client.",
                r.peer
            );
        }
    }
}

/// The last value of a single-value header, recorded as a hop.
fn single<'a>(
    r: &mut Resolution,
    header: ForwardHeader,
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Option<IpAddr> {
    let joined = tail_of(values);
    // The last one a trusted proxy set wins.
    let raw = joined.rsplit(',').next().unwrap_or("").trim();
    if raw.is_empty() {
        return None;
    }
    let ip = parse_entry(raw);
    r.hops.push(Hop {
        via: header.name(),
        raw: raw.chars().take(64).collect(),
        ip,
        trusted: false,
    });
    if ip.is_none() {
        r.malformed += 1;
    }
    ip
}

/// `CF-Connecting-IP`: believed only from a trusted Cloudflare hop.
fn cloudflare<'a, 'b>(
    r: &mut Resolution,
    values: impl IntoIterator<Item = &'a [u8]>,
    forwarded_for: impl IntoIterator<Item = &'b [u8]>,
    trust: &Trust<'_>,
) {
    let cf = ForwardHeader::CfConnectingIp.name();
    let edge = if trust.cloudflare.contains(r.peer) {
        r.peer
    } else {
        let end = walk(
            r,
            ForwardHeader::XForwardedFor,
            &tail_of(forwarded_for),
            trust.trusted,
            Some(trust.cloudflare),
        );
        match end {
            End::Cloudflare(hop) => hop,
            End::Empty => {
                r.reason = format!(
                    "The peer {} is not a Cloudflare address and sent no X-Forwarded-For naming one, so any {cf} was ignored (anyone reaching this proxy directly could choose it); the peer is the client.",
                    r.peer
                );
                return;
            }
            other => {
                conclude(r, ForwardHeader::XForwardedFor, other);
                r.reason = format!(
                    "The request did not come through Cloudflare: no trusted Cloudflare address handed it on, so any {cf} was ignored. {}",
                    r.reason
                );
                return;
            }
        }
    };
    if let Some(ip) = single(r, ForwardHeader::CfConnectingIp, values) {
        r.client = ip;
        r.reason = format!(
            "{edge} is a trusted Cloudflare address, so the {cf} it passed on names the client."
        );
    } else {
        r.client = edge;
        r.reason = format!(
            "{edge} is a trusted Cloudflare address but passed on no usable {cf}; the Cloudflare address is used."
        );
    }
}

/// `X-Real-IP`: believed only from a proxy the operator listed, and only when it agrees with
/// `X-Forwarded-For` (see the module header).
fn real_ip<'a, 'b>(
    r: &mut Resolution,
    values: impl IntoIterator<Item = &'a [u8]>,
    forwarded_for: impl IntoIterator<Item = &'b [u8]>,
    trust: &Trust<'_>,
) {
    let xri = ForwardHeader::XRealIp.name();
    let xff = ForwardHeader::XForwardedFor;
    let claimed = if trust.operator_listed {
        single(r, ForwardHeader::XRealIp, values)
    } else {
        None
    };
    let end = walk(r, xff, &tail_of(forwarded_for), trust.trusted, None);
    match (claimed, end) {
        (Some(ip), End::Untrusted(other)) if other != ip => {
            conclude(r, xff, End::Untrusted(other));
            r.reason = format!(
                "{xri} says {ip} but X-Forwarded-For, walked over trusted proxies, ends at {other}: a proxy that sets both writes the same address into both, so this {xri} came from the client and {other} is used."
            );
        }
        (Some(ip), _) => {
            r.client = ip;
            r.reason = format!(
                "The trusted proxy {} set {xri} to {ip}, and X-Forwarded-For does not contradict it.",
                r.peer
            );
        }
        (None, end) => {
            conclude(r, xff, end);
            r.reason = if trust.operator_listed {
                format!("The trusted peer sent no usable {xri}. {}", r.reason)
            } else {
                format!(
                    "{xri} is believed only from proxies you listed in proxy.trusted; the built-in default (loopback) does not say whether the proxy overwrites a {xri} the client sent, so it was ignored. {}",
                    r.reason
                )
            };
        }
    }
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

    static NONE: RangeSet = RangeSet(Vec::new());

    fn listed(set: &RangeSet) -> Trust<'_> {
        Trust {
            trusted: set,
            cloudflare: &NONE,
            operator_listed: true,
        }
    }

    fn xff(peer: &str, value: &str, set: &RangeSet) -> Resolution {
        resolve_with(
            ip(peer),
            ForwardHeader::XForwardedFor,
            [value.as_bytes()],
            [],
            &listed(set),
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
        let r = resolve_with(
            ip("127.0.0.1"),
            ForwardHeader::XForwardedFor,
            [&b"198.51.100.1"[..], &b"198.51.100.2"[..]],
            [],
            &listed(&trusted(&["loopback"])),
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
            resolve_with(
                ip("127.0.0.1"),
                ForwardHeader::XForwardedFor,
                [],
                [],
                &listed(&set)
            )
            .client,
            ip("127.0.0.1")
        );
    }

    #[test]
    fn rfc7239_forwarded_with_quotes_ports_and_ipv6() {
        let set = trusted(&["loopback"]);
        let value = b"for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\";proto=https, for=127.0.0.1";
        let r = resolve_with(
            ip("127.0.0.1"),
            ForwardHeader::Forwarded,
            [&value[..]],
            [],
            &listed(&set),
        );
        assert_eq!(r.client, ip("2001:db8:cafe::17"));
        let hidden = resolve_with(
            ip("127.0.0.1"),
            ForwardHeader::Forwarded,
            [&b"for=_hidden, for=198.51.100.3"[..]],
            [],
            &listed(&set),
        );
        assert_eq!(hidden.client, ip("198.51.100.3"));
    }

    fn one(
        peer: &str,
        header: ForwardHeader,
        value: &str,
        forwarded_for: &str,
        trust: &Trust<'_>,
    ) -> IpAddr {
        let xff: &[&[u8]] = if forwarded_for.is_empty() {
            &[]
        } else {
            &[forwarded_for.as_bytes()]
        };
        resolve_with(
            ip(peer),
            header,
            [value.as_bytes()],
            xff.iter().copied(),
            trust,
        )
        .client
    }

    #[test]
    fn cf_connecting_ip_is_believed_only_from_a_trusted_cloudflare_hop() {
        let cloudflare = trusted(&["173.245.48.0/20"]);
        let set = trusted(&["loopback", "173.245.48.0/20"]);
        let trust = Trust {
            trusted: &set,
            cloudflare: &cloudflare,
            operator_listed: false,
        };
        let cf = ForwardHeader::CfConnectingIp;
        // Cloudflare is the peer.
        assert_eq!(
            one("173.245.48.9", cf, "198.51.100.4", "", &trust),
            ip("198.51.100.4")
        );
        // Cloudflare -> nginx on loopback, which appended the edge's address.
        assert_eq!(
            one("127.0.0.1", cf, "198.51.100.4", "173.245.48.9", &trust),
            ip("198.51.100.4")
        );
        // Straight to nginx with a chosen header: nginx appended the real address.
        assert_eq!(
            one(
                "127.0.0.1",
                cf,
                "198.51.100.4",
                "173.245.48.9, 203.0.113.66",
                &trust
            ),
            ip("203.0.113.66")
        );
        // Straight to the origin from loopback without X-Forwarded-For: the peer.
        assert_eq!(
            one("127.0.0.1", cf, "198.51.100.4", "", &trust),
            ip("127.0.0.1")
        );
        // A Cloudflare address that is not trusted is not believed.
        let only_loopback = trusted(&["loopback"]);
        let untrusted_cf = Trust {
            trusted: &only_loopback,
            ..trust
        };
        assert_eq!(
            one(
                "127.0.0.1",
                cf,
                "198.51.100.4",
                "173.245.48.9",
                &untrusted_cf
            ),
            ip("173.245.48.9")
        );
    }

    #[test]
    fn x_real_ip_needs_an_operator_listed_proxy_and_agreement_with_x_forwarded_for() {
        let set = trusted(&["loopback"]);
        let xri = ForwardHeader::XRealIp;
        let default = Trust {
            trusted: &set,
            cloudflare: &NONE,
            operator_listed: false,
        };
        assert_eq!(
            one("127.0.0.1", xri, "198.51.100.4", "", &default),
            ip("127.0.0.1"),
            "the built-in loopback default does not believe X-Real-IP"
        );
        assert_eq!(
            one("127.0.0.1", xri, "198.51.100.4", "203.0.113.5", &default),
            ip("203.0.113.5"),
            "X-Forwarded-For decides instead"
        );
        let listed = listed(&set);
        assert_eq!(
            one("127.0.0.1", xri, "198.51.100.4", "", &listed),
            ip("198.51.100.4")
        );
        assert_eq!(
            one("127.0.0.1", xri, "198.51.100.4", "198.51.100.4", &listed),
            ip("198.51.100.4")
        );
        assert_eq!(
            one("127.0.0.1", xri, "198.51.100.4", "203.0.113.5", &listed),
            ip("203.0.113.5"),
            "a disagreeing X-Forwarded-For wins"
        );
    }

    #[test]
    fn ports_and_mapped_addresses() {
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
        fn any_header_resolves_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2000), xff in proptest::collection::vec(any::<u8>(), 0..2000), which in 0usize..4, listed in any::<bool>()) {
            let set = trusted(&["loopback", "private"]);
            let trust = Trust { trusted: &set, cloudflare: &set, operator_listed: listed };
            let r = resolve_with(ip("127.0.0.1"), ForwardHeader::ALL[which], [bytes.as_slice()], [xff.as_slice()], &trust);
            prop_assert!(r.hops.len() <= 2 * MAX_HOPS + 2);
        }
    }
}
